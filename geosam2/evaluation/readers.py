"""Read ground-truth part labels and other methods' predictions.

Supported ways of storing parts on a mesh file `<uid>.<ext>` (tried in this order):

1. per-point labels: `<uid>.points.npy` (N, 3) points in the mesh file's frame and
   `<uid>.npy` (N,) integer labels beside the mesh (-1 = unlabelled);
2. per-face labels: `<uid>.npy` (F,) integers beside the mesh, in the face order
   of `geosam2.io.mesh.load_mesh` (-1 = unlabelled);
3. colours: every distinct face/vertex colour is a part (raw decoding, as the
   reference scores of ../shared/data are computed);
4. scenes: one geometry per part (`Mesh.part_ids`).

Dataset layouts (`find_dataset`): a folder of meshes, a root with a `GT/` folder
(../shared/data), PartNetE's `<category>/<id>/pc.ply` + `label.npy` point clouds
(instance labels `instance_seg`, -1 = unlabelled; scored per point), or
PartObjaverse-Tiny's own release: a `*mesh*` folder of
`<uid>.glb`, a `*instance_gt*` folder of `<uid>.npy` per-face instance labels in
the face order of `trimesh.load(glb).dump(concatenate=True).faces` (the order of
`load_mesh` too: scene-graph order) and categories in `*_semantic.json`.

A prediction is read the same way from `<pred_dir>/<uid>.<ext>`, or from a lone
`<pred_dir>/<uid>.npy` of labels per ground-truth face (in its face order) or per
point of a point cloud, 2-D (levels, elements) for several granularity levels. When a
method rescaled or reordered the mesh, labels move to the ground-truth faces by
nearest face centroid, both meshes being in the normalised frame (bounding box
centred, longest edge 1), where the scale no longer matters.
"""

from __future__ import annotations

import csv
import glob
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from ..errors import GeoSAM2Error, MeshLoadError
from ..io.mesh import MESH_EXTENSIONS, Mesh, labels_from_colors, load_mesh, transform_points
from ..io.pointcloud import PointCloud
from ..io.pointreaders import load_point_cloud

SAME_GEOMETRY_TOLERANCE = 1e-5  # normalised units: max centroid distance for "same faces, same order"


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """One evaluation object: a mesh or a point cloud with its parts.

    Methods label its elements: the faces of `mesh`, or the points of `cloud`.

    Attributes
    ----------
    uid : str
    mesh : Mesh (normalised frame), or None for a point-cloud object.
    labels : (F,) or (N,) int32 ground-truth part per element, -1 = unlabelled
        (all -1 when the ground truth is given on separate points).
    points : (M, 3) float64 or None, separate labelled points in the normalised
        frame (scored through the nearest face).
    point_labels : (M,) int32 or None.
    cloud : PointCloud or None, the object when it is a point cloud.
    """

    uid: str
    mesh: Mesh | None
    labels: np.ndarray
    points: np.ndarray | None = None
    point_labels: np.ndarray | None = None
    cloud: PointCloud | None = None

    @property
    def num_elements(self) -> int:
        """Number of faces or cloud points a prediction labels."""
        return self.mesh.num_faces if self.mesh is not None else self.cloud.num_points

    @property
    def num_parts(self) -> int:
        labels = self.labels if self.point_labels is None else self.point_labels
        return len(np.unique(labels[labels >= 0]))


@dataclass(frozen=True)
class Dataset:
    """Where a ground-truth set keeps its files.

    Attributes
    ----------
    objects : {uid: mesh file, or PartNetE object folder}, sorted by uid.
    labels_dir : folder of `<uid>.npy` per-face labels kept apart from the meshes, or None.
    categories : {uid: category} found in the layout (empty when none).
    max_faces : meshes with more faces are refused (None: `geosam2.io.limits.face_limit()`).
    """

    objects: dict
    labels_dir: Path | None = None
    categories: dict = field(default_factory=dict)
    max_faces: int | None = None

    def read(self, uid: str) -> "GroundTruth":
        path = self.objects[uid]
        return read_partnete_object(path, uid) if path.is_dir() else read_ground_truth(path, self.labels_dir, self.max_faces)

    def input_files(self, uid: str) -> dict[str, Path]:
        """{name: path} of the files object `uid`'s ground truth is read from (the mesh
        file and its label sidecars, or a PartNetE object's `pc.ply` and `label.npy`)
        that exist, named "ground truth: <file name>"."""
        path = self.objects[uid]
        if path.is_dir():
            candidates = [path / "pc.ply", path / "label.npy"]
        else:
            labels = (Path(self.labels_dir) / f"{path.stem}.npy") if self.labels_dir else path.with_suffix(".npy")
            candidates = [path, labels, path.with_suffix(".points.npy")]
        return {f"ground truth: {p.name}": p for p in candidates if p.is_file()}


