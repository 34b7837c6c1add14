"""Part boundaries on a surface as edge weights of its face graph.

The minima rule of part perception (Hoffman & Richards): parts meet along concave
valleys of the surface. On an artist mesh the valleys are sharp creases (and pieces
are not even connected); on a generated mesh (one marching-cubes surface,
decimated) they are soft and noisy, spread over a few faces. Both come out of one
measure: the concave fold between the two faces of an edge, measured on normals
smoothed over a neighbourhood (area-weighted averages repeated over neighbouring
faces, a few rings and several times more), so that a valley rounded over several
faces still reads as a fold while the noise of single faces averages out. Each
scale votes and the strongest concave fold counts; a sharp concave crease
(`geosam2.geometry.facegraph.creases`, measured on the faces themselves) is a full
boundary whatever the smoothing; convex folds (the rim of a cylinder, the edge of
a box) are no boundary.

The weights serve every later step: the random walks of clicks, the superfaces and
the hierarchy of parts (`geosam2.geometry.hierarchy`). The conductance of an edge
is the cotangent-like ratio shared edge length / centroid distance (a uniform
conductor on any tessellation) times exp(-SHARPNESS * fold), the fold being
1 - cos of the angle between the smoothed normals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..io.mesh import Mesh
from .facegraph import WELD_TOLERANCE, FaceGraph, creases
from .regions import shared_edge_lengths

SMOOTHING_ROUNDS = (3, 9)  # scales: rounds of averaging over neighbouring faces (noise of single faces averages out)
SHARPNESS = 1000.0  # 1 / fold: a 3 degree concave fold keeps e^-1.4 of the conductance, 10 degrees e^-15
MIN_CONDUCTANCE = 1e-9  # relative: an edge never conducts nothing (a zero reads as no edge)


@dataclass(frozen=True, eq=False)
class Boundaries:
    """Boundary weights of the edges of a face graph.

    Attributes
    ----------
    fold : (E,) float64 in [0, 2]
        Concave fold of each edge, 1 - cos of the angle between the two faces'
        smoothed normals, the largest over the smoothing scales; 0 for convex or
        flat edges.
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


def smoothed_normals(mesh: Mesh, graph: FaceGraph, rounds: int, start: np.ndarray | None = None) -> np.ndarray:
    """(F, 3) float64 unit face normals averaged `rounds` times over each face and its
    edge neighbours, weighted by face area (0 rounds: the face normals), continuing
    from (F, 3) `start` normals when given."""
    normals = mesh.face_normals.astype(np.float64) if start is None else start
    if rounds == 0:
        return normals
    spread = (graph.adjacency.astype(np.float64) + sp.identity(graph.num_faces, format="csr")) @ sp.diags(mesh.face_areas)
    for _ in range(rounds):
        normals = spread @ normals
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-30)
    return normals


def concave_folds(mesh: Mesh, graph: FaceGraph, normals: np.ndarray) -> np.ndarray:
    """(E,) float64 1 - cos between the (F, 3) `normals` of each edge's faces where the
    edge folds inwards by them ((n_i - n_j) . (c_j - c_i) > 0, c the centroids), else 0."""
    first, second = graph.pairs.T
    cos = np.einsum("ij,ij->i", normals[first], normals[second])
    step = mesh.centroids[second] - mesh.centroids[first]
    inwards = np.einsum("ij,ij->i", normals[first] - normals[second], step) > 1e-12
    return np.where(inwards, np.clip(1.0 - cos, 0.0, 2.0), 0.0)


def boundaries(mesh: Mesh, graph: FaceGraph | None = None, rounds: tuple[int, ...] = SMOOTHING_ROUNDS) -> Boundaries:
    """The `Boundaries` of `mesh` over `graph` (default ``mesh.graph``), the concave
    fold taken as the largest over the smoothing `rounds`."""
    graph = mesh.graph if graph is None else graph
    fold = np.zeros(len(graph.pairs))
    done, normals = 0, None
    for total in sorted(rounds):
        normals = smoothed_normals(mesh, graph, total - done, normals)
        done = total
        fold = np.maximum(fold, concave_folds(mesh, graph, normals))
    fold[creases(mesh, graph)] = 2.0  # a sharp concave crease (artist meshes) is a full boundary at any scale
    centroid_gap = np.linalg.norm(mesh.centroids[graph.pairs[:, 1]] - mesh.centroids[graph.pairs[:, 0]], axis=1)
    uniform = shared_edge_lengths(mesh, graph) / np.maximum(centroid_gap, WELD_TOLERANCE)
    uniform = np.maximum(uniform, MIN_CONDUCTANCE)
    passing = np.exp(-SHARPNESS * fold)
    return Boundaries(fold, uniform, np.maximum(uniform * passing, MIN_CONDUCTANCE), 1.0 - passing)

