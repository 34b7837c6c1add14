"""Class-agnostic mIoU, the part-segmentation score of the GeoSAM2 paper.

For each ground-truth part, the best IoU over all predicted parts; the mean of
those over the ground-truth parts of an object is the object's score; the
benchmark score is the mean over objects (or over categories of per-category
means). IoUs are weighted by face area on meshes (face count as an option) and
by point on point clouds. Scores here are fractions in [0, 1]; reports print
percentages.

Label conventions: (F,) integer arrays, any non-negative values, -1 = unlabelled.
Ground-truth faces labelled -1 are ignored (they are in no part and, by default,
in no union); predicted faces labelled -1 belong to no predicted part.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from ..io.mesh import Mesh

WEIGHTINGS = ("area", "count")
PROTOCOLS = ("geosam2", "partfield", "sampart3d")


def face_weights(mesh: Mesh, weighting: str = "area") -> np.ndarray:
    """(F,) float64 weight of each face in an IoU: its area, or 1 per face.

    Parameters
    ----------
    mesh : Mesh
    weighting : "area" (default, face-area-weighted IoU) or "count" (face count).
    """
    if weighting == "area":
        return mesh.face_areas
    if weighting == "count":
        return np.ones(mesh.num_faces)
    raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")


def dense_labels(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Renumber non-negative labels to 0..K-1 in increasing order (negatives become -1).

    Returns (labels (F,) int64, K)."""
    labels = np.asarray(labels).reshape(-1)
    valid = labels >= 0
    values, inverse = np.unique(labels[valid], return_inverse=True)
    dense = np.full(labels.shape, -1, np.int64)
    dense[valid] = inverse
    return dense, len(values)


