"""Oriented normals of point sets: PCA over k nearest neighbours, signs made
consistent along a minimum spanning tree and pointing outwards."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree

NORMAL_NEIGHBOURS = 16  # k of the PCA normal estimate


def knn_pairs(points: np.ndarray, k: int, tree: cKDTree | None = None) -> np.ndarray:
    """(E, 2) int64 unique pairs i < j where j is among the `k` nearest neighbours of i
    or i among those of j."""
    k = min(k, len(points) - 1)
    if k < 1:
        return np.zeros((0, 2), np.int64)
    tree = cKDTree(points) if tree is None else tree
    _, nearest = tree.query(points, k=k + 1)
    pairs = np.stack([np.repeat(np.arange(len(points)), k), nearest[:, 1:].reshape(-1)], axis=1)
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1).astype(np.int64)
    keys = np.unique(pairs[:, 0] * len(points) + pairs[:, 1])  # 1-D keys sort far faster than rows
    return np.stack([keys // len(points), keys % len(points)], axis=1)


def estimate_normals(points: np.ndarray, k: int = NORMAL_NEIGHBOURS) -> np.ndarray:
    """(N, 3) float64 unit normals of (N, 3) `points`, oriented outwards.

    Each normal is the least-variance direction of the point's `k` nearest
    neighbours (PCA). Orientation (Hoppe et al. 1992): on each connected piece of
    the k-NN graph, the point farthest from the piece's centroid faces away from
    it, and signs propagate along a minimum spanning tree weighted by
    1 - |n_i . n_j|, so neighbours with parallel normals agree. Thin sheets whose
    two sides are closer than the neighbourhood can still get one side flipped.
    """
    points = np.asarray(points, np.float64)
    n = len(points)
    if n < 3:
        return np.tile([0.0, 0.0, 1.0], (n, 1))
    k = min(k, n - 1)
    tree = cKDTree(points)
    _, nearest = tree.query(points, k=k + 1)
    local = points[nearest] - points[nearest].mean(axis=1, keepdims=True)  # (N, k+1, 3)
    covariance = np.einsum("nki,nkj->nij", local, local)
    normals = np.linalg.eigh(covariance)[1][:, :, 0]  # eigenvalues ascending
    return orient_normals(points, normals, knn_pairs(points, k, tree))


def orient_normals(points: np.ndarray, normals: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(N, 3) copy of `normals` with signs made consistent over the graph of (E, 2)
    `pairs` and pointing outwards (see :func:`estimate_normals`)."""
    n = len(points)
    weight = 1.0 - np.abs(np.einsum("ij,ij->i", normals[pairs[:, 0]], normals[pairs[:, 1]])) + 1e-6
    graph = sp.csr_matrix((weight, (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    tree = minimum_spanning_tree(graph)
    tree = tree + tree.T
    _, piece = connected_components(tree, directed=False)
    sign = np.ones(n)
    for p in range(piece.max() + 1):
        members = np.flatnonzero(piece == p)
        offset = points[members] - points[members].mean(axis=0)
        root = members[np.argmax(np.einsum("ij,ij->i", offset, offset))]
        order, parent = breadth_first_order(tree, root, directed=False, return_predecessors=True)
        root_offset = points[root] - points[members].mean(axis=0)
        sign[root] = 1.0 if normals[root] @ root_offset >= 0 else -1.0
        # BFS order lists parents before children: one pass fixes every sign
        children = order[1:]
        agree = np.sign(np.einsum("ij,ij->i", normals[children], normals[parent[children]]))
        agree[agree == 0] = 1.0
        for child, a in zip(children, agree):  # sequential by nature; O(N) scalar work
            sign[child] = sign[parent[child]] * a
    return normals * sign[:, None]
