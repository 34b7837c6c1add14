"""The face adjacency graph of a mesh, with coincident vertices merged by position.

Artist meshes and the benchmark's de-indexed meshes do not share vertices between
faces, so adjacency is built on vertices welded by position (within a tolerance
relative to the bounding box). Everything is sparse: O(F) memory.

The official release's clean-up uses the adjacency of the mesh as loaded (no
welding; `unwelded_face_graph`) and visits each face's neighbours in the order of
a Python set (`release_neighbour_order`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import trimesh
from scipy.sparse.csgraph import connected_components

from ..io.mesh import Mesh

WELD_TOLERANCE = 1e-6  # relative to the longest bbox edge (1 after normalisation)
CREASE_ANGLE_DEG = 60.0  # cylinders of 7+ segments have no crease; right-angle folds are creases


def weld_vertices(vertices: np.ndarray, faces: np.ndarray, tolerance: float = WELD_TOLERANCE) -> np.ndarray:
    """(F, 3) int64 faces re-indexed so that vertices closer than `tolerance` share an
    index (the welded vertices numbered in the lexicographic order of their cells)."""
    cells = np.round(vertices / tolerance).astype(np.int64)
    return unique_rows(cells)[faces]


def unique_rows(rows: np.ndarray) -> np.ndarray:
    """(N,) int64 index of each of (N, C) int64 `rows` among its distinct rows in
    lexicographic order (``np.unique(rows, axis=0, return_inverse=True)``'s inverse).
    The rows are read as numbers of mixed radix when they fit in 63 bits: a sort of
    N numbers instead of N rows (10M rows: about a second instead of tens)."""
    if len(rows) == 0:
        return np.zeros(0, np.int64)
    shifted = rows - rows.min(axis=0)
    radices = shifted.max(axis=0) + 1
    if np.log2(radices.astype(np.float64)).sum() >= 62:  # would overflow int64: sort the rows themselves
        return np.unique(rows, axis=0, return_inverse=True)[1].reshape(-1)
    keys = np.zeros(len(rows), np.int64)
    for digit, radix in zip(shifted.T, radices):
        keys = keys * radix + digit
    return np.unique(keys, return_inverse=True)[1].reshape(-1)


@dataclass(frozen=True, eq=False)
class FaceGraph:
    """Edge adjacency of faces of a mesh.

    Attributes
    ----------
    num_faces : int
    pairs : (E, 2) int64
        Pairs of faces sharing an edge (welded), each pair once, i < j.
    cos_dihedral : (E,) float64
        Cosine of the angle between the two faces' normals (1 = flat, -1 = folded back).
    """

    num_faces: int
    pairs: np.ndarray
    cos_dihedral: np.ndarray

    @functools.cached_property
    def adjacency(self) -> sp.csr_matrix:
        """(F, F) symmetric boolean sparse adjacency matrix."""
        return self.subgraph(np.ones(len(self.pairs), bool))

    def subgraph(self, keep_edges: np.ndarray, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """(F, F) symmetric sparse adjacency with only the edges where (E,) `keep_edges`,
        valued by their (E,) `weights` (True when None)."""
        i, j = self.pairs[keep_edges].T
        data = np.ones(len(i), bool) if weights is None else np.asarray(weights)[keep_edges]
        return sp.csr_matrix((np.r_[data, data], (np.r_[i, j], np.r_[j, i])), shape=(self.num_faces,) * 2)

    @functools.cached_property
    def pieces(self) -> np.ndarray:
        """(F,) int32 connected piece per face over all edges (`components()`), computed once."""
        return self.components()

    def components(self, keep_edges: np.ndarray | None = None) -> np.ndarray:
        """(F,) int32 connected-component id per face over the kept edges (all by default)."""
        matrix = self.adjacency if keep_edges is None else self.subgraph(keep_edges)
        return connected_components(matrix, directed=False)[1].astype(np.int32)

    @functools.cached_property
    def release_order(self) -> np.ndarray:
        """(F, K) `release_neighbour_order` of this graph, computed once."""
        return release_neighbour_order(self)

    def label_components(self, labels: np.ndarray) -> np.ndarray:
        """(F,) int32 ids of connected pieces of equal label (edges only between equal labels)."""
        return self.components(labels[self.pairs[:, 0]] == labels[self.pairs[:, 1]])


def face_graph(mesh: Mesh, tolerance: float = WELD_TOLERANCE) -> FaceGraph:
    """Build the welded edge adjacency of `mesh`'s faces.

    Edges shared by more than two faces (non-manifold) connect every pair of them.
    Degenerate faces (repeated welded vertex) take part like any other face.
    """
    faces = weld_vertices(mesh.vertices, mesh.faces, tolerance)
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    keep = edges[:, 0] != edges[:, 1]
    edge_keys, owner = edges[keep, 0] * (faces.max(initial=0) + 1) + edges[keep, 1], owner[keep]
    order = np.argsort(edge_keys, kind="stable")
    edge_keys, owner = edge_keys[order], owner[order]
    # group equal edges; within a group, pair every face with every other
    starts = np.flatnonzero(np.r_[True, edge_keys[1:] != edge_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(edge_keys)])
    pairs = []
    for k in range(2, sizes.max(initial=1) + 1):  # loop over group sizes, not faces
        group_starts = starts[sizes == k]
        for a in range(k):
            for b in range(a + 1, k):
                pairs.append(np.stack([owner[group_starts + a], owner[group_starts + b]], axis=1))
    pairs = np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    pair_keys = np.sort(pairs[:, 0] * len(faces) + pairs[:, 1])  # each pair once, by (i, j); a sort, not np.unique's hash
    pair_keys = pair_keys[np.r_[True, pair_keys[1:] != pair_keys[:-1]]]
    pairs = np.column_stack(np.divmod(pair_keys, len(faces)))
    normals = mesh.face_normals
    cos = np.einsum("ij,ij->i", normals[pairs[:, 0]], normals[pairs[:, 1]])
    return FaceGraph(len(faces), pairs.astype(np.int64), cos)


def valleys(mesh: Mesh, graph: FaceGraph) -> np.ndarray:
    """(E,) bool which face pairs of `graph` fold inwards (concave), as where a leg
    meets a seat: each face lies in front of the other's plane,
    (n_i - n_j) . (c_j - c_i) > 0 with unit normals n and centroids c."""
    first, second = graph.pairs.T
    step = mesh.centroids[second] - mesh.centroids[first]
    return np.einsum("ij,ij->i", mesh.face_normals[first] - mesh.face_normals[second], step) > 1e-12


def creases(mesh: Mesh, graph: FaceGraph, angle_deg: float = CREASE_ANGLE_DEG, concave_only: bool = True) -> np.ndarray:
    """(E,) bool which face pairs of `graph` fold by more than `angle_deg` (degrees,
    between the normals), with `concave_only` only those that are `valleys`: the
    project's one definition of a (concave) crease."""
    sharp = graph.cos_dihedral < np.cos(np.radians(angle_deg)) - 1e-9
    return sharp & valleys(mesh, graph) if concave_only else sharp


def unwelded_face_graph(mesh: Mesh) -> FaceGraph:
    """The release's face adjacency: faces sharing an edge by vertex index (no welding).

    As trimesh's ``face_adjacency`` of the mesh as loaded (which the release
    uses): only edges shared by exactly two faces count, and the pairs keep
    trimesh's order (it decides `release_neighbour_order`).
    """
    pairs = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).face_adjacency.astype(np.int64)
    pairs = np.sort(pairs.reshape(-1, 2), axis=1)
    normals = mesh.face_normals
    cos = np.einsum("ij,ij->i", normals[pairs[:, 0]], normals[pairs[:, 1]])
    return FaceGraph(mesh.num_faces, pairs, cos)


def release_neighbour_order(graph: FaceGraph) -> np.ndarray:
    """(F, K) int64 each face's edge neighbours in the release's visiting order, padded with -1.

    The release stores neighbours in one Python ``set`` per face, filled pair by
    pair in the order of `graph.pairs`, and its neighbour fill takes the first
    labelled neighbour in that set's iteration order. That order is CPython's
    (slots by hash, i.e. by face index, then probing), so the same sets are
    built here and read back.
    """
    neighbours = [set() for _ in range(graph.num_faces)]
    for a, b in graph.pairs.tolist():
        neighbours[a].add(b)
        neighbours[b].add(a)
    order = np.full((graph.num_faces, max(map(len, neighbours), default=0)), -1, np.int64)
    for face, faces in enumerate(neighbours):
        order[face, : len(faces)] = list(faces)
    return order
