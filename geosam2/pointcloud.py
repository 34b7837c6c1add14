"""Point clouds: load point sets, estimate oriented normals, normalise like meshes.

A :class:`PointCloud` lives in the same normalised frame as :class:`~geosam2.mesh.Mesh`
(Z up, bounding-box centre at the origin, longest edge 1) and keeps the file's
point order, so per-point labels computed here index the file's own points.

Readers: ``.ply`` (ASCII or binary, any extra properties ignored; ``nx ny nz`` read
as normals, ``red green blue [alpha]`` as colours; a PLY with faces gives its
vertices), ``.pcd`` (ASCII or binary, fields ``x y z [normal_x normal_y normal_z]
[rgb|rgba]``), ``.xyz`` / ``.xyzn`` / ``.xyzrgb`` text (columns x y z, then normals
for ``.xyzn`` or colours for ``.xyzrgb``; a plain ``.xyz`` with 6+ columns reads
columns 3-5 as normals), ``.npy`` ((N, 3) positions or (N, 6) positions + normals).
Missing normals are estimated from the k nearest neighbours (PCA) and oriented
outwards by propagation over a minimum spanning tree. :func:`load_geometry`
loads either kind of file: a mesh when it has faces, else a point cloud.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree

from .errors import EmptyMeshError, MeshLoadError, MeshTooLargeError
from .mesh import MESH_EXTENSIONS, Y_UP_TO_Z_UP, Mesh, load_mesh, normalising_transform, ply_face_count, transform_points

POINT_CLOUD_EXTENSIONS = (".ply", ".pcd", ".xyz", ".xyzn", ".xyzrgb", ".npy")
DEFAULT_MAX_POINTS = 5_000_000
NORMAL_NEIGHBOURS = 16  # k of the PCA normal estimate
SPACING_NEIGHBOURS = 16  # k of the local spacing (splat radius, point area)


@dataclass(frozen=True, eq=False)
class PointCloud:
    """A point set with unit normals in the normalised frame.

    Attributes
    ----------
    points : (N, 3) float64
        Positions in the normalised frame, in the file's point order.
    normals : (N, 3) float64
        Unit normals in the normalised frame, oriented outwards (from the file,
        or estimated when the file has none).
    colors : (N, 4) uint8 or None
        RGBA colour per point when the file carries colours.
    to_file : (4, 4) float64
        Homogeneous transform from the normalised frame back to the file's frame.
    name : str
        File stem, for reports and exports.
    normals_estimated : bool
        True when the normals were estimated rather than read.
    """

    points: np.ndarray
    normals: np.ndarray
    colors: np.ndarray | None = None
    to_file: np.ndarray = field(default_factory=lambda: np.eye(4))
    name: str = "points"
    normals_estimated: bool = False

    @property
    def num_points(self) -> int:
        return len(self.points)

    @property
    def bbox_size(self) -> np.ndarray:
        """(3,) float64 bounding-box extents (longest is 1 after normalisation)."""
        return self.points.max(axis=0) - self.points.min(axis=0)

    def file_points(self) -> np.ndarray:
        """(N, 3) float64 positions in the file's own frame and units."""
        return transform_points(self.points, self.to_file)

    def file_normals(self) -> np.ndarray:
        """(N, 3) float64 unit normals in the file's own frame."""
        n = self.normals @ self.to_file[:3, :3].T
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    @functools.cached_property
    def tree(self) -> cKDTree:
        """KD-tree of `points`, built once."""
        return cKDTree(self.points)

    @functools.cached_property
    def spacing(self) -> np.ndarray:
        """(N,) float64 distance from each point to its k-th nearest other point
        (k = SPACING_NEIGHBOURS, fewer for tiny clouds): the local sampling scale."""
        k = min(SPACING_NEIGHBOURS, self.num_points - 1)
        if k < 1:
            return np.zeros(self.num_points)
        distances, _ = self.tree.query(self.points, k=k + 1)
        return distances[:, -1]

    @functools.cached_property
    def areas(self) -> np.ndarray:
        """(N,) float64 surface area each point stands for: pi * spacing**2 / k."""
        return np.pi * self.spacing**2 / SPACING_NEIGHBOURS


