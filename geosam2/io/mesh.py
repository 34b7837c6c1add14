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
import warnings
from dataclasses import dataclass, field

import numpy as np
import trimesh

from ..errors import EmptyMeshError, MeshLoadError
from .limits import face_limit, too_many_faces
from .meshreaders import MESH_EXTENSIONS, check_input_file, ply_face_count, read_file  # noqa: F401  for pointreaders
Y_UP_EXTENSIONS = (".glb", ".gltf", ".obj")  # rotated Y-up -> Z-up on load
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
    notes : tuple of str
        What the loader could not keep of the file's appearance (e.g. a KTX2 texture),
        one sentence each, for the user.
    """

    vertices: np.ndarray
    faces: np.ndarray
    part_ids: np.ndarray
    part_names: tuple = ()
    to_file: np.ndarray = field(default_factory=lambda: np.eye(4))
    face_colors: np.ndarray | None = None
    name: str = "mesh"
    visuals: tuple = ()
    notes: tuple = ()

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
    notes: tuple = (),
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
        raise too_many_faces(name, len(faces), max_faces)
    if not np.isfinite(vertices).all():
        raise MeshLoadError(f"'{name}' has vertices with NaN or infinite coordinates: repair the file.")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise MeshLoadError(f"'{name}' has faces that index missing vertices: the file is corrupt.")
    frame = Y_UP_TO_Z_UP if y_up else np.eye(4)
    z_up = transform_points(vertices, frame)
    referenced = np.zeros(len(vertices), bool)
    referenced[faces] = True  # not np.unique(faces): its hash takes seconds at 10M faces
    used = z_up[referenced]
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
        notes=tuple(notes),
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


def _pieces(loaded: trimesh.Trimesh | trimesh.Scene, name: str) -> tuple[list, list]:
    """(trimesh geometry, (4, 4) world transform) and name of every geometry with
    faces, in scene-graph order (a single mesh: itself, named `name`)."""
    if isinstance(loaded, trimesh.Trimesh):
        return ([(loaded, np.eye(4))], [name]) if len(loaded.faces) else ([], [])
    pieces, names = [], []
    for node in loaded.graph.nodes_geometry if isinstance(loaded, trimesh.Scene) else ():
        matrix, geometry_name = loaded.graph[node]
        geometry = loaded.geometry[geometry_name]
        if isinstance(geometry, trimesh.Trimesh) and len(geometry.faces):
            pieces.append((geometry, matrix))
            names.append(str(node))
    return pieces, names


def _no_triangles(loaded, base: str) -> EmptyMeshError:
    """The error for a file without triangles, saying when it is a point cloud."""
    geometries = loaded.geometry.values() if isinstance(loaded, trimesh.Scene) else [loaded]
    points = sum(len(getattr(g, "vertices", ())) for g in geometries)
    if points:
        return EmptyMeshError(
            f"'{base}' holds {points:,} points and no triangles: it is a point cloud, not a mesh. "
            "Segment it as a point cloud (.ply, .pcd, .xyz or .npy; `geosam2 segment` and the demo accept them) "
            "or give a triangle mesh."
        )
    return EmptyMeshError(f"'{base}' holds no triangles (lines or an empty scene): give a triangle mesh.")


def load_mesh(path: str | os.PathLike, max_faces: int | None = None) -> Mesh:
    """Load a mesh file (GLB/GLTF/OBJ/PLY/STL/OFF), flatten its scene and normalise it.

    Scene geometries are concatenated in scene-graph order with their world
    transforms; `part_ids` records which geometry each face came from.
    glTF and OBJ files are Y-up and are rotated to Z-up (Blender's import, which
    the release's renders use: ``geosam2_render.py``). Polygons with more than three
    corners (PLY, OBJ, OFF) are split into triangles, so faces are triangles in
    the file's polygon order. `max_faces` defaults to `face_limit()`; glTF files
    are checked against it (and against the bytes they hold, see
    `geosam2.io.gltfguard`) before they are read. What the loader could not keep
    of the appearance is in `Mesh.notes`.
    """
    path = os.fspath(path)
    name = os.path.splitext(os.path.basename(path))[0]
    max_faces = face_limit() if max_faces is None else max_faces
    check_input_file(path)
    loaded, notes = read_file(path, max_faces)
    for note in notes:
        warnings.warn(f"{os.path.basename(path)}: {note}", stacklevel=2)
    pieces, names = _pieces(loaded, name)
    if not pieces:
        raise _no_triangles(loaded, os.path.basename(path))
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
        notes=notes,
    )


def labels_from_colors(face_colors: np.ndarray) -> np.ndarray:
    """(F,) int32 labels 0..K-1, one per distinct RGB(A) colour of (F, C) `face_colors`,
    numbered in order of first appearance."""
    _, first, inverse = np.unique(face_colors, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse.reshape(-1)].astype(np.int32)
