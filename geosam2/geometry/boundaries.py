"""Part boundaries on a surface as edge weights of its face graph.

The minima rule of part perception (Hoffman & Richards): parts meet along concave
valleys of the surface. On an artist mesh the valleys are sharp creases (and pieces
are not even connected); on a generated mesh (one marching-cubes surface,
decimated) they are soft and noisy, spread over a few faces. Both come out of one
measure: the concave fold between the two faces of an edge, measured on normals
smoothed over a distance on the surface (a diffusion of the normals over about 1 %
and 2 % of the object's size, whatever its tessellation), so that a valley rounded
over several faces still reads as a fold while the noise of single faces averages
out; the fold is the turn of the normals per unit length (scaled to an edge of
REFERENCE_GAP), so that a valley folds alike on a coarse and a dense mesh. Each
scale votes and the strongest concave fold counts; a sharp concave crease
(`geosam2.geometry.facegraph.creases`, measured on the faces themselves) is a full
boundary whatever the smoothing; convex folds (the rim of a cylinder, the edge of
a box) are no boundary. A boundary is a fold exceptional on its surface: where more
than TEXTURE_SHARE of the edge length folds by more than TEXTURE_FOLD at the fine
scale but not at the coarsest (a generated surface wrinkled all over, whose noise
survives the fine smoothing only), all folds are scaled down alike until only that
share does (`texture_scale`), so that the wrinkles read as texture and the valleys,
deeper than them and lasting across scales, still as boundaries.

The weights serve every later step: the random walks of clicks, the superfaces and
the hierarchy of parts (`geosam2.geometry.hierarchy`). The conductance of an edge
is the cotangent-like ratio shared edge length / centroid distance (a uniform
conductor on any tessellation) times exp(-SHARPNESS * fold), the fold being
`concave_folds`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..io.mesh import Mesh
from .dissection import factorised
from .facegraph import WELD_TOLERANCE, FaceGraph, creases
from .regions import shared_edge_lengths

SMOOTHING_RADIUS = 0.012  # normalised units (the longest side is 1): the finer scale of smoothing on the surface
SMOOTHING_STEPS = (1, 3)  # scales: the smoothing applied this many times (radius * sqrt(steps): 0.012, 0.021)
FACTORISED_FACES = 2_000_000  # up to this many faces the smoothing is factorised (about 1.2 kB a face at 500k, growing as F log F)
SOLVE_TOLERANCE = 1e-4  # above: conjugate gradients to this relative residual (smoothed normals within about 0.3 degree)
REFERENCE_GAP = 0.006  # normalised units: folds are measured as over edges this long (faces of a 60k-face object)
TEXTURE_SHARE = 0.2  # at most this share of a surface's edge length folds more than its texture
TEXTURE_FOLD = 1.0 - np.cos(np.radians(3.0))  # the fold of texture: e^-1.4 of the conductance kept
SHARPNESS = 1000.0  # 1 / fold: a 3 degree concave fold (over REFERENCE_GAP) keeps e^-1.4 of the conductance, 10 degrees e^-15
MIN_CONDUCTANCE = 1e-9  # relative: an edge never conducts nothing (a zero reads as no edge)


@dataclass(frozen=True, eq=False)
class Boundaries:
    """Boundary weights of the edges of a face graph.

    Attributes
    ----------
    fold : (E,) float64 in [0, 2]
        Concave fold of each edge (`concave_folds` of the smoothed normals), the
        largest over the smoothing scales; 0 for convex or flat edges.
    uniform : (E,) float64 > 0
        Shared edge length / centroid distance (normalised units cancel): the
        conductance of a surface without boundaries.
    conductance : (E,) float64 > 0
        `uniform` times
        exp(-SHARPNESS * fold): how freely a random walk crosses the edge.
    strength : (E,) float64 in [0, 1]
        1 - exp(-SHARPNESS * fold): 0 inside a part, 1 on a sharp valley.
    """

    fold: np.ndarray
    uniform: np.ndarray
    conductance: np.ndarray
    strength: np.ndarray


def smoothing(mesh: Mesh, graph: FaceGraph, uniform: np.ndarray, radius: float = SMOOTHING_RADIUS):
    """The smoothing of face quantities over a distance on the surface: one implicit step
    of diffusion, (M + t L)^-1 M with M the (F,) face areas, L the face graph's Laplacian
    of (E,) `uniform` conductances and t = radius^2 / 4 (its kernel's mean squared reach
    is radius^2), whatever the tessellation. Returns a function (F, K) -> (F, K): the
    matrix factorised once (`geosam2.geometry.dissection.factorised`, exact) up to
    FACTORISED_FACES faces, else `conjugate_gradients` from the values themselves."""
    weights = graph.subgraph(np.ones(len(uniform), bool), uniform)
    laplacian = sp.diags(np.asarray(weights.sum(axis=1)).ravel()) - weights
    mass = sp.diags(np.maximum(mesh.face_areas, 1e-12 * mesh.face_areas.mean()))  # a face without area still has a row
    matrix = (mass + radius**2 / 4.0 * laplacian).tocsr()
    if mesh.num_faces > FACTORISED_FACES:
        return lambda values: conjugate_gradients(matrix, mass @ values, values)
    solve = factorised(matrix, mesh.centroids, graph.pairs)
    return lambda values: solve(mass @ values)


def conjugate_gradients(matrix: sp.csr_matrix, right: np.ndarray, start: np.ndarray, tolerance: float = SOLVE_TOLERANCE) -> np.ndarray:
    """(N, K) float64 solution x of `matrix` x = `right` for a symmetric positive definite
    (N, N) `matrix` and (N, K) `right`, all columns at once, by conjugate gradients
    preconditioned by the diagonal, from (N, K) `start`, until every column's residual
    is below `tolerance` times its right-hand side (at most N iterations). Memory O(N)
    where a factorisation's grows as N log N, but about 120 iterations a solve on a
    500k-face mesh (and more as the mesh is finer)."""

    def column_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->j", a, b)  # (K,): many times faster than (a * b).sum(axis=0) on (N, K)

    inverse_diagonal = 1.0 / matrix.diagonal()[:, None]
    solution = np.array(start, np.float64)
    residual = right - matrix @ solution
    goal = tolerance**2 * column_dots(right, right)
    step = inverse_diagonal * residual
    product = column_dots(residual, step)
    for _ in range(matrix.shape[0]):
        if (column_dots(residual, residual) <= goal).all():
            break
        pushed = matrix @ step
        length = product / np.maximum(column_dots(step, pushed), 1e-300)
        solution += length * step
        residual -= length * pushed
        preconditioned = inverse_diagonal * residual
        product, previous = column_dots(residual, preconditioned), product
        step = preconditioned + product / np.maximum(previous, 1e-300) * step
    return solution


def concave_folds(mesh: Mesh, graph: FaceGraph, normals: np.ndarray) -> np.ndarray:
    """(E,) float64 fold of each edge by the (F, 3) `normals` of its faces where it folds
    inwards ((n_i - n_j) . (c_j - c_i) > 0, c the centroids), else 0: 1 - cos of the
    angle between the normals scaled to an edge of REFERENCE_GAP (the turn of the
    normals per unit length, so that a valley folds alike however finely meshed),
    at most pi."""
    first, second = graph.pairs.T
    cos = np.clip(np.einsum("ij,ij->i", normals[first], normals[second]), -1.0, 1.0)
    step = mesh.centroids[second] - mesh.centroids[first]
    gap = np.maximum(np.linalg.norm(step, axis=1), WELD_TOLERANCE)
    turn = np.minimum(np.arccos(cos) * REFERENCE_GAP / gap, np.pi)
    inwards = np.einsum("ij,ij->i", normals[first] - normals[second], step) > 1e-12
    return np.where(inwards, 1.0 - np.cos(turn), 0.0)


def common_fold(fold: np.ndarray, length: np.ndarray) -> float:
    """The fold exceeded by at most TEXTURE_SHARE of the total (E,) `length` of edges
    with (E,) `fold` (per unit length weighted by length: the same whatever the
    tessellation); 0 without edges."""
    if not len(fold):
        return 0.0
    order = np.argsort(fold)
    below = np.cumsum(length[order]) / max(length.sum(), 1e-300)
    return float(fold[order][min(np.searchsorted(below, 1.0 - TEXTURE_SHARE), len(fold) - 1)])


def texture_scale(fold: np.ndarray, coarsest: np.ndarray, length: np.ndarray) -> float:
    """Factor in (0, 1] for the (E,) `fold` of edges of (E,) `length` (any unit) such
    that after it at most TEXTURE_SHARE of the length folds more than TEXTURE_FOLD,
    when that common fold is texture: when it fades at the coarsest scale ((E,)
    `coarsest` folds: its common fold below TEXTURE_FOLD), as noise does and the
    junctions of many thin parts (a vine's stems) do not; 1 otherwise."""
    if common_fold(coarsest, length) >= TEXTURE_FOLD:
        return 1.0
    return min(1.0, TEXTURE_FOLD / max(common_fold(fold, length), 1e-300))


def boundaries(mesh: Mesh, graph: FaceGraph | None = None, steps: tuple[int, ...] = SMOOTHING_STEPS) -> Boundaries:
    """The `Boundaries` of `mesh` over `graph` (default ``mesh.graph``), the concave
    fold taken as the largest over the smoothing scales (`smoothing` applied `steps`
    times each), scaled by `texture_scale`."""
    graph = mesh.graph if graph is None else graph
    centroid_gap = np.linalg.norm(mesh.centroids[graph.pairs[:, 1]] - mesh.centroids[graph.pairs[:, 0]], axis=1)
    length = shared_edge_lengths(mesh, graph)
    uniform = np.maximum(length / np.maximum(centroid_gap, WELD_TOLERANCE), MIN_CONDUCTANCE)
    smooth = smoothing(mesh, graph, uniform)
    fold = coarsest = np.zeros(len(graph.pairs))
    done, normals = 0, mesh.face_normals.astype(np.float64)
    for total in sorted(steps):
        for _ in range(total - done):
            normals = smooth(normals)
        done = total
        unit = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-30)
        coarsest = concave_folds(mesh, graph, unit)
        fold = np.maximum(fold, coarsest)
    fold *= texture_scale(fold, coarsest, length)
    fold[creases(mesh, graph)] = 2.0  # a sharp concave crease (artist meshes) is a full boundary at any scale
    passing = np.exp(-SHARPNESS * fold)
    return Boundaries(fold, uniform, np.maximum(uniform * passing, MIN_CONDUCTANCE), 1.0 - passing)
