"""The parts tree of a labelling: one node per part, with its share of the surface."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..io.palette import palette_color


def part_color(part_id: int) -> tuple[int, int, int, int]:
    """RGBA uint8 colour of a part id (distinct for the first 500 ids)."""
    return tuple(int(c) for c in palette_color(part_id))  # one colour: thousands of parts stay linear


@dataclass(frozen=True)
class Part:
    """One node of the parts tree.

    Attributes
    ----------
    id : int
        Stable id, the value of ``labels`` on the part's faces.
    name : str
    color : (4,) tuple of int, RGBA 0-255
    parent : int or None
        Id of the part it was refined from.
    faces : int
        Number of faces (points, on a point cloud) it owns (not counting its children's).
    area_share : float
        Its faces' share of the mesh's surface area (its points' share of the
        points, on a point cloud), in [0, 1].
    """

    id: int
    name: str
    color: tuple
    parent: int | None = None
    faces: int = 0
    area_share: float = 0.0


def parts_with_stats(parts, labels: np.ndarray, face_areas: np.ndarray) -> tuple:
    """`parts` with their face counts and area shares recomputed from (F,) `labels`
    and (F,) `face_areas` (any per-element weights: ones for points); parts owning
    no face and parenting no part are dropped."""
    ids = np.array([p.id for p in parts], np.int64)
    owned = labels >= 0
    counts = np.zeros(len(ids), np.int64)
    areas = np.zeros(len(ids))
    if len(ids):
        index = np.searchsorted(ids, labels[owned])
        counts = np.bincount(index, minlength=len(ids))
        areas = np.bincount(index, weights=face_areas[owned], minlength=len(ids))
    total = max(face_areas.sum(), np.finfo(float).tiny)
    parents = {p.parent for p in parts}
    updated = [replace(p, faces=int(n), area_share=float(a / total)) for p, n, a in zip(parts, counts, areas)]
    kept = [p for p in updated if p.faces > 0 or p.id in parents]
    if len(kept) < len(updated):  # a dropped leaf may leave its parent an empty leaf
        return parts_with_stats(kept, labels, face_areas)
    return tuple(kept)
