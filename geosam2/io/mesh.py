"""Load any trimesh-readable mesh file into one normalised triangle mesh.

The normalised frame is the official GeoSAM2 one: Z up (glTF and OBJ files are
Y-up and are rotated, as Blender imports them for the release's renders),
bounding-box centre at the origin, longest bounding-box edge 1.
Faces keep the order and count of the file (loaded with ``process=False``), so
per-face labels computed here index the file's own faces; polygons of more than
three corners become triangles in place (a quad: two faces).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, replace

import numpy as np
import trimesh

from ..errors import EmptyMeshError, GeoSAM2Error, MeshLoadError, MeshTooLargeError

MESH_EXTENSIONS = (".glb", ".gltf", ".obj", ".ply", ".stl", ".off")
Y_UP_EXTENSIONS = (".glb", ".gltf", ".obj")  # rotated Y-up -> Z-up on load
DEFAULT_MAX_FACES = 2_000_000
MAX_FACES_ENV = "GEOSAM2_MAX_FACES"
Y_UP_TO_Z_UP = np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangle mesh in the normalised frame.

    Attributes
    ----------
    vertices : (N, 3) float64
        Vertex positions in the normalised frame.
    faces : (F, 3) int64
        Vertex indices per face, in the file's face order.
    part_ids : (F,) int32
        Index of the scene geometry each face came from (0 for single meshes).
    part_names : tuple of str
        Name of each scene geometry, indexed by part id.
    to_file : (4, 4) float64
        Homogeneous transform from the normalised frame back to the file's frame.
    face_colors : (F, 4) uint8 or None
        RGBA colour per face when the file carries vertex or face colours
        (from the first vertex of each face for vertex colours).
    visuals : tuple of (int, trimesh visual)
        Per scene geometry (indexed by ``part_ids``): the index of its first vertex
        in ``vertices`` and its trimesh visual as read (UVs, material, textures,
        vertex colours), for exports; empty for meshes built from arrays.
    name : str
        File stem, for reports and exports.
    """

    vertices: np.ndarray
    faces: np.ndarray
    part_ids: np.ndarray
    part_names: tuple = ()
    to_file: np.ndarray = field(default_factory=lambda: np.eye(4))
    face_colors: np.ndarray | None = None
    name: str = "mesh"
    visuals: tuple = ()

    @property
    def num_faces(self) -> int:
        return len(self.faces)

    @functools.cached_property
    def graph(self):
        """The welded face adjacency (`geosam2.geometry.facegraph.face_graph`), built once: the
        session's surface, the geometry segmenter and the clean-up share it."""
        from ..geometry.facegraph import face_graph

        return face_graph(self)

    @functools.cached_property
    def triangles(self) -> np.ndarray:
        """(F, 3, 3) float64 corner positions per face."""
        return self.vertices[self.faces]

    @functools.cached_property
    def face_normals(self) -> np.ndarray:
        """(F, 3) float64 unit normals by the right-hand rule (zero for degenerate faces)."""
        return triangle_normals(self.triangles)

    @functools.cached_property
    def face_areas(self) -> np.ndarray:
        """(F,) float64 face areas in normalised units squared."""
        t = self.triangles
        return 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)

    @functools.cached_property
    def centroids(self) -> np.ndarray:
        """(F, 3) float64 face centroids."""
        return self.triangles.mean(axis=1)

    @property
    def bbox_size(self) -> np.ndarray:
        """(3,) float64 bounding-box extents (longest is 1 after normalisation)."""
        return self.vertices.max(axis=0) - self.vertices.min(axis=0)

    def file_vertices(self) -> np.ndarray:
        """(N, 3) float64 vertex positions in the file's own frame and units."""
        return transform_points(self.vertices, self.to_file)

    def to_trimesh(self, in_file_frame: bool = False) -> trimesh.Trimesh:
        """A trimesh.Trimesh with the same faces in the same order."""
        vertices = self.file_vertices() if in_file_frame else self.vertices
        return trimesh.Trimesh(vertices, self.faces, process=False)