def knn_pairs(points: np.ndarray, k: int, tree: cKDTree | None = None) -> np.ndarray:
    """(E, 2) int64 unique pairs i < j where j is among the `k` nearest neighbours of i
    or i among those of j."""
    k = min(k, len(points) - 1)
    if k < 1:
        return np.zeros((0, 2), np.int64)
    tree = cKDTree(points) if tree is None else tree
    _, nearest = tree.query(points, k=k + 1)
    pairs = np.stack([np.repeat(np.arange(len(points)), k), nearest[:, 1:].reshape(-1)], axis=1)
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1).astype(np.int64)
    keys = np.unique(pairs[:, 0] * len(points) + pairs[:, 1])  # 1-D keys sort far faster than rows
    return np.stack([keys // len(points), keys % len(points)], axis=1)


def estimate_normals(points: np.ndarray, k: int = NORMAL_NEIGHBOURS) -> np.ndarray:
    """(N, 3) float64 unit normals of (N, 3) `points`, oriented outwards.

    Each normal is the least-variance direction of the point's `k` nearest
    neighbours (PCA). Orientation (Hoppe et al. 1992): on each connected piece of
    the k-NN graph, the point farthest from the piece's centroid faces away from
    it, and signs propagate along a minimum spanning tree weighted by
    1 - |n_i . n_j|, so neighbours with parallel normals agree. Thin sheets whose
    two sides are closer than the neighbourhood can still get one side flipped.
    """
    points = np.asarray(points, np.float64)
    n = len(points)
    if n < 3:
        return np.tile([0.0, 0.0, 1.0], (n, 1))
    k = min(k, n - 1)
    tree = cKDTree(points)
    _, nearest = tree.query(points, k=k + 1)
    local = points[nearest] - points[nearest].mean(axis=1, keepdims=True)  # (N, k+1, 3)
    covariance = np.einsum("nki,nkj->nij", local, local)
    normals = np.linalg.eigh(covariance)[1][:, :, 0]  # eigenvalues ascending
    return orient_normals(points, normals, knn_pairs(points, k, tree))


def orient_normals(points: np.ndarray, normals: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(N, 3) copy of `normals` with signs made consistent over the graph of (E, 2)
    `pairs` and pointing outwards (see :func:`estimate_normals`)."""
    n = len(points)
    weight = 1.0 - np.abs(np.einsum("ij,ij->i", normals[pairs[:, 0]], normals[pairs[:, 1]])) + 1e-6
    graph = sp.csr_matrix((weight, (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    tree = minimum_spanning_tree(graph)
    tree = tree + tree.T
    _, piece = connected_components(tree, directed=False)
    sign = np.ones(n)
    for p in range(piece.max() + 1):
        members = np.flatnonzero(piece == p)
        offset = points[members] - points[members].mean(axis=0)
        root = members[np.argmax(np.einsum("ij,ij->i", offset, offset))]
        order, parent = breadth_first_order(tree, root, directed=False, return_predecessors=True)
        root_offset = points[root] - points[members].mean(axis=0)
        sign[root] = 1.0 if normals[root] @ root_offset >= 0 else -1.0
        # BFS order lists parents before children: one pass fixes every sign
        children = order[1:]
        agree = np.sign(np.einsum("ij,ij->i", normals[children], normals[parent[children]]))
        agree[agree == 0] = 1.0
        for child, a in zip(children, agree):  # sequential by nature; O(N) scalar work
            sign[child] = sign[parent[child]] * a
    return normals * sign[:, None]


def point_cloud_from_arrays(
    points: np.ndarray,
    normals: np.ndarray | None = None,
    colors: np.ndarray | None = None,
    y_up: bool = False,
    name: str = "points",
    max_points: int = DEFAULT_MAX_POINTS,
    normal_neighbours: int = NORMAL_NEIGHBOURS,
) -> PointCloud:
    """Validate and normalise a point set given in its file frame.

    Parameters
    ----------
    points : (N, 3) float
        Positions in the file's frame.
    normals : (N, 3) float, optional
        Normals in the file's frame; estimated (oriented outwards) when None or
        when any is zero or non-finite.
    colors : (N, 3) or (N, 4) uint8, optional
    y_up : bool
        Rotate a Y-up file to the Z-up normalised frame.

    Raises EmptyMeshError for no points or coincident points, MeshTooLargeError
    above `max_points`, MeshLoadError for non-finite positions or mismatched arrays.
    """
    points = np.asarray(points, np.float64).reshape(-1, 3)
    if len(points) == 0:
        raise EmptyMeshError(f"'{name}' has no points: upload a point cloud with at least a few points.")
    if len(points) > max_points:
        raise MeshTooLargeError(
            f"'{name}' has {len(points):,} points, more than the limit of {max_points:,}: "
            "subsample it first or raise the limit."
        )
    if not np.isfinite(points).all():
        raise MeshLoadError(f"'{name}' has points with NaN or infinite coordinates: repair the file.")
    frame = Y_UP_TO_Z_UP if y_up else np.eye(4)
    z_up = transform_points(points, frame)
    if (z_up.max(axis=0) - z_up.min(axis=0)).max() <= 0:
        raise EmptyMeshError(f"'{name}' is degenerate: all its points coincide.")
    normalise = normalising_transform(z_up)
    normalised = transform_points(z_up, normalise)
    estimated = normals is None
    if normals is not None:
        normals = np.asarray(normals, np.float64).reshape(-1, 3)
        if len(normals) != len(points):
            raise MeshLoadError(f"'{name}' has {len(points)} points but {len(normals)} normals: repair the file.")
        normals = normals @ frame[:3, :3].T  # the normalising transform is a uniform scale
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        estimated = not (np.isfinite(length).all() and (length > 0).all())
        if not estimated:
            normals = normals / length
    if estimated:
        normals = estimate_normals(normalised, normal_neighbours)
    if colors is not None:
        colors = np.asarray(colors, np.uint8)
        if colors.shape not in ((len(points), 3), (len(points), 4)):
            raise MeshLoadError(f"'{name}' has colours of shape {colors.shape} for {len(points)} points: repair the file.")
        if colors.shape[1] == 3:
            colors = np.concatenate([colors, np.full((len(points), 1), 255, np.uint8)], axis=1)
    return PointCloud(
        points=normalised,
        normals=normals,
        colors=colors,
        to_file=np.linalg.inv(normalise @ frame),
        name=name,
        normals_estimated=estimated,
    )


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
    if not os.path.isfile(path):
        raise MeshLoadError(f"File '{path}' does not exist.")
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


def load_geometry(path: str | os.PathLike) -> Mesh | PointCloud:
    """Load a mesh or a point cloud, whichever the file holds.

    PLY files with faces and the other mesh formats (GLB, OBJ, ...) give a
    :class:`~geosam2.mesh.Mesh` (see :func:`~geosam2.mesh.load_mesh`); PLY files
    without faces, PCD, XYZ and NPY give a :class:`PointCloud` (see
    :func:`load_point_cloud`). Both are in the normalised frame.

    Raises MeshLoadError for a missing, unsupported or corrupt file,
    EmptyMeshError and MeshTooLargeError as the loaders do.
    """
    path = os.fspath(path)
    base = os.path.basename(path)
    extension = os.path.splitext(base)[1].lower()
    if not os.path.isfile(path):
        raise MeshLoadError(f"File '{path}' does not exist.")
    if extension == ".ply":
        return load_mesh(path) if ply_face_count(path) > 0 else load_point_cloud(path)
    if extension in POINT_CLOUD_EXTENSIONS:
        return load_point_cloud(path)
    if extension in MESH_EXTENSIONS:
        return load_mesh(path)
    supported = sorted(set(MESH_EXTENSIONS) | set(POINT_CLOUD_EXTENSIONS))
    raise MeshLoadError(f"'{base}' is neither a supported mesh nor a point cloud: use one of {', '.join(supported)}.")


def part_palette(num_parts: int) -> np.ndarray:
    """(P, 4) uint8 distinct opaque colours, hues spaced by the golden ratio."""
    import colorsys

    rgb = [colorsys.hsv_to_rgb((p * 0.618033988749895) % 1.0, 0.75, 0.95) for p in range(num_parts)]
    rgb = np.round(np.reshape(rgb, (num_parts, 3)) * 255)
    return np.concatenate([rgb, np.full((num_parts, 1), 255)], axis=1).astype(np.uint8)


UNLABELLED_COLOR = np.array([160, 160, 160, 255], np.uint8)


def write_ply(
    path: str | os.PathLike,
    points: np.ndarray,
    normals: np.ndarray | None = None,
    colors: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> None:
    """Write a binary little-endian PLY point set: float x y z, [float nx ny nz],
    [uchar red green blue alpha], [int label]."""
    columns = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    columns += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")] if normals is not None else []
    columns += [(c, "u1") for c in ("red", "green", "blue", "alpha")] if colors is not None else []
    columns += [("label", "<i4")] if labels is not None else []
    data = np.zeros(len(points), columns)
    for name, values in (("xyz", points), (("nx", "ny", "nz"), normals), (("red", "green", "blue", "alpha"), colors)):
        if values is not None:
            for i, column in enumerate(name):
                data[column] = values[:, i]
    if labels is not None:
        data["label"] = labels
    kinds = {"<f4": "float", "u1": "uchar", "<i4": "int"}
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(points)}"]
    header += [f"property {kinds[t]} {n}" for n, t in columns] + ["end_header"]
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(data.tobytes())


def export_point_cloud(cloud: PointCloud, labels: np.ndarray, folder: str | os.PathLike, part_names=None) -> dict:
    """Write a labelled point cloud in the file's own frame, for download.

    Files (named after ``cloud.name``): ``<name>_parts.ply`` (every point coloured
    by part, with its label as an int property), ``<name>_parts.zip`` (one PLY per
    part, ``<part name>.ply``, plus ``unlabelled.ply`` if any), ``<name>_labels.npy``
    ((N,) int32, -1 = unlabelled) and ``<name>_labels.json`` (parts, names, counts).

    Parameters
    ----------
    cloud : PointCloud
    labels : (N,) int, -1 = unlabelled
    folder : output folder (created)
    part_names : sequence of str, optional, one per label 0..P-1

    Returns
    -------
    {"ply": path, "zip": path, "npy": path, "json": path}
    """
    import json
    import tempfile
    import zipfile

    labels = np.asarray(labels, np.int32)
    if labels.shape != (cloud.num_points,):
        raise ValueError(f"labels must have shape ({cloud.num_points},), got {labels.shape}")
    num_parts = int(labels.max(initial=-1)) + 1
    names = list(part_names) if part_names is not None else [f"part_{p:02d}" for p in range(num_parts)]
    if len(names) < num_parts:
        raise ValueError(f"{len(names)} part names for {num_parts} parts")
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(folder, cloud.name)
    points, normals = cloud.file_points(), cloud.file_normals()
    palette = np.concatenate([part_palette(num_parts), UNLABELLED_COLOR[None]])
    colors = palette[np.where(labels >= 0, labels, num_parts)]
    paths = {"ply": stem + "_parts.ply", "zip": stem + "_parts.zip", "npy": stem + "_labels.npy", "json": stem + "_labels.json"}
    write_ply(paths["ply"], points, normals, colors, labels)
    with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(paths["zip"], "w", zipfile.ZIP_DEFLATED) as archive:
        for p, name in [(p, names[p]) for p in range(num_parts)] + [(-1, "unlabelled")]:
            members = labels == p
            if members.any():
                part_path = os.path.join(scratch, f"{name}.ply")
                write_ply(part_path, points[members], normals[members], colors[members])
                archive.write(part_path, f"{name}.ply")
    np.save(paths["npy"], labels)
    counts = np.bincount(labels[labels >= 0], minlength=num_parts)
    summary = {
        "name": cloud.name,
        "num_points": cloud.num_points,
        "unlabelled_points": int((labels < 0).sum()),
        "parts": [{"label": p, "name": names[p], "points": int(counts[p]), "color": palette[p, :3].tolist()} for p in range(num_parts)],
    }
    with open(paths["json"], "w") as f:
        json.dump(summary, f, indent=1)
    return paths


def load_partnete_shape(folder: str | os.PathLike, y_up: bool = False) -> tuple[PointCloud, np.ndarray, np.ndarray]:
    """Read one shape of a PartNetE-layout folder: ``pc.ply`` and ``label.npy``.

    ``label.npy`` holds a pickled dict with ``semantic_seg`` and ``instance_seg``,
    (N,) integers per point of ``pc.ply``, -1 = unlabelled.

    Returns
    -------
    cloud : PointCloud (named after the folder)
    semantic, instance : (N,) int32
    """
    folder = os.fspath(folder)
    cloud = load_point_cloud(os.path.join(folder, "pc.ply"), y_up=y_up)
    cloud = replace(cloud, name=os.path.basename(os.path.normpath(folder)))
    label_path = os.path.join(folder, "label.npy")
    if not os.path.isfile(label_path):
        raise MeshLoadError(f"'{folder}' has no label.npy: a PartNetE shape folder holds pc.ply and label.npy.")
    labels = np.load(label_path, allow_pickle=True).item()
    semantic = np.asarray(labels["semantic_seg"], np.int32).reshape(-1)
    instance = np.asarray(labels["instance_seg"], np.int32).reshape(-1)
    if not len(semantic) == len(instance) == cloud.num_points:
        raise MeshLoadError(
            f"'{label_path}' labels {len(semantic)} / {len(instance)} points but pc.ply has {cloud.num_points}."
        )
    return cloud, semantic, instance
