"""Regions of a mesh surface as the units parts are made of: congruent copies, the
split of one region between several seeds, and the part a region sits closest to.

A region is a set of faces given by an (F,) int id per face (e.g. the geometry
segmenter's crease parts or connected pieces). Objects repeat regions (wheels,
legs, bolts, slats): two regions are congruent copies when their areas and their
principal extents (the square roots of the eigenvalues of the area-weighted
covariance of their faces' centroids, sorted) agree within a relative tolerance;
this holds for translated, rotated and mirrored copies.

Where seeds of several owners (clicks of several prompts) fall in one region, the
region is divided between them: each owner first takes its core, the faces far
nearer to its seeds than to any other's along the surface, where crossing a concave
edge costs extra in proportion to its fold angle; then a random walk from the cores
(Grady's random walker on the face graph, with the conductance of each edge its
shared length over that same cost) gives the contested band to the owner a walk
most probably reaches first. Resistance piles up where the surface narrows (a neck)
or folds inwards (the minima rule of part perception; cf. Katz & Tal's
concavity-weighted distances, Lai et al.'s random walks for mesh segmentation), so
boundaries settle there rather than halfway between the clicks.
"""

from __future__ import annotations

import numpy as np

from .facegraph import FaceGraph, valleys, weld_vertices
from ..io.mesh import Mesh

CONGRUENCE_TOLERANCE = 0.03  # relative difference of area and of each principal extent
CONCAVITY_COST = 0.5  # normalised units of extra length per radian of inward fold crossed
CORE_RATIO = 0.3  # a face over three times nearer to one owner's seeds than to any other's is that owner's


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

    # exact copies (equal signatures up to rounding) are compared once, through one representative
    keys = np.round(np.log(np.maximum(signatures, 1e-30)) * 1e6).astype(np.int64)
    _, representative, copy_of = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    unique = signatures[representative]
    count = len(unique)
    scale = np.maximum(unique, tolerance * unique[:, 1:2])  # flat regions: a zero extent is not compared relatively
    order = np.argsort(unique[:, 0], kind="stable")
    areas = unique[order, 0]
    ends = np.searchsorted(areas, areas * (1 + tolerance), side="right")  # areas sorted: candidates follow closely
    pairs = []
    for rank, k in enumerate(order):
        others = order[rank + 1 : ends[rank]]
        difference = np.abs(unique[others] - unique[k]) / np.maximum(scale[others], scale[k])
        pairs += [(k, other) for other in others[(difference <= tolerance).all(axis=1)]]
    i, j = np.array(pairs, np.int64).reshape(-1, 2).T
    graph = coo_matrix((np.ones(len(i), bool), (i, j)), shape=(count, count))
    return connected_components(graph, directed=False)[1].astype(np.int32)[copy_of.reshape(-1)]


def concavity_lengths(mesh: Mesh, graph: FaceGraph) -> np.ndarray:
    """(E,) float64 length of each face-graph edge (normalised units): the distance
    between the two faces' centroids, plus CONCAVITY_COST times the fold angle (radians)
    where the edge folds inwards (`geosam2.geometry.facegraph.valleys`). The folds crossed add up to the turn of the surface,
    whatever its tessellation: a valley costs the same however finely it is meshed."""
    i, j = graph.pairs.T
    fold = np.arccos(np.clip(graph.cos_dihedral, -1.0, 1.0))
    return np.linalg.norm(mesh.centroids[j] - mesh.centroids[i], axis=1) + CONCAVITY_COST * valleys(mesh, graph) * fold


def shared_edge_lengths(mesh: Mesh, graph: FaceGraph) -> np.ndarray:
    """(E,) float64 length of the edge each face-graph pair shares (normalised units;
    0 where the two faces share fewer than two welded vertices)."""
    welded = weld_vertices(mesh.vertices, mesh.faces)
    first, second = welded[graph.pairs[:, 0]], welded[graph.pairs[:, 1]]
    shared = (first[:, :, None] == second[:, None, :]).any(axis=2)  # (E, 3): first's corners also in second
    corners = mesh.vertices[mesh.faces[graph.pairs[:, 0]]]  # (E, 3, 3)
    order = np.argsort(~shared, axis=1, kind="stable")[:, :2]  # the two shared corners first
    ends = np.take_along_axis(corners, order[:, :, None], axis=1)
    return np.where(shared.sum(1) >= 2, np.linalg.norm(ends[:, 0] - ends[:, 1], axis=1), 0.0)


