"""Regions of a mesh surface as the units parts are made of: congruent copies, the
split of one region between several seeds, and the part a region sits closest to.

A region is a set of faces given by an (F,) int id per face (e.g. the geometry
segmenter's crease parts or connected pieces). Objects repeat regions (wheels,
legs, bolts, slats): two regions are congruent copies when their areas and their
principal extents (the square roots of the eigenvalues of the area-weighted
covariance of their faces' centroids, sorted) agree within a relative tolerance;
this holds for translated, rotated and mirrored copies.

Where seeds of several owners (clicks of several prompts) fall in one region, a
random walk (Grady's random walker on the face graph, over the boundary conductances
of `geosam2.geometry.boundaries`) gives each face to the owner a walk from it most
probably reaches first. Resistance piles up where the surface narrows (a neck) or
folds inwards (the minima rule of part perception; cf. Lai et al.'s random walks for
mesh segmentation), so boundaries settle there rather than halfway between the clicks.
"""

from __future__ import annotations

import numpy as np

from .facegraph import FaceGraph, weld_vertices
from ..io.mesh import Mesh

CONGRUENCE_TOLERANCE = 0.03  # relative difference of area and of each principal extent


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
    conductance : (E,) float64 >= 0, e.g. `geosam2.geometry.boundaries.Boundaries.conductance`.
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


def closest_parts(mesh: Mesh, units: np.ndarray, small: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The part of (F,) `labels` closest to each unit of (F,) `units` (-1 = none)
    flagged in (U,) bool `small` (`closest_labels`), the faces of those units left out
    of the parts.

    Returns (F,) `labels` without those units' faces (-1 there), and (U,) int64 the
    closest part per flagged unit (-1 for the others)."""
    flagged = np.where((units >= 0) & small[np.maximum(units, 0)], units, -1)
    context = np.where(flagged >= 0, -1, labels)
    closest = np.full(len(small), -1, np.int64)
    found = closest_labels(mesh, context, flagged)
    closest[: len(found)] = found
    return context, np.where(small, closest, -1)


def parts_of_copies(unit_family: np.ndarray, reference_family: np.ndarray, reference_parts: np.ndarray) -> np.ndarray:
    """The part each unit is a copy of, from the congruence families of (U,) units and of
    (R,) reference regions lying in one part each: a unit whose family has references
    is a copy of their part when they all lie in one part (else they are instances of
    several). Copies may share a piece: with concave creases only, a piece's crease
    parts are features set apart by valleys (studs welded on a panel), not the sides
    of one box.

    Returns (U,) int64 part per unit, -1 for none."""
    families = int(max(unit_family.max(initial=-1), reference_family.max(initial=-1))) + 1
    family_parts = np.unique(np.stack([reference_family, reference_parts], axis=1), axis=0)
    the_part = np.full(families, -1, np.int64)
    the_part[family_parts[:, 0]] = family_parts[:, 1]
    one_part = np.bincount(family_parts[:, 0], minlength=families) == 1
    return np.where(one_part[unit_family], the_part[unit_family], -1)
