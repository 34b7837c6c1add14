"""Which level of the hierarchy of parts (`geosam2.geometry.hierarchy`) to show.

- Without any part made yet (segment everything): the finest level at which every
  region stands apart, its border crossed by at most a quarter of what a boundary-free
  surface would conduct there (`region_contrast` >= STANDS_APART): below it, some
  region is cut off from its neighbours by no valley, only by the merging order.
  Each level is judged by its own regions, whatever the coarser ones: the merging
  order can halve a large body across a wide, weak valley before it cuts the narrow,
  strong ones of its limbs (a one-piece generated mesh: the generated dragon's first
  cut of its body stands apart at 0.66, its levels of 7 to 19 regions at 0.77), so a coarse level failing
  says that its cut is no boundary, not that there are no parts below it.
- Given the user's parts: the level whose regions agree best with them (mean over
  the parts of the best area IoU with a region, `level_agreement`), the one nearest
  the default level among equals: the user's own scale.

Faces left over are then labelled by their region at that level (`region_owners`):
a region lying mostly in one part joins it, the others are new parts.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .hierarchy import PartHierarchy

STANDS_APART = 0.75  # a region stands apart when its border conducts at most a quarter of a boundary-free surface's
MATCH_TOLERANCE = 0.01  # levels whose agreement with the parts is this close to the best are equals
MOSTLY = 0.5  # a region lies mostly in a part holding more than this share of its area


def region_contrast(conductance: sp.csr_matrix, uniform: sp.csr_matrix, region: np.ndarray, pieces: int) -> np.ndarray:
    """(K,) float64 in [0, 1] boundary strength around each region 0..K-1 of (S,)
    `region` (a region per superface): 1 - (conductance across its border) / (what a
    boundary-free surface conducts across it), from (S, S) superface `conductance` and
    `uniform` sums. A region with no border is a whole piece: 1 when the surface has
    several `pieces` (it stands apart), else 0."""
    count = int(region.max(initial=-1)) + 1

    def across_borders(weights: sp.csr_matrix) -> np.ndarray:
        pairs = weights.tocoo()
        across = region[pairs.row] != region[pairs.col]
        return np.bincount(region[pairs.row[across]], pairs.data[across], minlength=count)

    crossing, free = across_borders(conductance), across_borders(uniform)
    alone = 1.0 if pieces > 1 else 0.0
    return np.where(free > 0, 1.0 - crossing / np.maximum(free, 1e-300), alone)


def default_level(hierarchy: PartHierarchy, conductance: sp.csr_matrix, uniform: sp.csr_matrix, within: np.ndarray) -> int:
    """Index (into `hierarchy.level_counts()`) of the finest level at which the surface
    given by (S,) bool superfaces `within` lies in at least two regions, each standing
    apart (`region_contrast` >= STANDS_APART; coarser levels failing do not stop the
    search, see the module docstring); 0 (the coarsest) when no level splits it so."""
    chosen = 0
    for index, region in enumerate(hierarchy.superface_levels()):
        shown = np.unique(region[within])
        if len(shown) >= 2 and region_contrast(conductance, uniform, region, hierarchy.roots)[shown].min() >= STANDS_APART:
            chosen = index
    return chosen


def level_agreement(levels: np.ndarray, labels: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """(L,) float64 in [0, 1] per level of (L, F) `levels`: the mean over the parts of
    (F,) `labels` (-1 = none) of the best area IoU (with (F,) `areas`) between the part
    and a region of the level (regions counted whole, unlabelled faces too)."""
    owned = labels >= 0
    parts, part = np.unique(labels[owned], return_inverse=True)
    part_area = np.bincount(part, areas[owned])
    result = np.zeros(len(levels))
    for index, region in enumerate(levels):
        region_area = np.bincount(region, areas)
        count = len(region_area)
        overlap = np.bincount(part * count + region[owned], areas[owned], minlength=len(parts) * count).reshape(len(parts), count)
        union = part_area[:, None] + region_area[None] - overlap
        result[index] = (overlap / np.maximum(union, 1e-300)).max(axis=1).mean() if len(parts) else 0.0
    return result


def matching_level(levels: np.ndarray, labels: np.ndarray, areas: np.ndarray, preferred: int) -> int:
    """Index of the level of (L, F) `levels` agreeing best with the parts of (F,)
    `labels` (`level_agreement`), the nearest to index `preferred` among those within
    MATCH_TOLERANCE of the best."""
    agreement = level_agreement(levels, labels, areas)
    equals = np.flatnonzero(agreement >= agreement.max() - MATCH_TOLERANCE)
    return int(equals[np.argmin(np.abs(equals - preferred))])


def region_owners(region: np.ndarray, labels: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """(K,) int64 the part of (F,) `labels` (-1 = none) holding more than MOSTLY of the
    area (by (F,) `areas`) of each region 0..K-1 of (F,) `region`, -1 where none does."""
    count = int(region.max(initial=-1)) + 1
    owned = labels >= 0
    parts, part = np.unique(labels[owned], return_inverse=True)
    overlap = np.bincount(region[owned] * len(parts) + part, areas[owned], minlength=count * len(parts)).reshape(count, len(parts))
    region_area = np.bincount(region, areas, minlength=count)
    result = np.full(count, -1, np.int64)
    if len(parts):
        best = overlap.argmax(axis=1)
        mostly = overlap[np.arange(count), best] > MOSTLY * region_area
        result[mostly] = parts[best[mostly]]
    return result