class AmbiguousFilesError(GeoSAM2Error):
    """Several mesh files of a folder have the same name but for their extension."""


def _by_stem(paths, folder: Path) -> dict[str, Path]:
    """{stem: path} of mesh files `paths` of `folder`, sorted by stem. Raises
    AmbiguousFilesError when two of them share a stem (e.g. D.glb and D.obj)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(paths):
        found.setdefault(path.stem, []).append(path)
    ambiguous = {stem: group for stem, group in found.items() if len(group) > 1}
    if ambiguous:
        names = "; ".join(", ".join(p.name for p in group) for group in ambiguous.values())
        raise AmbiguousFilesError(
            f"'{folder}' holds several mesh files of one object ({names}): which one is meant is unclear; "
            "keep one file per object name (move the others elsewhere)."
        )
    return {stem: group[0] for stem, group in sorted(found.items())}


def _meshes_in(folder: Path) -> dict[str, Path]:
    return _by_stem((p for p in folder.iterdir() if p.suffix.lower() in MESH_EXTENSIONS), folder)


def _partnete_objects(root: Path) -> dict[str, Path]:
    """{"<category>/<id>": folder} of the PartNetE objects under `root`."""
    folders = sorted(p.parent for p in root.glob("*/*/label.npy") if (p.parent / "pc.ply").is_file())
    return {f"{f.parent.name}/{f.name}": f for f in folders}


def find_dataset(root: str | Path, max_faces: int | None = None) -> Dataset:
    """The layout of a ground-truth folder (see the module docstring); its meshes
    above `max_faces` faces are refused when read (None: the default limit)."""
    root = Path(root)
    if not root.is_dir():
        raise GeoSAM2Error(f"Folder '{root}' does not exist: give the folder holding the ground-truth meshes.")
    if (root / "GT").is_dir():
        root = root / "GT"
    meshes = _meshes_in(root)
    if meshes:
        return Dataset(meshes, max_faces=max_faces)
    clouds = _partnete_objects(root)
    if clouds:
        return Dataset(clouds, categories={uid: uid.split("/")[0] for uid in clouds})
    folders = [d for d in sorted(root.iterdir()) if d.is_dir()]
    mesh_dirs = [d for d in folders if "mesh" in d.name.lower() and _meshes_in(d)]
    label_dirs = [d for d in folders if "instance" in d.name.lower() and any(d.glob("*.npy"))]
    if mesh_dirs and label_dirs:
        semantic = sorted(root.glob("*semantic*.json"))
        return Dataset(_meshes_in(mesh_dirs[0]), label_dirs[0], read_categories(semantic[0]) if semantic else {}, max_faces)
    raise GeoSAM2Error(
        f"'{root}' holds no mesh files ({', '.join(MESH_EXTENSIONS)}), no PartNetE objects "
        "(<category>/<id>/pc.ply + label.npy) nor a PartObjaverse-Tiny layout "
        "(a *mesh* folder and an *instance_gt* folder): give the ground-truth folder."
    )


def read_partnete_object(folder: str | Path, uid: str) -> GroundTruth:
    """A PartNetE object: `pc.ply` points and the `instance_seg` of `label.npy`
    (a pickled dict, as the dataset ships it) as per-point labels."""
    folder = Path(folder)
    cloud = load_point_cloud(folder / "pc.ply")
    data = np.load(folder / "label.npy", allow_pickle=True)
    data = data.item() if data.dtype == object else {"instance_seg": data}
    labels = _npy_labels_array(np.asarray(data["instance_seg"]).reshape(-1), f"{uid}/label.npy")
    if len(labels) != cloud.num_points:
        raise MeshLoadError(f"'{uid}/label.npy' holds {len(labels)} labels for {cloud.num_points} points.")
    return GroundTruth(uid, None, labels, cloud=cloud)


def _npy_labels_array(labels: np.ndarray, name: str) -> np.ndarray:
    if not np.issubdtype(labels.dtype, np.integer) and not np.all(labels == np.round(labels)):
        raise MeshLoadError(f"'{name}' must hold integer labels, found {labels.dtype} values.")
    return labels.astype(np.int32)


def _npy_labels(path: Path, expected: int | None = None) -> np.ndarray:
    labels = np.load(path, allow_pickle=False).reshape(-1)
    if expected is not None and len(labels) != expected:
        raise MeshLoadError(f"'{path.name}' holds {len(labels)} labels but the mesh has {expected} faces.")
    return _npy_labels_array(labels, path.name)


def face_labels(mesh: Mesh, path: Path, labels_dir: Path | None = None) -> np.ndarray:
    """(F,) int32 part label per face of `mesh` read from `path`: `<uid>.npy` in
    `labels_dir` or beside it, else its colours, else its scene geometries (see
    the module docstring)."""
    sidecar = (Path(labels_dir) / f"{path.stem}.npy") if labels_dir else path.with_suffix(".npy")
    if sidecar.is_file():
        return _npy_labels(sidecar, mesh.num_faces)
    if mesh.face_colors is not None and len(np.unique(mesh.face_colors, axis=0)) > 1:
        return labels_from_colors(mesh.face_colors)
    if len(np.unique(mesh.part_ids)) > 1:
        return mesh.part_ids.astype(np.int32)
    raise MeshLoadError(
        f"'{path.name}' carries no part labels: give a per-face '{sidecar.name}', vertex colours per part "
        "or one scene geometry per part."
    )


def read_ground_truth(path: str | Path, labels_dir: str | Path | None = None, max_faces: int | None = None) -> GroundTruth:
    """Read a ground-truth mesh and its parts (see the module docstring for the
    formats); per-face labels come from `labels_dir/<uid>.npy` when given; meshes
    above `max_faces` faces are refused (None: the default limit)."""
    path = Path(path)
    mesh = load_mesh(path, max_faces)
    points_file = path.with_suffix(".points.npy")
    if points_file.is_file():
        points = np.load(points_file).reshape(-1, 3).astype(np.float64)
        point_labels = _npy_labels(path.with_suffix(".npy"), len(points))
        points = transform_points(points, np.linalg.inv(mesh.to_file))
        return GroundTruth(path.stem, mesh, np.full(mesh.num_faces, -1, np.int32), points, point_labels)
    return GroundTruth(path.stem, mesh, face_labels(mesh, path, labels_dir))


def transfer_face_labels(source: Mesh, labels: np.ndarray, target: Mesh) -> np.ndarray:
    """(F_target,) labels of `target`'s faces: the label of `source`'s face whose
    centroid is nearest (both in the normalised frame); the labels unchanged when
    the two meshes have the same faces in the same order."""
    labels = np.asarray(labels, np.int32)
    if source.num_faces == target.num_faces:
        if np.abs(source.centroids - target.centroids).max() < SAME_GEOMETRY_TOLERANCE:
            return labels.copy()
    _, nearest = cKDTree(source.centroids).query(target.centroids)
    return labels[nearest]


def _read_level(pred_dir: Path, gt: GroundTruth, max_faces: int | None) -> np.ndarray:
    candidates = [p for p in pred_dir.glob(f"{glob.escape(gt.uid)}.*") if p.suffix.lower() in MESH_EXTENSIONS and p.stem == gt.uid]
    if candidates and gt.mesh is not None:
        path = _by_stem(candidates, pred_dir)[gt.uid]
        mesh = load_mesh(path, max_faces)
        return transfer_face_labels(mesh, face_labels(mesh, path), gt.mesh)
    lone = pred_dir / f"{gt.uid}.npy"
    if lone.is_file():
        labels = np.load(lone, allow_pickle=False)
        if labels.ndim == 2 and labels.shape[1] == gt.num_elements:
            return np.stack([_npy_labels_array(row, lone.name) for row in labels])
        return _npy_labels(lone, gt.num_elements)
    raise GeoSAM2Error(f"No prediction for '{gt.uid}' in '{pred_dir}' (expected {gt.uid}.glb/.ply/... or {gt.uid}.npy).")


def read_prediction(pred_dir: str | Path, gt: GroundTruth, max_faces: int | None = None) -> np.ndarray:
    """Predicted part per ground-truth face of `gt` from another method's files in
    `pred_dir` (see the module docstring): (F,) int32, or (L, F) int32 for several
    granularity levels, given as a 2-D `<uid>.npy` or as one sub-folder of
    `pred_dir` per level (sorted by name). Raises GeoSAM2Error when missing."""
    pred_dir = Path(pred_dir)
    pattern = f"{glob.escape(gt.uid)}.*"
    if not any(pred_dir.glob(pattern)):
        levels = sorted(d for d in pred_dir.iterdir() if d.is_dir() and any(d.glob(pattern)))
        if levels:
            return np.stack([_read_level(d, gt, max_faces) for d in levels])
    return _read_level(pred_dir, gt, max_faces)


def read_categories(path: str | Path) -> dict[str, str]:
    """{uid: category} from a JSON file ({uid: category}, {category: [uids]} or
    {category: {uid: ...}} as PartObjaverse-Tiny's semantic file) or a CSV/TSV
    with lines `uid,category`."""
    path = Path(path)
    if not path.is_file():
        raise GeoSAM2Error(f"Categories file '{path}' does not exist.")
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise GeoSAM2Error(f"'{path.name}' must hold a JSON object mapping uids to categories or back.")
        result = {}
        for key, value in data.items():
            if isinstance(value, str):
                result[key] = value
            elif isinstance(value, (list, dict)):
                result.update({str(uid): key for uid in value})
        return result
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    rows = [r for r in csv.reader(path.read_text().splitlines(), dialect) if len(r) >= 2]
    return {uid.strip(): category.strip() for uid, category, *_ in rows if uid.strip() not in ("uid", "id")}