def random_walk_split(graph: FaceGraph, conductance: np.ndarray, faces: np.ndarray, seeds: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """Divide the faces `faces` ((F,) bool) between seed faces by random walks: each face
    goes to the owner whose seeds a random walk from it most probably reaches first,
    over the edges inside `faces` with (E,) `conductance` (the harmonic field of each
    owner, seeds held at 1 for it and 0 for the others; Grady's random walker).
    Resistance piles up where the surface is narrow (a neck) or folds inwards, so the
    boundaries settle there rather than halfway between the seeds.

    Parameters
    ----------
    graph : FaceGraph
    conductance : (E,) float64 >= 0, e.g. shared edge length / `concavity_lengths`.
    faces : (F,) bool, the faces to divide.
    seeds : (S,) int, seed faces (inside `faces`).
    owners : (S,) int, the label each seed spreads.

    Returns
    -------
    (F,) int64: the owner reached most probably from each face of `faces` connected to a
    seed (the first seed listed wins a face seeded twice), -1 elsewhere.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import splu

    seeds, owners = np.asarray(seeds, np.int64), np.asarray(owners, np.int64)
    keep = faces[graph.pairs[:, 0]] & faces[graph.pairs[:, 1]]
    matrix = graph.subgraph(keep, np.maximum(conductance, 1e-12))  # a zero weight would read as no edge
    component = connected_components(matrix, directed=False)[1]
    reached = faces & np.isin(component, component[seeds])
    result = np.full(graph.num_faces, -1, np.int64)
    first = np.unique(seeds, return_index=True)[1]  # a face seeded twice: the first owner
    seeds, owners = seeds[first], owners[first]
    result[seeds] = owners
    free = np.flatnonzero(reached & (result < 0))
    if len(free) == 0:
        return result
    names, columns = np.unique(owners, return_inverse=True)
    laplacian = sp.diags(np.asarray(matrix.sum(axis=1)).ravel()) - matrix
    boundary = np.zeros((len(seeds), len(names)))
    boundary[np.arange(len(seeds)), columns] = 1.0
    inner = laplacian[free][:, free].tocsc() + sp.identity(len(free), format="csc") * 1e-12
    right = -(laplacian[free][:, seeds] @ boundary)
    probability = splu(inner).solve(np.asarray(right))
    result[free] = names[np.argmax(probability.reshape(len(free), -1), axis=1)]
    return result


def split_between_seeds(
    graph: FaceGraph, lengths: np.ndarray, conductance: np.ndarray, faces: np.ndarray, seeds: np.ndarray, owners: np.ndarray
) -> np.ndarray:
    """Divide the faces `faces` ((F,) bool) between seed faces: each owner first takes its
    core, the faces much nearer to its seeds than to any other owner's along the surface
    (distance below CORE_RATIO times the distance to the nearest other owner, over
    (E,) edge `lengths`), then a random walk (`random_walk_split`, (E,) `conductance`)
    from the cores divides the contested band between them. A single clicked face
    alone would hold almost no random-walk potential; the cores scale with the
    spacing of the clicks.

    Returns (F,) int64 owners as `random_walk_split`.
    """
    from scipy.sparse.csgraph import dijkstra

    seeds, owners = np.asarray(seeds, np.int64), np.asarray(owners, np.int64)
    names = np.unique(owners)
    if len(names) < 2:
        return random_walk_split(graph, conductance, faces, seeds, owners)
    keep = faces[graph.pairs[:, 0]] & faces[graph.pairs[:, 1]]
    matrix = graph.subgraph(keep, np.maximum(lengths, 1e-12))
    distance = np.stack([dijkstra(matrix, directed=False, indices=seeds[owners == name], min_only=True) for name in names])
    order = np.argsort(distance, axis=0)
    nearest, second = np.take_along_axis(distance, order[:2], axis=0)
    core = faces & np.isfinite(nearest) & (nearest < CORE_RATIO * second)
    core_faces = np.r_[seeds, np.flatnonzero(core)]  # the clicked faces first: they keep their owners
    core_owners = np.r_[owners, names[order[0, core]]]
    return random_walk_split(graph, conductance, faces, core_faces, core_owners)


def closest_labels(mesh: Mesh, labels: np.ndarray, units: np.ndarray) -> np.ndarray:
    """For each unit id 0..U-1 of (F,) `units` (-1 = in none), the label (of (F,)
    `labels`, -1 = unlabelled) of the labelled face nearest to it: the smallest distance
    between the corners and centroids of the unit's faces and of the labelled faces
    (touching units are at distance 0). Returns (U,) int64; -1 when nothing is labelled."""
    from scipy.spatial import cKDTree

    count = int(units.max(initial=-1)) + 1
    labelled = np.flatnonzero(labels >= 0)
    if len(labelled) == 0 or count == 0:
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
