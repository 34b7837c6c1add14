"""Nested dissection order and the factorised solve of symmetric positive definite systems."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve, splu

from geosam2.geometry.dissection import dissection_order, factorised
from geosam2.io.mesh import from_arrays
from tests.factories import make_sphere_mesh


def grid(side: int):
    """(side^2, 3) points of a square grid in the plane z = 0 and its (E, 2) 4-neighbour links."""
    rows, columns = np.divmod(np.arange(side * side), side)
    points = np.column_stack([columns, rows, np.zeros(side * side)]).astype(float)
    index = np.arange(side * side).reshape(side, side)
    pairs = np.concatenate([np.column_stack([index[:, :-1].ravel(), index[:, 1:].ravel()]), np.column_stack([index[:-1].ravel(), index[1:].ravel()])])
    return points, pairs


def laplacian_plus_identity(count: int, pairs: np.ndarray, weights: np.ndarray) -> sp.csr_matrix:
    links = sp.coo_matrix((weights, (pairs[:, 0], pairs[:, 1])), shape=(count, count))
    links = (links + links.T).tocsr()
    return (sp.diags(np.asarray(links.sum(axis=1)).ravel() + 1.0) - links).tocsr()


def factor_entries(matrix: sp.csr_matrix, order: np.ndarray) -> int:
    """Entries of the lower factor of `matrix` eliminated in `order` (no pivoting)."""
    permuted = matrix[order][:, order].tocsc()
    return splu(permuted, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True}).L.nnz


def test_the_order_is_a_permutation_whatever_the_points():
    points, pairs = grid(30)
    for where in (points, np.zeros_like(points), np.random.default_rng(0).normal(size=points.shape)):
        order = dissection_order(where, pairs, leaf=8)
        assert np.array_equal(np.sort(order), np.arange(len(points)))
    assert np.array_equal(dissection_order(np.zeros((0, 3)), np.zeros((0, 2), np.int64)), [])


def test_dissection_fills_far_less_than_a_row_by_row_order_on_a_grid():
    # row by row the factor of a side x side grid fills its band: about side^3 entries;
    # nested dissection: about side^2 log(side)
    side = 80
    points, pairs = grid(side)
    matrix = laplacian_plus_identity(side * side, pairs, np.ones(len(pairs)))
    banded = factor_entries(matrix, np.arange(side * side))
    dissected = factor_entries(matrix, dissection_order(points, pairs))
    assert dissected < 0.5 * banded


def test_the_factorised_solve_matches_a_reference_solve_on_a_mesh():
    sphere = make_sphere_mesh(subdivisions=3)
    mesh = from_arrays(sphere.vertices, sphere.faces)
    pairs = mesh.graph.pairs
    weights = np.random.default_rng(1).uniform(0.1, 10.0, len(pairs))
    matrix = laplacian_plus_identity(mesh.num_faces, pairs, weights)
    right = np.random.default_rng(2).normal(size=(mesh.num_faces, 3))
    solve = factorised(matrix, mesh.centroids, pairs)
    reference = spsolve(matrix.tocsc(), right)
    assert np.allclose(solve(right), reference, rtol=0, atol=1e-10 * np.abs(reference).max())
    assert np.allclose(solve(right[:, 1]), reference[:, 1], rtol=0, atol=1e-10 * np.abs(reference).max())
