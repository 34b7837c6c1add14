"""The release's clean-up: ``complete_labels`` as it effectively runs (b5de23c).

The adjacency of the mesh as loaded (no welding); small pieces cleared on the raw
labels, before any fill; the neighbour fill takes the FIRST labelled neighbour in
the release's visiting order, not the majority (its ``Counter`` is keyed by 0-d
tensors, so every neighbour is its own key with count 1); the nearest fill breaks
ties to the smallest label (``torch.mode``); "seen, in no mask" (`SEEN_UNCOVERED`,
the release's 999) is a part like any other, never filled; and nothing is split
(the release's split tests 0-d tensors for membership in a set, which never
matches). The stages it shares with the project's clean-up are in
`geosam2.lifting.cleanup`.
"""

from __future__ import annotations

import numpy as np

from ...geometry.facegraph import FaceGraph, unwelded_face_graph
from ...io.mesh import Mesh
from ...lifting.cleanup import MAX_SWEEPS, NEAREST_K, CleanOptions, clear_small_components, fill_from_nearest, identity_sources
from .constants import SEEN_UNCOVERED

def fill_from_first_neighbour(order: np.ndarray, labels: np.ndarray, targets: np.ndarray, max_sweeps: int = MAX_SWEEPS) -> np.ndarray:
    """(F,) int64 copy of `labels` where (F,) bool `targets` faces that are -1 take the
    label of their first labelled neighbour in (F, K) `order` (-1 padded, see
    `geosam2.geometry.facegraph.release_neighbour_order`), sweep after sweep (at most
    `max_sweeps`, each reading the labels of the previous one): the release's fill."""
    labels = np.asarray(labels, np.int64).copy()
    for _ in range(max_sweeps):
        missing = np.flatnonzero(targets & (labels < 0))
        neighbour_labels = np.where(order[missing] >= 0, labels[order[missing]], -1)
        labelled = neighbour_labels >= 0
        found = labelled.any(1)
        if not found.any():
            break
        first = labelled.argmax(1)
        labels[missing[found]] = neighbour_labels[found, first[found]]
    return labels




def official_clean_labels(
    mesh: Mesh,
    labels: np.ndarray,
    pa: float = 0.02,
    fill_unlabelled: bool = True,
    max_sweeps: int = MAX_SWEEPS,
    nearest_k: int = NEAREST_K,
    graph: FaceGraph | None = None,
) -> np.ndarray:
    """(F,) int64 the release's ``complete_labels`` of (F,) int `labels` (-1 unlabelled,
    `SEEN_UNCOVERED` a part): clear small pieces on the raw labels (unwelded
    adjacency: `graph`, default ``unwelded_face_graph(mesh)``; pass it to reuse it
    and its neighbour order across calls), first-neighbour fill, nearest fill with
    ties to the smallest label, no split."""
    graph = unwelded_face_graph(mesh) if graph is None else graph
    seen = max(labels.max(initial=-1), -1) + 1  # SEEN_UNCOVERED as the largest label, as the release's 999
    work = np.where(labels == SEEN_UNCOVERED, seen, labels)
    cleared = clear_small_components(graph, work, mesh.face_areas, pa)
    filled = fill_from_first_neighbour(graph.release_order, cleared, cleared < 0, max_sweeps)
    filled = fill_from_nearest(mesh.centroids, filled, filled < 0, nearest_k, nearest_first=False)
    if not fill_unlabelled:
        filled[labels == -1] = -1
    return np.where(filled == seen, SEEN_UNCOVERED, filled)


class ReleaseCleanup:
    """The release's clean-up as a profile's strategy (see
    `geosam2.lifting.cleanup.ProjectCleanup` for the protocol and the project's):
    only `fill_unlabelled`, `max_sweeps` and `nearest_k` of the options are used
    (nothing is split, `sources` is the identity)."""

    def graph(self, mesh: Mesh) -> FaceGraph:
        """The face graph the clean-up runs on: the unwelded adjacency of the mesh as loaded."""
        return unwelded_face_graph(mesh)

    def clean(self, mesh: Mesh, labels: np.ndarray, pa: float, graph: FaceGraph, options: CleanOptions) -> tuple[np.ndarray, np.ndarray]:
        out = official_clean_labels(mesh, labels, pa, options.fill_unlabelled, options.max_sweeps, options.nearest_k, graph)
        return out.astype(np.int32), identity_sources(labels)
