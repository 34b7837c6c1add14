"""Direct solves of symmetric positive definite systems over a surface's faces.

A sparse factorisation is as fast as the order of its unknowns allows: on a surface
mesh, nested dissection (George 1973) cuts the faces in two halves by a small ring
of faces (a separator), orders each half first and the ring last, recursively, so
that eliminating a half never fills the other. The cuts here are geometric: each
group of faces is split at the median of its centroids along the axis where they
spread most, and the separator is the faces of the first half touching the second
(a closed surface cut by a plane: a ring of about sqrt(F) faces). scipy's SuperLU
then factorises the reordered matrix once without pivoting (the matrix is symmetric
positive definite), and every later solve is two triangular sweeps. On a 500k-face
one-piece mesh this orders and factorises in about 4 s of CPU, where SuperLU's own
minimum degree order takes 5.4 s to factorise and conjugate gradients about 120
iterations a solve (the README's paragraph on scipy's sparse solvers).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

LEAF_SIZE = 64  # groups of at most this many faces are not cut further


def dissection_order(points: np.ndarray, pairs: np.ndarray, leaf: int = LEAF_SIZE) -> np.ndarray:
    """(N,) int64 permutation of the N nodes at (N, 3) float `points`, linked by (E, 2)
    int `pairs`, in nested dissection order: each group of more than `leaf` nodes is
    split at the median along its axis of largest variance, and its nodes of the first
    half linked to the second (the separator) come after both halves."""
    count = len(points)
    if count == 0:
        return np.zeros(0, np.int64)
    group = np.zeros(count, np.int64)  # the group of each node still being cut (ids double each level)
    key = np.zeros(count, np.int64)  # base-3 digits, one a level: 0 first half, 1 second half, 2 separator
    cutting = np.ones(count, bool)
    first, second = np.asarray(pairs, np.int64).T
    points = np.asarray(points, np.float64)
    span = points - points.min(axis=0)
    span /= 2.0 * max(span.max(), 1e-300)  # in [0, 0.5]: a group id plus a coordinate sorts by group, then coordinate
    while True:
        sizes = np.bincount(group[cutting], minlength=int(group.max()) + 1)
        cutting &= sizes[group] > leaf
        if not cutting.any():
            return np.argsort(key, kind="stable")
        side = _halves(span, group, cutting, sizes)
        crossing = cutting[first] & cutting[second] & (group[first] == group[second]) & (side[first] != side[second])
        separator = np.zeros(count, bool)
        separator[np.where(side[first[crossing]] == 0, first[crossing], second[crossing])] = True
        key = key * 3 + np.where(cutting, np.where(separator, 2, side), 0)
        group = 2 * group + side
        cutting &= ~separator


def _halves(points: np.ndarray, group: np.ndarray, cutting: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """(N,) int64 0 or 1: the half of each node of (N,) bool `cutting` in its group of
    (N,) int64 `group` (groups of (G,) `sizes`): split at the median of (N, 3)
    `points` (each coordinate in [0, 0.5]) along the group's axis of largest
    variance; 0 elsewhere."""
    nodes = np.flatnonzero(cutting)
    member = group[nodes]
    where = points[nodes]
    counts = np.maximum(sizes, 1)[:, None]
    mean = np.stack([np.bincount(member, where[:, k], len(sizes)) for k in range(3)], axis=1) / counts
    square = np.stack([np.bincount(member, where[:, k] ** 2, len(sizes)) for k in range(3)], axis=1) / counts
    axis = np.argmax(square - mean**2, axis=1)
    order = np.argsort(member + where[np.arange(len(nodes)), axis[member]])
    start = np.concatenate([[0], np.cumsum(sizes)])
    rank = np.empty(len(nodes), np.int64)
    rank[order] = np.arange(len(nodes)) - start[member[order]]
    side = np.zeros(len(points), np.int64)
    side[nodes] = rank >= sizes[member] // 2
    return side


def factorised(matrix: sp.spmatrix, points: np.ndarray, pairs: np.ndarray):
    """The solver of a symmetric positive definite (N, N) sparse `matrix` whose
    off-diagonal entries link the nodes at (N, 3) `points` along (E, 2) `pairs`
    (no other off-diagonal entry), factorised once in `dissection_order`.
    Returns a function (N,) or (N, K) float64 right-hand side -> the solution, same shape."""
    order = dissection_order(points, pairs)
    matrix = sp.csr_matrix(matrix)
    factors = splu(matrix[order][:, order].tocsc(), permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})

    def solve(right: np.ndarray) -> np.ndarray:
        solution = np.empty_like(right, dtype=np.float64)
        solution[order] = factors.solve(np.asarray(right, np.float64)[order])
        return solution

    return solve
