"""Clicks as seeds: the part under a click, competing with the other clicks and with
the parts nobody clicked.

A click seeds its superface (`geosam2.geometry.hierarchy`: a small patch that stops
at valleys), so that its random-walk potential does not vanish as a single face's
would. At a level of the hierarchy (the user's scale), every region holding no positive click is a part nobody asked for:
its interior superfaces seed a competitor ("nobody"), as do negative clicks. A
random walk (`geosam2.geometry.regions.random_walk_split`, the boundary
conductances) then gives each face to the seed a walk from it most probably
reaches first, so a click on a leg gives the leg, not the whole object; faces won
by nobody stay unselected (for the automatic completion). The scale is given by the
caller: with one prompt alone, that of the click's best candidate
(`click_candidates`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .facegraph import FaceGraph
from .hierarchy import PartHierarchy
from .levels import STANDS_APART, region_contrast
from .regions import random_walk_split

PART_SHARE = 0.5  # a clicked part is at most this share of its piece (its border: the smaller side's)
MIN_CANDIDATE_RATIO = 2.0  # the three candidates of a click differ in area by at least this factor


def node_contrast(hierarchy: PartHierarchy, conductance: sp.csr_matrix, uniform: sp.csr_matrix, nodes: np.ndarray) -> np.ndarray:
    """(N,) float64 in [0, 1] strength of the boundary around each merge-tree node of
    `nodes` (`geosam2.geometry.levels.region_contrast` of the node against the rest),
    with (S, S) superface `conductance` and `uniform` sums."""
    inside = [hierarchy.members(int(node)).astype(np.int64) for node in nodes]
    return np.array([region_contrast(conductance, uniform, region, hierarchy.roots)[1] for region in inside])


def click_candidates(hierarchy: PartHierarchy, contrast_of, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to three nested regions around the superface `patch`, small to large: the
    node of its chain (merge-tree nodes holding it) `best_region` picks
    (`contrast_of`: (N,) nodes -> (N,) contrast), the strongest among the nodes at
    least MIN_CANDIDATE_RATIO times smaller, and among those that much larger (the
    whole piece when nothing is larger). The smaller one only when it stands apart
    (contrast at least STANDS_APART): a fragment with no boundary around it is no part.

    Returns (K,) int64 nodes and (K,) float64 contrasts, K <= 3."""
    chain = hierarchy.chain(patch)
    contrast = contrast_of(chain)
    area = hierarchy.area[chain]
    medium = best_region(area, contrast, area[-1])
    chosen = [medium]
    smaller = np.flatnonzero(area * MIN_CANDIDATE_RATIO <= area[medium])
    larger = np.flatnonzero(area >= MIN_CANDIDATE_RATIO * area[medium])
    small = int(smaller[np.argmax(contrast[smaller])]) if len(smaller) else None
    if small is not None and contrast[small] >= STANDS_APART:
        chosen.insert(0, small)
    if len(larger):
        chosen.append(int(larger[np.argmax(contrast[larger])]))
    chosen = sorted(set(chosen))
    return chain[chosen], contrast[chosen]


def best_region(area: np.ndarray, contrast: np.ndarray, piece: float) -> int:
    """Index of the region a click means among nested regions with (K,) `area` and (K,)
    `contrast`, in a piece of area `piece`: the strongest boundary among the regions at
    most PART_SHARE of the piece that stand apart (contrast >= STANDS_APART; the border
    of a region holding nearly all of its piece is that of the small rest), else the
    strongest among those regions and the whole piece (a separate piece without inner
    boundaries: the piece)."""
    part_sized = area <= PART_SHARE * piece
    standing = part_sized & (contrast >= STANDS_APART)
    allowed = standing if standing.any() else part_sized | (area >= piece)
    return int(np.argmax(np.where(allowed, contrast, -1.0)))


def node_count(hierarchy: PartHierarchy, node: int) -> int:
    """The largest number of regions (finest level) at which merge-tree `node` is a region."""
    total = hierarchy.num_superfaces
    return total if node < total else 2 * total - int(node) - 1


def seeded_owners(
    graph: FaceGraph,
    conductance: np.ndarray,
    hierarchy: PartHierarchy,
    count: int,
    clicked: np.ndarray,
    owners: np.ndarray,
    refused: np.ndarray,
    faces: np.ndarray,
) -> np.ndarray:
    """Divide (F,) bool `faces` between the owners of clicks and nobody.

    Parameters
    ----------
    graph, conductance : the face graph and its (E,) boundary conductances.
    hierarchy : the hierarchy of parts; `count` its level (number of regions) giving
        the user's scale.
    clicked : (C,) int faces under positive clicks; owners : (C,) int >= 0 their owners.
    refused : (N,) int faces under negative clicks (nobody's seeds).
    faces : (F,) bool faces to divide (e.g. one crease region).

    Returns
    -------
    (F,) int64 owner per face of `faces` reached from a seed, -1 for nobody and elsewhere.
    """
    patch = hierarchy.superface
    region = hierarchy.node_labels(count)[patch]  # (F,) merge-tree node per face at that level
    claimed = np.unique(region[clicked])
    seeds, seed_owners = [clicked], [owners]
    for face, owner in zip(clicked, owners):  # a click seeds its superface, clipped to its region
        core = np.flatnonzero((patch == patch[face]) & faces)
        seeds.append(core)
        seed_owners.append(np.full(len(core), owner))
    nobody = int(owners.max(initial=-1)) + 1
    unclaimed = faces & ~np.isin(region, claimed)
    interior = _interior_patches(graph, patch, region)
    refused_patches = np.isin(patch, patch[refused]) & faces
    core = np.flatnonzero((unclaimed & interior[patch]) | refused_patches)
    seeds += [np.asarray(refused, np.int64), core]
    seed_owners += [np.full(len(refused), nobody), np.full(len(core), nobody)]
    seeds, seed_owners = np.concatenate(seeds).astype(np.int64), np.concatenate(seed_owners)
    result = random_walk_split(graph, conductance, faces, seeds, seed_owners)
    return np.where(result == nobody, -1, result)


def _interior_patches(graph: FaceGraph, patch: np.ndarray, region: np.ndarray) -> np.ndarray:
    """(S,) bool superfaces all of whose neighbouring superfaces lie in their own region
    (the cores of regions; a region without one keeps all its superfaces)."""
    count = int(patch.max()) + 1
    first, second = graph.pairs.T
    border = region[first] != region[second]
    touching = np.zeros(count, bool)
    touching[patch[first[border]]] = True
    touching[patch[second[border]]] = True
    patch_region = np.zeros(count, np.int64)
    patch_region[patch] = region
    has_core = np.zeros(int(region.max()) + 1, bool)
    np.logical_or.at(has_core, patch_region, ~touching)
    return ~touching | ~has_core[patch_region]
