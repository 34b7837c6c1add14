"""Read mesh files with trimesh, with the checks trimesh does not make.

PLY: the header's polygon count against what was read, binary files with
polygons of several sizes read here (trimesh reads only lists of one length).
STL: the file size against the header's triangle count. glTF: every declared
size against the bytes the file holds, before trimesh allocates anything
(`geosam2.io.gltfguard`). Every file: exists, is not a folder, is not empty;
unreadable files get a sentence saying what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import trimesh

from ..errors import GeoSAM2Error, MeshLoadError
from .gltfguard import read_gltf

MESH_EXTENSIONS = (".glb", ".gltf", ".obj", ".ply", ".stl", ".off")
TEXT_EXTENSIONS = (".obj", ".off")  # text formats: a NUL byte in them means a corrupt file
TEXT_PROBE_BYTES = 1 << 16


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
    """Raise MeshLoadError when `path` is not an existing, non-empty file (a folder,
    nothing, or 0 bytes)."""
    if os.path.isdir(path):
        raise MeshLoadError(f"'{os.fspath(path)}' is a directory, not a mesh file: give the path of a file inside it.")
    if not os.path.isfile(path):
        raise MeshLoadError(f"File '{os.fspath(path)}' does not exist.")
    if os.path.getsize(path) == 0:
        raise MeshLoadError(f"'{os.path.basename(path)}' is empty (0 bytes): the upload or copy was cut short; give the file again.")


def _check_text(path: str) -> None:
    """Raise MeshLoadError when a text mesh format holds binary data (NUL bytes)."""
    with open(path, "rb") as f:
        head = f.read(TEXT_PROBE_BYTES)
    if b"\0" in head:
        raise MeshLoadError(
            f"Could not read '{os.path.basename(path)}': it holds binary data where a text {os.path.splitext(path)[1]} file "
            "is expected; the file is corrupt or not in that format, export it again from your 3D tool."
        )


def read_file(path: str, max_faces: int) -> tuple[trimesh.Trimesh | trimesh.Scene, list[str]]:
    """Whatever trimesh reads from `path`, checked (see the module docstring), and
    notes on appearance the reader leaves out (glTF files). glTF files beyond
    `max_faces` are refused before they are read."""
    base = os.path.basename(path)
    extension = os.path.splitext(path)[1].lower()
    if extension == ".stl":
        _check_stl_size(path)
    if extension in TEXT_EXTENSIONS:
        _check_text(path)
    try:
        if extension in (".glb", ".gltf"):
            return read_gltf(path, max_faces)
        loaded = trimesh.load(path, process=False, maintain_order=True)
    except GeoSAM2Error:
        raise
    except Exception as exc:  # trimesh raises many types for corrupt files
        if extension == ".ply" and read_ply_header(path).format.startswith("binary"):
            return _read_binary_ply(path), []  # its own clear error for truncated files
        raise MeshLoadError(
            f"Could not read '{base}' as a {extension.lstrip('.').upper()} mesh ({exc}): the file is corrupt or not in "
            f"that format; export it again from your 3D tool. Supported formats: {', '.join(MESH_EXTENSIONS)}."
        ) from exc
    if extension == ".ply" and isinstance(loaded, trimesh.Trimesh):  # trimesh read its header
        declared, read = ply_face_count(path), _ply_polygons_read(loaded)
        if read != declared:
            raise MeshLoadError(f"'{base}' declares {declared:,} faces but holds {read:,}: the file is truncated or corrupt.")
    return loaded, []
