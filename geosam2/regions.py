"""Regions of a mesh surface as the units parts are made of: congruent copies, the
split of one region between several seeds, and the part a region sits closest to.

A region is a set of faces given by an (F,) int id per face (e.g. the geometry
segmenter's crease parts or connected pieces). Objects repeat regions (wheels,
legs, bolts, slats): two regions are congruent copies when their areas and their
principal extents (the square roots of the eigenvalues of the area-weighted
covariance of their faces' centroids, sorted) agree within a relative tolerance;
this holds for translated, rotated and mirrored copies.

Where several seeds fall in one region, the region is divided by a geodesic
Voronoi partition of its face graph: every face goes to the seed closest along the
surface, and crossing a concave edge costs extra in proportion to its fold angle, so
that boundaries settle in concave valleys (the minima rule of part perception; cf.
Katz & Tal's concavity-weighted distances).
"""

from __future__ import annotations

import numpy as np

from .facegraph import FaceGraph
from .mesh import Mesh

CONGRUENCE_TOLERANCE = 0.03  # relative difference of area and of each principal extent
CONCAVITY_COST = 0.5  # normalised units of extra length per radian of inward fold crossed


def region_signatures(mesh: Mesh, regions: np.ndarray) -> np.ndarray:
    """(K, 4) float64 per region id 0..K-1 of (F,) `regions` (-1 = in none): its area,
    then its three principal extents (square roots of the area-weighted covariance
    eigenvalues of face centroids, in normalised units), decreasing. Regions without
    faces have area 0."""
    count = int(regions.max(initial=-1)) + 1
    inside = regions >= 0
    mesh_areas, regions, centroids = mesh.face_areas[inside], regions[inside], mesh.centroids[inside]
    areas = np.bincount(regions, mesh_areas, minlength=count)
    weight = mesh_areas / np.maximum(areas[regions], 1e-30)
    mean = np.zeros((count, 3))
    np.add.at(mean, regions, weight[:, None] * centroids)
    offset = centroids - mean[regions]
    covariance = np.zeros((count, 3, 3))
    np.add.at(covariance, regions, weight[:, None, None] * offset[:, :, None] * offset[:, None, :])
    extents = np.sqrt(np.clip(np.linalg.eigvalsh(covariance), 0, None))[:, ::-1]
    return np.column_stack([areas, extents])


def congruent_families(signatures: np.ndarray, tolerance: float = CONGRUENCE_TOLERANCE) -> np.ndarray:
    """(K,) int32 family id per region: regions whose (K, 4) `region_signatures` agree
    within `tolerance` (relative to the larger value; extents below `tolerance` times
    the region's largest extent count as equal) share a family (transitively)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    count = len(signatures)
    scale = np.maximum(signatures, tolerance * signatures[:, 1:2])  # flat regions: a zero extent is not compared relatively
    order = np.argsort(signatures[:, 0], kind="stable")
    areas = signatures[order, 0]
    ends = np.searchsorted(areas, areas * (1 + tolerance), side="right")  # areas sorted: candidates follow closely
    pairs = []
    for rank, k in enumerate(order):
        others = order[rank + 1 : ends[rank]]
        difference = np.abs(signatures[others] - signatures[k]) / np.maximum(scale[others], scale[k])
        pairs += [(k, other) for other in others[(difference <= tolerance).all(axis=1)]]
    i, j = np.array(pairs, np.int64).reshape(-1, 2).T
    graph = coo_matrix((np.ones(len(i), bool), (i, j)), shape=(count, count))
    return connected_components(graph, directed=False)[1].astype(np.int32)


def concavity_lengths(mesh: Mesh, graph: FaceGraph) -> np.ndarray:
    """(E,) float64 length of each face-graph edge (normalised units): the distance
    between the two faces' centroids, plus CONCAVITY_COST times the fold angle (radians)
    where the edge folds inwards. The folds crossed add up to the turn of the surface,
    whatever its tessellation: a valley costs the same however finely it is meshed."""
    i, j = graph.pairs.T
    centroids = mesh.centroids
    step = centroids[j] - centroids[i]
    concave = np.einsum("ij,ij->i", mesh.face_normals[i] - mesh.face_normals[j], step) > 1e-12
    fold = np.arccos(np.clip(graph.cos_dihedral, -1.0, 1.0))
    return np.linalg.norm(step, axis=1) + CONCAVITY_COST * concave * fold


def split_between_seeds(graph: FaceGraph, lengths: np.ndarray, faces: np.ndarray, seeds: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """Divide the faces `faces` ((F,) bool) between seed faces: the geodesic Voronoi
    partition over the edges inside `faces`, with (E,) edge `lengths`.

    Parameters
    ----------
    graph : FaceGraph
    lengths : (E,) float64, e.g. `concavity_lengths`.
    faces : (F,) bool, the faces to divide.
    seeds : (S,) int, seed faces (inside `faces`).
    owners : (S,) int, the label each seed spreads.

    Returns
    -------
    (F,) int64: the owner of the closest seed for each face of `faces` that a seed
    reaches (of the first seed listed, for a face seeded twice), -1 elsewhere.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    keep = faces[graph.pairs[:, 0]] & faces[graph.pairs[:, 1]]
    i, j = graph.pairs[keep].T
    weights = np.maximum(lengths[keep], 1e-12)  # a zero weight would read as no edge
    matrix = sp.csr_matrix((weights, (i, j)), shape=(graph.num_faces,) * 2)
    _, _, sources = dijkstra(matrix, directed=False, indices=np.asarray(seeds), min_only=True, return_predecessors=True)
    owner_of_face = np.full(graph.num_faces, -1, np.int64)
    owner_of_face[np.asarray(seeds)[::-1]] = np.asarray(owners)[::-1]  # a face seeded twice: the first owner
    return np.where((sources >= 0) & faces, owner_of_face[np.maximum(sources, 0)], -1)


def closest_labels(mesh: Mesh, labels: np.ndarray, units: np.ndarray) -> np.ndarray:
    """For each unit id 0..U-1 of (F,) `units` (-1 = in none), the label (of (F,)
    `labels`, -1 = unlabelled) of the labelled face nearest to it: the smallest distance
    between the corners and centroids of the unit's faces and of the labelled faces
    (touching units are at distance 0). Returns (U,) int64; -1 when nothing is labelled."""
    from scipy.spatial import cKDTree

    count = int(units.max(initial=-1)) + 1
    labelled = np.flatnonzero(labels >= 0)
    if len(labelled) == 0:
        return np.full(count, -1, np.int64)

    def points(faces):
        return np.concatenate([mesh.triangles[faces].reshape(-1, 3), mesh.centroids[faces]]), np.r_[np.repeat(faces, 3), faces]

    targets, target_faces = points(labelled)
    queries, query_faces = points(np.flatnonzero(units >= 0))
    distance, nearest = cKDTree(targets).query(queries)
    unit = units[query_faces]
    order = np.lexsort((distance, unit))  # by unit, closest first
    first = order[np.r_[True, unit[order][1:] != unit[order][:-1]]]
    result = np.full(count, -1, np.int64)
    result[unit[first]] = labels[target_faces[nearest[first]]]
    return result
