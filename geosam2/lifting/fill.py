"""Label the faces no view labelled: the nearest labelled face, over the surface or
straight through the solid.

A face that no view shows (or whose label the clean-up cleared) takes the label of
the labelled face it is nearest to, where the distance runs along paths of face
centroids that either step to an adjacent face or cross the object's material in a
straight line: from the face, against its normal, to the face where that line leaves
the solid (the first face it hits, seen from behind, on the same connected piece).
Multi-source Dijkstra over these edges gives every face its nearest labelled face.

Why through the solid: a piece of material belongs to one part, and on an artist
mesh its hidden faces sit on the same separate piece as its seen ones, so a fill
over the adjacency finds them. A generated mesh is one fused surface: the hidden
floor inside a cup is reached over the surface only from the cup's seen inner wall,
while the cup's bottom, the part it belongs to, is the seen underside a few
millimetres below it, through the material. Paths over the surface still win where
they are shorter (a hidden crevice between two seen sides), so a line through a
thick body does not carry a far label into a crevice.

Measured with exact labels on every seen face (the exact-visibility bound,
`bench/bench_lift_generated.py` and `/tmp`-built generated-like objects, 512²):
see the README's lifting paragraph.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import trimesh
from scipy.sparse.csgraph import dijkstra

from ..geometry.facegraph import FaceGraph
from ..io.mesh import Mesh

RAY_OFFSET = 1e-6  # start of a ray inside the solid, in units of the bounding-box diagonal


def _orientation(mesh: Mesh, graph: FaceGraph) -> np.ndarray:
    """(F,) float64 +1 where a face's connected piece of `graph` encloses a positive
    signed volume with the faces as wound (normals outward), -1 where it is wound
    inside out (as some files are)."""
    corners = mesh.vertices[mesh.faces]  # (F, 3, 3)
    signed = np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2]))
    volume = np.bincount(graph.pieces, weights=signed)
    return np.where(volume[graph.pieces] < 0, -1.0, 1.0)


def through_pairs(mesh: Mesh, graph: FaceGraph, faces: np.ndarray) -> np.ndarray:
    """(n, 2) int64 pairs (face, exit face): for each of the (m,) `faces`, the face where
    the line from its centroid into the solid (against its outward normal: normals
    of pieces wound inside out are turned) leaves the solid, when that line first
    hits a face from behind (n_exit . direction > 0) on the same connected piece of
    `graph` (faces whose line leaves through air, or onto another piece, have none)."""
    faces = np.asarray(faces, np.int64)
    if len(faces) == 0:
        return np.zeros((0, 2), np.int64)
    normals = mesh.face_normals * _orientation(mesh, graph)[:, None]  # outward on closed pieces
    diagonal = float(np.linalg.norm(mesh.vertices.max(0) - mesh.vertices.min(0)))
    inward = -normals[faces]
    caster = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).ray  # embree when installed
    hit = np.asarray(caster.intersects_first(mesh.centroids[faces] + inward * RAY_OFFSET * diagonal, inward), np.int64)
    found = hit >= 0
    start, exit_face = faces[found], hit[found]
    from_behind = np.einsum("ij,ij->i", normals[exit_face], inward[found]) > 0
    keep = from_behind & (graph.pieces[start] == graph.pieces[exit_face]) & (start != exit_face)
    return np.stack([start[keep], exit_face[keep]], axis=1)


def fill_nearest(mesh: Mesh, graph: FaceGraph, labels: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(F,) int64 copy of (F,) `labels` where the -1 faces among (F,) bool `targets` take
    the label of their nearest labelled face over the surface and through the solid
    (module docstring); faces no path reaches keep -1. Faces outside `targets` never change."""
    labels = np.asarray(labels, np.int64).copy()
    missing = np.flatnonzero(targets & (labels < 0))
    sources = np.flatnonzero(labels >= 0)
    if len(missing) == 0 or len(sources) == 0:
        return labels
    pairs = np.concatenate([graph.pairs, through_pairs(mesh, graph, missing)])
    centroids = mesh.centroids
    length = np.linalg.norm(centroids[pairs[:, 0]] - centroids[pairs[:, 1]], axis=1)
    length += 1e-12 * max(float(length.max(initial=0.0)), 1.0)  # coincident centroids stay an edge
    n = len(labels)
    weights = sp.coo_matrix((length, (pairs[:, 0], pairs[:, 1])), shape=(n, n)).tocsr()
    _, _, nearest = dijkstra(weights, directed=False, indices=sources, min_only=True, return_predecessors=True)
    reached = missing[nearest[missing] >= 0]
    labels[reached] = labels[nearest[reached]]
    return labels
