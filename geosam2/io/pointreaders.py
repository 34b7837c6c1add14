"""Read point sets from files, and load a mesh or a point cloud, whichever a file holds.

Readers: ``.ply`` (ASCII or binary, any extra properties ignored; ``nx ny nz`` read
as normals, ``red green blue [alpha]`` as colours; a PLY with faces gives its
vertices), ``.pcd`` (ASCII or binary, fields ``x y z [normal_x normal_y normal_z]
[rgb|rgba]``), ``.xyz`` / ``.xyzn`` / ``.xyzrgb`` text (columns x y z, then normals
for ``.xyzn`` or colours for ``.xyzrgb``; a plain ``.xyz`` with 6+ columns reads
columns 3-5 as normals), ``.npy`` ((N, 3) positions or (N, 6) positions + normals).
Missing normals are estimated (see :mod:`geosam2.geometry.normals`). :func:`load_geometry`
loads either kind of file: a mesh when it has faces, else a point cloud.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import MeshLoadError
from .mesh import MESH_EXTENSIONS, Mesh, check_input_file, load_mesh, ply_face_count
from ..geometry.normals import NORMAL_NEIGHBOURS
from .pointcloud import DEFAULT_MAX_POINTS, PointCloud, point_cloud_from_arrays

POINT_CLOUD_EXTENSIONS = (".ply", ".pcd", ".xyz", ".xyzn", ".xyzrgb", ".npy")


def _fields(data, names: tuple[str, ...]) -> np.ndarray | None:
    """(N, len(names)) float64 columns of `data` (a structured array, or a dict of
    columns), or None if any is missing."""
    present = data.keys() if isinstance(data, dict) else (data.dtype.names or ())
    if not all(n in present for n in names):
        return None
    return np.stack([np.asarray(data[n], np.float64).reshape(-1) for n in names], axis=1)


def _read_ply(path: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    import trimesh

    loaded = trimesh.load(path, file_type="ply", process=False)
    vertex = loaded.metadata.get("_ply_raw", {}).get("vertex", {}).get("data")
    if vertex is None:
        raise MeshLoadError(f"'{os.path.basename(path)}' has no vertex element with x, y, z.")
    points = _fields(vertex, ("x", "y", "z"))
    if points is None:
        raise MeshLoadError(f"'{os.path.basename(path)}' has no x, y, z vertex properties.")
    normals = _fields(vertex, ("nx", "ny", "nz"))
    rgb = _fields(vertex, ("red", "green", "blue"))
    alpha = _fields(vertex, ("alpha",))
    colors = None if rgb is None else np.concatenate([rgb, np.full((len(rgb), 1), 255.0) if alpha is None else alpha], 1)
    return points, normals, None if colors is None else colors.astype(np.uint8)


PCD_TYPES = {("F", 4): "f4", ("F", 8): "f8", ("I", 1): "i1", ("I", 2): "i2", ("I", 4): "i4", ("I", 8): "i8",
             ("U", 1): "u1", ("U", 2): "u2", ("U", 4): "u4", ("U", 8): "u8"}  # fmt: skip


def _read_pcd(path: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Read an ASCII or binary PCD (v0.7) file; binary_compressed is refused."""
    base = os.path.basename(path)
    with open(path, "rb") as f:
        header = {}
        while True:
            line = f.readline()
            if not line:
                raise MeshLoadError(f"'{base}' ends before its DATA line: not a PCD file.")
            words = line.decode("ascii", "replace").split()
            if not words or words[0].startswith("#"):
                continue
            header[words[0].upper()] = words[1:]
            if words[0].upper() == "DATA":
                break
        body = f.read()
    try:
        names = header["FIELDS"]
        sizes = [int(s) for s in header["SIZE"]]
        types = header["TYPE"]
        counts = [int(c) for c in header.get("COUNT", ["1"] * len(names))]
        num = int(header.get("POINTS", header.get("WIDTH"))[0])
    except (KeyError, ValueError, TypeError) as exc:
        raise MeshLoadError(f"'{base}' has an incomplete PCD header ({exc}).") from exc
    mode = header["DATA"][0].lower()
    columns = [(n, PCD_TYPES[(t.upper(), s)], c) for n, s, t, c in zip(names, sizes, types, counts)]
    dtype = np.dtype([(n, "<" + t, (c,)) if c > 1 else (n, "<" + t) for n, t, c in columns])
    if mode == "ascii":
        table = np.loadtxt(body.decode("ascii").splitlines(), ndmin=2)
        data = np.zeros(len(table), dtype)
        start = 0
        for n, t, c in columns:  # rgb floats in ASCII files are packed integers: reinterpret
            value = table[:, start : start + c].reshape(len(table), *((c,) if c > 1 else ()))
            if n in ("rgb", "rgba") and t == "f4":
                value = value.astype(np.uint32).view(np.float32)
            data[n] = value
            start += c
    elif mode == "binary":
        data = np.frombuffer(body[: num * dtype.itemsize], dtype)
    else:
        raise MeshLoadError(f"'{base}' uses PCD DATA {mode}, which is not supported: save it as binary or ascii.")
    points = _fields(data, ("x", "y", "z"))
    if points is None:
        raise MeshLoadError(f"'{base}' has no x, y, z fields.")
    normals = _fields(data, ("normal_x", "normal_y", "normal_z"))
    colors = None
    for packed in ("rgb", "rgba"):
        if data.dtype.names and packed in data.dtype.names:
            value = np.ascontiguousarray(data[packed]).view(np.uint32)
            colors = np.stack([(value >> 16) & 255, (value >> 8) & 255, value & 255], axis=1).astype(np.uint8)
    keep = np.isfinite(points).all(axis=1)  # organised clouds pad with NaN
    return points[keep], None if normals is None else normals[keep], None if colors is None else colors[keep]