def face_limit(environ=os.environ) -> int:
    """The largest face count a mesh may have: the environment variable
    GEOSAM2_MAX_FACES when set, else DEFAULT_MAX_FACES."""
    text = environ.get(MAX_FACES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_FACES
    try:
        limit = int(text.replace("_", ""))
    except ValueError:
        limit = 0
    if limit < 1:
        raise GeoSAM2Error(f"{MAX_FACES_ENV}={text!r} is not a positive whole number of faces: set it to e.g. 3000000 or unset it.")
    return limit


def triangle_normals(triangles: np.ndarray) -> np.ndarray:
    """(T, 3) float64 unit normal of each of (T, 3, 3) `triangles` by the right-hand
    rule (zero for a degenerate one)."""
    n = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    return np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (4, 4) homogeneous transform to (N, 3) points."""
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def normalising_transform(vertices: np.ndarray) -> np.ndarray:
    """(4, 4) transform moving the bbox centre of (N, 3) `vertices` to the origin and
    scaling the longest bbox edge to 1."""
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    scale = 1.0 / float((hi - lo).max())
    m = np.eye(4)
    m[:3, :3] *= scale
    m[:3, 3] = -scale * 0.5 * (lo + hi)
    return m


def from_arrays(
    vertices: np.ndarray,
    faces: np.ndarray,
    part_ids: np.ndarray | None = None,
    y_up: bool = False,
    face_colors: np.ndarray | None = None,
    name: str = "mesh",
    part_names: tuple = (),
    max_faces: int | None = None,
    visuals: tuple = (),
) -> Mesh:
    """Validate and normalise a triangle mesh given as arrays in its file frame.

    Raises EmptyMeshError for no faces or only degenerate faces, MeshTooLargeError
    above `max_faces` (default: `face_limit()`), MeshLoadError for non-finite
    coordinates or bad indices.
    """
    max_faces = face_limit() if max_faces is None else max_faces
    vertices = np.asarray(vertices, np.float64).reshape(-1, 3)
    faces = np.asarray(faces, np.int64).reshape(-1, 3)
    if len(faces) == 0:
        raise EmptyMeshError(f"'{name}' has no triangles (a point cloud or an empty file?): upload a mesh with faces.")
    if len(faces) > max_faces:
        raise MeshTooLargeError(
            f"'{name}' has {len(faces):,} faces, more than the limit of {max_faces:,}: "
            "decimate it first (e.g. Blender's Decimate modifier) or raise the limit "
            f"(`geosam2 ... --max-faces N` or the environment variable {MAX_FACES_ENV}=N)."
        )
    if not np.isfinite(vertices).all():
        raise MeshLoadError(f"'{name}' has vertices with NaN or infinite coordinates: repair the file.")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise MeshLoadError(f"'{name}' has faces that index missing vertices: the file is corrupt.")
    frame = Y_UP_TO_Z_UP if y_up else np.eye(4)
    z_up = transform_points(vertices, frame)
    used = z_up[np.unique(faces)]
    if (used.max(axis=0) - used.min(axis=0)).max() <= 0:
        raise EmptyMeshError(f"'{name}' is degenerate: all its vertices coincide.")
    normalise = normalising_transform(used)
    mesh = Mesh(
        vertices=transform_points(z_up, normalise),
        faces=faces,
        part_ids=np.zeros(len(faces), np.int32) if part_ids is None else np.asarray(part_ids, np.int32),
        part_names=tuple(part_names) or ("part_0",),
        to_file=np.linalg.inv(normalise @ frame),
        face_colors=face_colors,
        name=name,
        visuals=visuals,
    )
    if not (mesh.face_areas > 0).any():
        raise EmptyMeshError(f"'{name}' is degenerate: every triangle has zero area.")
    return mesh


def _face_colors(geometry: trimesh.Trimesh) -> np.ndarray | None:
    """(F, 4) uint8 colours of a trimesh when it carries vertex or face colours."""
    visual = geometry.visual
    if visual.kind == "vertex":
        return np.asarray(visual.vertex_colors, np.uint8)[geometry.faces[:, 0]]
    if visual.kind == "face":
        return np.asarray(visual.face_colors, np.uint8)
    return None


PLY_HEADER_LIMIT = 1 << 16  # bytes: a PLY header longer than this is not one
PLY_TYPES = {  # PLY scalar type -> numpy type code (byte order added per file)
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2", "ushort": "u2",
    "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4", "float": "f4", "float32": "f4",
    "double": "f8", "float64": "f8",
}


@dataclass(frozen=True)
class PlyElement:
    """One `element` of a PLY header: its name, count and properties as
    (name, value type, list-count type or None for a scalar property)."""

    name: str
    count: int
    properties: tuple = ()


@dataclass(frozen=True)
class PlyHeader:
    """What a PLY header declares, and where the data after it starts."""

    format: str  # "ascii", "binary_little_endian" or "binary_big_endian"
    elements: tuple  # of PlyElement, in file order
    data_start: int  # byte offset of the first element's data


def read_ply_header(path: str | os.PathLike) -> PlyHeader:
    """The header of a PLY file. Raises MeshLoadError when the file does not start
    with a well-formed PLY header."""
    base = os.path.basename(path)
    with open(path, "rb") as f:
        head = f.read(PLY_HEADER_LIMIT)
    end = head.find(b"end_header")
    if not head.startswith(b"ply") or end < 0:
        raise MeshLoadError(f"'{base}' does not start with a PLY header (ply ... end_header): the file is corrupt.")
    newline = head.find(b"\n", end)
    fmt, elements = "", []
    for line in head[:end].decode("ascii", "replace").splitlines():
        words = line.split()
        try:
            if words[:1] == ["format"]:
                fmt = words[1]
            elif words[:1] == ["element"]:
                elements.append(PlyElement(words[1], int(words[2])))
            elif words[:1] == ["property"]:  # "property TYPE NAME" or "property list COUNT_TYPE TYPE NAME"
                listed = words[1] == "list"
                prop = (words[4], PLY_TYPES[words[3]], PLY_TYPES[words[2]]) if listed else (words[2], PLY_TYPES[words[1]], None)
                elements[-1] = replace(elements[-1], properties=elements[-1].properties + (prop,))
        except (IndexError, ValueError, KeyError) as exc:
            raise MeshLoadError(f"'{base}' has a malformed PLY header line: '{line.strip()}'.") from exc
    return PlyHeader(fmt, tuple(elements), len(head) if newline < 0 else newline + 1)


def ply_face_count(path: str | os.PathLike) -> int:
    """Number of faces (polygons) a PLY file's header declares (0 without a face element).
    Raises MeshLoadError when the file does not start with a PLY header."""
    return next((e.count for e in read_ply_header(path).elements if e.name == "face"), 0)


def _ply_truncated(base: str, element: PlyElement) -> MeshLoadError:
    what = {"vertex": "vertices", "face": "faces"}.get(element.name, f"'{element.name}' elements")
    return MeshLoadError(f"'{base}' declares {element.count:,} {what} but holds fewer: the file is truncated or corrupt.")


def _read_ply_lists(data: bytes, offset: int, element: PlyElement, order: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The first list property of every row of a binary PLY `element` that has list
    properties (a face's corners): (L,) values of all rows in row order, (R,)
    lengths per row, and the offset after the element. Rows are walked in Python
    (only their lengths: ~1 s per million), the values gathered with numpy."""
    byteorder = "big" if order == ">" else "little"
    sizes = [(np.dtype(kind).itemsize, None if count is None else np.dtype(count).itemsize) for _, kind, count in element.properties]
    first = next(p for p, (_, count_size) in enumerate(sizes) if count_size is not None)
    starts, lengths = [], []
    for _ in range(element.count):
        for p, (size, count_size) in enumerate(sizes):
            if count_size is None:
                offset += size
                continue
            length = int.from_bytes(data[offset : offset + count_size], byteorder)
            offset += count_size
            if p == first:
                starts.append(offset)
                lengths.append(length)
            offset += length * size
    if offset > len(data):  # counts read past the end are 0: the walk still overshoots
        raise MeshLoadError(f"holds fewer {element.name} rows than declared")
    lengths = np.asarray(lengths, np.int64)
    size, kind = sizes[first][0], element.properties[first][1]
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    item = np.repeat(np.asarray(starts, np.int64), lengths) + size * within
    raw = np.frombuffer(data, np.uint8)[item[:, None] + np.arange(size)]
    return raw.view(order + kind).reshape(-1), lengths, offset


def _fan_triangles(corners: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(T, 3) int64 fan triangles (c0, ci, ci+1) of polygons given as (L,) `corners`
    of all polygons in order and (P,) corner counts `lengths`; polygons of fewer
    than 3 corners give none."""
    fans = np.maximum(lengths - 2, 0)
    first = np.repeat(np.cumsum(lengths) - lengths, fans)
    step = 1 + np.arange(fans.sum()) - np.repeat(np.cumsum(fans) - fans, fans)
    return np.stack([corners[first], corners[first + step], corners[first + step + 1]], axis=1).astype(np.int64)


def _read_binary_ply(path: str) -> trimesh.Trimesh:
    """A binary PLY mesh whose polygons may have any number of corners (trimesh reads
    only lists of one length), fan-triangulated in file order; vertex colours kept."""
    base = os.path.basename(path)
    header = read_ply_header(path)
    order = ">" if header.format == "binary_big_endian" else "<"
    with open(path, "rb") as f:
        f.seek(header.data_start)
        data = f.read()
    offset, rows = 0, {}
    for element in header.elements:
        if all(count is None for _, _, count in element.properties):  # fixed size: one read
            dtype = np.dtype([(name, order + kind) for name, kind, _ in element.properties])
            if len(data) - offset < dtype.itemsize * element.count:
                raise _ply_truncated(base, element)
            rows[element.name] = np.frombuffer(data, dtype, element.count, offset)
            offset += dtype.itemsize * element.count
        else:
            try:
                *rows[element.name], offset = _read_ply_lists(data, offset, element, order)
            except MeshLoadError:
                raise _ply_truncated(base, element) from None
    if offset != len(data):
        raise MeshLoadError(f"'{base}' has {len(data) - offset:,} bytes after its declared elements: the file is corrupt.")
    vertex = rows.get("vertex")
    if vertex is None or not {"x", "y", "z"} <= set(vertex.dtype.names or ()):
        raise MeshLoadError(f"'{base}' has no vertex element with x, y, z: it is not a PLY mesh.")
    vertices = np.stack([vertex[c] for c in "xyz"], axis=1).astype(np.float64)
    faces = _fan_triangles(*rows["face"]) if "face" in rows else np.zeros((0, 3), np.int64)
    colours = None
    if {"red", "green", "blue"} <= set(vertex.dtype.names):
        alpha = vertex["alpha"] if "alpha" in vertex.dtype.names else np.full(len(vertex), 255)
        colours = np.stack([vertex["red"], vertex["green"], vertex["blue"], alpha], axis=1).astype(np.uint8)
    return trimesh.Trimesh(vertices, faces, vertex_colors=colours, process=False)


def _ply_polygons_read(loaded: trimesh.Trimesh) -> int:
    """How many polygons trimesh read from a PLY file, before triangulation."""
    data = loaded.metadata.get("_ply_raw", {}).get("face", {}).get("data")
    if isinstance(data, dict):  # ASCII files: one array per face property
        data = next(iter(data.values()), None)
    return len(loaded.faces) if data is None else len(data)


def _check_stl_size(path: str) -> None:
    """Raise MeshLoadError when a binary STL file's size does not match the
    triangle count of its header (ASCII STL files, starting "solid ... facet", pass)."""
    base = os.path.basename(path)
    with open(path, "rb") as f:
        head = f.read(1024)
    size = os.path.getsize(path)
    if head.lstrip()[:5].lower() == b"solid" and (b"facet" in head or b"endsolid" in head):
        return
    if size < 84:
        raise MeshLoadError(f"'{base}' is {size} bytes, shorter than a binary STL header (84 bytes): the file is truncated or corrupt.")
    declared = int(np.frombuffer(head, "<u4", 1, 80)[0])
    if size != 84 + 50 * declared:
        raise MeshLoadError(
            f"'{base}' is a binary STL that declares {declared:,} triangles ({84 + 50 * declared:,} bytes) "
            f"but is {size:,} bytes long: the file is truncated or corrupt."
        )


def check_input_file(path: str | os.PathLike) -> None:
    """Raise MeshLoadError when `path` is not an existing file (a folder, or nothing)."""
    if os.path.isdir(path):
        raise MeshLoadError(f"'{os.fspath(path)}' is a directory, not a mesh file: give the path of a file inside it.")
    if not os.path.isfile(path):
        raise MeshLoadError(f"File '{os.fspath(path)}' does not exist.")


def _read_file(path: str) -> trimesh.Trimesh | trimesh.Scene:
    """Whatever trimesh reads from `path`, with the checks trimesh does not make:
    an STL's size against its header, a PLY's polygon count against its header
    (binary PLY files with polygons of several sizes are read by `_read_binary_ply`)."""
    base = os.path.basename(path)
    extension = os.path.splitext(path)[1].lower()
    if extension == ".stl":
        _check_stl_size(path)
    try:
        loaded = trimesh.load(path, process=False, maintain_order=True)
    except Exception as exc:  # trimesh raises many types for corrupt files
        if extension == ".ply" and read_ply_header(path).format.startswith("binary"):
            return _read_binary_ply(path)  # its own clear error for truncated files
        raise MeshLoadError(
            f"Could not read '{base}' as a mesh ({type(exc).__name__}: {exc}). Supported formats: {', '.join(MESH_EXTENSIONS)}."
        ) from exc
    if extension == ".ply" and isinstance(loaded, trimesh.Trimesh):  # trimesh read its header
        declared, read = ply_face_count(path), _ply_polygons_read(loaded)
        if read != declared:
            raise MeshLoadError(f"'{base}' declares {declared:,} faces but holds {read:,}: the file is truncated or corrupt.")
    return loaded


def load_mesh(path: str | os.PathLike, max_faces: int | None = None) -> Mesh:
    """Load a mesh file (GLB/GLTF/OBJ/PLY/STL/OFF), flatten its scene and normalise it.

    Scene geometries are concatenated in scene-graph order with their world
    transforms; `part_ids` records which geometry each face came from.
    glTF and OBJ files are Y-up and are rotated to Z-up (Blender's import, which
    the release's renders use: ``geosam2_render.py``). Polygons with more than three
    corners (PLY, OBJ, OFF) are split into triangles, so faces are triangles in
    the file's polygon order. `max_faces` defaults to `face_limit()`.
    """
    path = os.fspath(path)
    name = os.path.splitext(os.path.basename(path))[0]
    check_input_file(path)
    loaded = _read_file(path)
    if isinstance(loaded, trimesh.Scene):
        pieces, names = [], []
        for node in loaded.graph.nodes_geometry:
            matrix, geometry_name = loaded.graph[node]
            geometry = loaded.geometry[geometry_name]
            if isinstance(geometry, trimesh.Trimesh) and len(geometry.faces):
                pieces.append((geometry, matrix))
                names.append(str(node))
    elif isinstance(loaded, trimesh.Trimesh) and len(loaded.faces):
        pieces, names = [(loaded, np.eye(4))], [name]
    else:
        pieces, names = [], []
    if not pieces:
        raise EmptyMeshError(
            f"'{os.path.basename(path)}' holds no triangles (a point cloud, lines or an empty scene): "
            "upload a triangle mesh."
        )
    offsets = np.cumsum([0] + [len(g.vertices) for g, _ in pieces])
    vertices = np.concatenate([transform_points(np.asarray(g.vertices, np.float64), m) for g, m in pieces])
    faces = np.concatenate([np.asarray(g.faces, np.int64) + o for (g, _), o in zip(pieces, offsets)])
    part_ids = np.concatenate([np.full(len(g.faces), i, np.int32) for i, (g, _) in enumerate(pieces)])
    colours = [_face_colors(g) for g, _ in pieces]
    face_colors = np.concatenate(colours) if all(c is not None for c in colours) else None
    return from_arrays(
        vertices,
        faces,
        part_ids,
        y_up=path.lower().endswith(Y_UP_EXTENSIONS),
        face_colors=face_colors,
        name=name,
        part_names=tuple(names),
        max_faces=max_faces,
        visuals=tuple(zip(offsets[:-1].tolist(), (g.visual for g, _ in pieces))),
    )


def labels_from_colors(face_colors: np.ndarray) -> np.ndarray:
    """(F,) int32 labels 0..K-1, one per distinct RGB(A) colour of (F, C) `face_colors`,
    numbered in order of first appearance."""
    _, first, inverse = np.unique(face_colors, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse.reshape(-1)].astype(np.int32)