def iou_matrix(
    gt: np.ndarray,
    pred: np.ndarray,
    weights: np.ndarray | None = None,
    gt_unlabelled_in_union: bool = False,
    exclude_unlabelled_prediction: bool = False,
) -> np.ndarray:
    """(K_gt, K_pred) float64 weighted IoU between every ground-truth and predicted part.

    Parts are the distinct non-negative labels, in increasing label order.

    Parameters
    ----------
    gt, pred : (F,) int
        Ground-truth and predicted labels per element (face or point); -1 = none.
    weights : (F,) float, optional
        Weight per element (face area); 1 per element when omitted.
    gt_unlabelled_in_union : bool
        False (default): elements without a ground-truth label are left out
        entirely. True (PartField's protocol): they still count in the
        predicted part's size, so predictions spilling over them are penalised.
    exclude_unlabelled_prediction : bool
        False (default): ground-truth elements the prediction leaves unlabelled
        count as missed. True (SAMPart3D's protocol): they are left out.
    """
    gt, k_gt = dense_labels(gt)
    pred, k_pred = dense_labels(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"gt has {gt.size} labels but pred has {pred.size}")
    w = np.ones(gt.size) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    if w.shape != gt.shape:
        raise ValueError(f"weights has {w.size} values for {gt.size} labels")
    both = (gt >= 0) & (pred >= 0)
    intersection = np.bincount(
        gt[both] * k_pred + pred[both], weights=w[both], minlength=k_gt * k_pred
    ).reshape(k_gt, k_pred).astype(np.float64)  # bincount of nothing is int
    in_gt = both if exclude_unlabelled_prediction else gt >= 0
    gt_size = np.bincount(gt[in_gt], weights=w[in_gt], minlength=k_gt)
    counted = pred >= 0 if gt_unlabelled_in_union else both
    pred_size = np.bincount(pred[counted], weights=w[counted], minlength=k_pred)
    union = gt_size[:, None] + pred_size[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def part_ious(gt: np.ndarray, pred: np.ndarray, weights: np.ndarray | None = None, **kwargs) -> np.ndarray:
    """(K_gt,) float64 best IoU of each ground-truth part over all predicted parts
    (0 for a part no prediction touches). Arguments as in `iou_matrix`."""
    ious = iou_matrix(gt, pred, weights, **kwargs)
    return ious.max(axis=1) if ious.shape[1] else np.zeros(ious.shape[0])


def class_agnostic_miou(gt: np.ndarray, pred: np.ndarray, weights: np.ndarray | None = None, **kwargs) -> float:
    """Mean over ground-truth parts of the best IoU over predicted parts, in [0, 1].

    Arguments as in `iou_matrix`. Raises ValueError when the ground truth has no
    labelled element (there is nothing to score).
    """
    best = part_ious(gt, pred, weights, **kwargs)
    if best.size == 0:
        raise ValueError("the ground truth has no labelled part")
    return float(best.mean())


def protocol_miou(gt: np.ndarray, levels: np.ndarray, weights: np.ndarray | None = None, protocol: str = "geosam2") -> float:
    """One shape's score under a published protocol, in [0, 1].

    Parameters
    ----------
    gt : (F,) int, -1 = unlabelled.
    levels : (F,) or (L, F) int, one predicted labelling per granularity level.
    weights : (F,) float, optional.
    protocol :
        "geosam2" (default, the paper's and ../shared/data's scores): one labelling;
        ground-truth -1 ignored, predicted -1 counts as missed.
        "partfield": the best level; ground-truth -1 elements are no part but count
        in a predicted part's union.
        "sampart3d": one labelling; -1 excluded on both sides.
    The aggregation over shapes differs too (see `geosam2.evaluation.report`):
    PartField averages per category then over categories, the others over shapes.
    """
    levels = np.atleast_2d(np.asarray(levels))
    if protocol == "partfield":
        return max(class_agnostic_miou(gt, pred, weights, gt_unlabelled_in_union=True) for pred in levels)
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if len(levels) != 1:
        raise ValueError(f"the {protocol} protocol scores one labelling per shape, got {len(levels)} levels")
    return class_agnostic_miou(gt, levels[0], weights, exclude_unlabelled_prediction=protocol == "sampart3d")


def nearest_faces(mesh: Mesh, points: np.ndarray, candidates: int = 8) -> np.ndarray:
    """(N,) int64 index of the face nearest to each of (N, 3) `points` (normalised frame).

    Candidate faces are those of the `candidates` nearest of 7 reference points per
    face (centroid, corners and edge midpoints pulled 1 % towards the centroid);
    among them the face with the smallest exact point-triangle distance wins.
    """
    points = np.asarray(points, np.float64).reshape(-1, 3)
    corners = mesh.triangles
    centre = corners.mean(axis=1, keepdims=True)
    midpoints = 0.5 * (corners + np.roll(corners, -1, axis=1))
    references = centre + 0.99 * (np.concatenate([centre, corners, midpoints], axis=1) - centre)
    k = min(candidates, references.shape[0] * references.shape[1])
    _, nearest = cKDTree(references.reshape(-1, 3)).query(points, k=k)
    faces = nearest.reshape(len(points), k) // references.shape[1]
    closest = trimesh.triangles.closest_point(corners[faces.ravel()], np.repeat(points, k, axis=0))
    distance = np.linalg.norm(closest - np.repeat(points, k, axis=0), axis=1).reshape(len(points), k)
    return faces[np.arange(len(points)), np.argmin(distance, axis=1)]


def mean_over_groups(scores: Mapping[str, float], groups: Mapping[str, str]) -> tuple[float, dict[str, float]]:
    """Mean of per-object scores per group (category), and the mean over groups.

    Parameters
    ----------
    scores : {object id: score}
    groups : {object id: category}; objects missing from it form the group "".

    Returns
    -------
    overall : float, the mean over categories of the per-category means.
    per_group : {category: mean score}, sorted by category name.
    """
    members: dict[str, list[float]] = {}
    for key, value in scores.items():
        members.setdefault(groups.get(key, ""), []).append(value)
    per_group = {g: float(np.mean(v)) for g, v in sorted(members.items())}
    overall = float(np.mean(list(per_group.values()))) if per_group else float("nan")
    return overall, per_group