def _read_xyz(path: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    with open(path) as f:
        delimiter = "," if "," in f.readline() else None
    table = np.loadtxt(path, ndmin=2, comments=("#", "//"), delimiter=delimiter)
    if table.shape[1] < 3:
        raise MeshLoadError(f"'{os.path.basename(path)}' has {table.shape[1]} columns: x y z are needed.")
    extra = table[:, 3:6] if table.shape[1] >= 6 else None
    if path.lower().endswith(".xyzrgb"):
        if extra is None:
            raise MeshLoadError(f"'{os.path.basename(path)}' has no r g b columns.")
        colors = extra * 255.0 if extra.max() <= 1.0 else extra
        return table[:, :3], None, np.clip(np.round(colors), 0, 255).astype(np.uint8)
    return table[:, :3], extra, None


def _read_npy(path: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    array = np.load(path, allow_pickle=False)
    if array.ndim != 2 or array.shape[1] not in (3, 6):
        raise MeshLoadError(
            f"'{os.path.basename(path)}' holds an array of shape {array.shape}: "
            "expected (N, 3) positions or (N, 6) positions + normals."
        )
    return array[:, :3], array[:, 3:] if array.shape[1] == 6 else None, None


READERS = {".ply": _read_ply, ".pcd": _read_pcd, ".xyz": _read_xyz, ".xyzn": _read_xyz, ".xyzrgb": _read_xyz,
           ".npy": _read_npy}  # fmt: skip


def load_point_cloud(
    path: str | os.PathLike,
    max_points: int = DEFAULT_MAX_POINTS,
    y_up: bool = False,
    normal_neighbours: int = NORMAL_NEIGHBOURS,
) -> PointCloud:
    """Load a point set (PLY/PCD/XYZ/NPY, see the module docstring) and normalise it.

    Normals are read when the file has them, else estimated and oriented outwards.
    Set `y_up` for Y-up files (glTF convention; most scans are Z-up).
    """
    path = os.fspath(path)
    base = os.path.basename(path)
    name, extension = os.path.splitext(base)
    check_input_file(path)
    reader = READERS.get(extension.lower())
    if reader is None:
        raise MeshLoadError(f"'{base}' is not a supported point cloud: use one of {', '.join(POINT_CLOUD_EXTENSIONS)}.")
    try:
        points, normals, colors = reader(path)
    except MeshLoadError:
        raise
    except Exception as exc:  # numpy and trimesh raise many types for corrupt files
        raise MeshLoadError(f"Could not read '{base}' as a point cloud ({type(exc).__name__}: {exc}).") from exc
    return point_cloud_from_arrays(points, normals, colors, y_up, name, max_points, normal_neighbours)


def load_geometry(path: str | os.PathLike, max_faces: int | None = None) -> Mesh | PointCloud:
    """Load a mesh or a point cloud, whichever the file holds.

    PLY files with faces and the other mesh formats (GLB, OBJ, ...) give a
    :class:`~geosam2.io.mesh.Mesh` (see :func:`~geosam2.io.mesh.load_mesh`); PLY files
    without faces, PCD, XYZ and NPY give a :class:`PointCloud` (see
    :func:`load_point_cloud`). Both are in the normalised frame.

    `max_faces` is the mesh loader's face limit (default: ``geosam2.io.mesh.face_limit()``).
    Raises MeshLoadError for a missing, unsupported or corrupt file (or a folder),
    EmptyMeshError and MeshTooLargeError as the loaders do.
    """
    path = os.fspath(path)
    base = os.path.basename(path)
    extension = os.path.splitext(base)[1].lower()
    check_input_file(path)
    if extension == ".ply":
        return load_mesh(path, max_faces) if ply_face_count(path) > 0 else load_point_cloud(path)
    if extension in POINT_CLOUD_EXTENSIONS:
        return load_point_cloud(path)
    if extension in MESH_EXTENSIONS:
        return load_mesh(path, max_faces)
    supported = sorted(set(MESH_EXTENSIONS) | set(POINT_CLOUD_EXTENSIONS))
    raise MeshLoadError(f"'{base}' is neither a supported mesh nor a point cloud: use one of {', '.join(supported)}.")
