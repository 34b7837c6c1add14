"""The release's lifting (``lift_2dmask_3d``): its face samples (numpy's legacy generator
seeded with 3), its depth-test visibility and pixel lookups, its painting order, and its
vote in which "seen, in no mask" is a label of its own (`SEEN_UNCOVERED`, the release's
999) that takes part in the vote like any part."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...io.mesh import Mesh
from ...lifting.lift import VisibleSamples
from ...render import Views
from .constants import OFFICIAL_NUMPY_SEED, SEEN_UNCOVERED

OFFICIAL_DEPTH_TOLERANCE = 1e-3  # the release's |rendered depth - sample depth| bound (normalised units)


def official_sample_points(mesh: Mesh, samples_per_face: int = 5) -> np.ndarray:
    """(F * S, 3) float64 points on each face drawn as the release draws them, face-major.

    numpy's legacy generator seeded with `OFFICIAL_NUMPY_SEED`, then two (F, S, 1)
    uniform draws u and v, folded where u + v > 1 (u, v = 1 - u, 1 - v), and
    point = u a + v b + (1 - u - v) c on the face's vertices (a, b, c) in file order.
    The same draws as the release's, so the same points (affine maps commute
    with barycentric combinations).
    """
    generator = np.random.RandomState(OFFICIAL_NUMPY_SEED)
    shape = (mesh.num_faces, samples_per_face, 1)
    u, v = generator.random_sample(shape), generator.random_sample(shape)
    fold = u + v > 1
    u[fold], v[fold] = 1 - u[fold], 1 - v[fold]
    corners = mesh.triangles[:, None]  # (F, 1, 3, 3)
    return (u * corners[..., 0, :] + v * corners[..., 1, :] + (1 - u - v) * corners[..., 2, :]).reshape(-1, 3)


def official_visible_samples(mesh: Mesh, views: Views, samples_per_face: int = 5) -> VisibleSamples:
    """Which of the release's face samples each view sees, and the pixel whose label they read.

    As the release (``cal_link`` and ``lift_2dmask_3d``), for a sample at
    continuous pixel coordinates (x, y) of a W x H view:

    - visibility is read at pixel (rint(x (W-1) / W), rint(y (H-1) / H)) (its
      ``grid_sample`` with ``align_corners=True``): the pixel must be on the
      silhouette and its rendered depth within `OFFICIAL_DEPTH_TOLERANCE` of the
      sample's planar depth;
    - the label is read at pixel (rint(x), rint(y)) clamped to the image; a read
      in the last row or column falls outside the label image (the release's
      second ``grid_sample`` uses ``align_corners=False``) and gives no vote, so
      such samples are left out.
    """
    points = official_sample_points(mesh, samples_per_face)
    height, width = views.face_ids.shape[1:]
    samples, pixels = [], []
    for v in range(views.num_views):
        xy, depth = views.rig.project(v, points)
        column, row = np.rint(xy[:, 0] * (width - 1) / width), np.rint(xy[:, 1] * (height - 1) / height)
        inside = np.flatnonzero((column >= 0) & (column < width) & (row >= 0) & (row < height))
        at = row[inside].astype(np.int64) * width + column[inside].astype(np.int64)
        seen = (views.face_ids[v].reshape(-1)[at] >= 0) & (
            np.abs(views.depth[v].reshape(-1)[at] - depth[inside]) < OFFICIAL_DEPTH_TOLERANCE
        )
        index = inside[seen]
        label_column = np.clip(np.rint(xy[index, 0]), 0, width - 1).astype(np.int64)
        label_row = np.clip(np.rint(xy[index, 1]), 0, height - 1).astype(np.int64)
        reads = (label_column < width - 1) & (label_row < height - 1)
        samples.append(index[reads])
        pixels.append(label_row[reads] * width + label_column[reads])
    offsets = np.cumsum([0] + [len(s) for s in samples])
    return VisibleSamples(mesh.num_faces, samples_per_face, np.concatenate(samples), np.concatenate(pixels), offsets)


def release_mode(codes: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """(N,) the release's vote per row of (N, K) int `codes`, where 0 means "no vote".

    The release's ``mode_except_negative_one``: the most frequent non-zero code;
    0 when the row has no other code. Ties go to the code whose first occurrence
    in the row is the LATEST: the release counts in a libstdc++
    ``unordered_map``, which puts each new key at the front of its list, then
    sorts the counts stably (measured: the release's labels on all 7,793 faces
    of its example mesh; ties to the earliest agree on 99.46 %).
    """
    winners = np.zeros(len(codes), codes.dtype)
    for start in range(0, len(codes), chunk):
        rows = codes[start : start + chunk]
        same = rows[:, :, None] == rows[:, None, :]  # (n, K, K)
        count = same.sum(2)
        first = same.argmax(2)  # column where each column's code first appears
        score = np.where(rows != 0, count * (rows.shape[1] + 1) + first, -1)
        winners[start : start + chunk] = rows[np.arange(len(rows)), score.argmax(1)]
    return winners


def official_vote_labels(
    visible: VisibleSamples, masks: np.ndarray, priorities: Sequence[int] | np.ndarray | None = None
) -> np.ndarray:
    """The release's voting stage on :func:`official_visible_samples`.

    Each view's masks are painted into one label image that starts as
    "seen, in no mask": parts by decreasing total pixel count over all views
    (smaller parts on top; equal counts: the later part on top), parts of higher
    priority after all others. Each sample votes with the label under it in
    every view that sees it, each face with the votes of its samples, both by
    :func:`release_mode`.

    Returns
    -------
    (F,) int32 part labels in 0..P-1, `SEEN_UNCOVERED`, or -1 (no vote).
    """
    masks = np.asarray(masks, bool)
    num_parts, num_views = masks.shape[:2]
    priorities = np.zeros(num_parts, np.int64) if priorities is None else np.asarray(priorities, np.int64)
    totals = masks.reshape(num_parts, -1).sum(1)
    paint_order = np.lexsort((np.arange(num_parts), -totals, priorities))
    seen_code = num_parts + 1  # codes: 0 no vote, p + 1 part p, P + 1 seen in no mask
    codes = np.zeros((visible.num_faces * visible.samples_per_face, num_views), np.int32)
    for v in range(num_views):
        label_image = np.full(masks.shape[2] * masks.shape[3], seen_code, np.int32)
        for p in paint_order:
            label_image[masks[p, v].reshape(-1)] = p + 1
        samples, pixels = visible.view(v)
        codes[samples, v] = label_image[pixels]
    face_codes = release_mode(release_mode(codes).reshape(visible.num_faces, visible.samples_per_face))
    labels = face_codes - 1
    labels[face_codes == seen_code] = SEEN_UNCOVERED
    return labels.astype(np.int32)


class ReleaseLifting:
    """The lifting strategy of the release (see `geosam2.lifting.lift.PixelVotes` for the
    project's): random samples per face seen by the depth test, the release's vote;
    labels in 0..P-1, `SEEN_UNCOVERED` or -1."""

    def visible(self, mesh: Mesh, views: Views, samples_per_face: int) -> VisibleSamples:
        return official_visible_samples(mesh, views, samples_per_face)

    def vote(self, visible: VisibleSamples, masks, priorities=None) -> np.ndarray:
        masks = masks if isinstance(masks, np.ndarray) else masks.cpu().numpy()
        return official_vote_labels(visible, masks, priorities)
