"""The product's vectorised pixel votes and clean-up against their naive references
(`tests/reference.py`) on small random inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from geosam2.io.mesh import from_arrays
from geosam2.lifting.cleanup import clean_labels
from geosam2.lifting.lift import visible_pixels, vote_labels
from tests.reference import clean_naive, pixel_vote_naive


@pytest.mark.parametrize("seed", range(8))
def test_pixel_votes_match_the_naive_reference(seed):
    rng = np.random.default_rng(seed)
    num_faces, num_parts = 7, 3
    face_ids = rng.integers(-1, num_faces, (3, 9, 8))  # 3 views of 9 x 8 pixels, -1 = background
    masks = rng.random((num_parts, 3, 9, 8)) < rng.uniform(0.2, 0.6, (num_parts, 1, 1, 1))
    priorities = rng.integers(0, 2, num_parts)
    views = SimpleNamespace(face_ids=face_ids, num_views=3)
    expected = pixel_vote_naive(face_ids, masks, priorities, num_faces)
    assert (expected >= 0).any()
    np.testing.assert_array_equal(vote_labels(visible_pixels(views, num_faces), masks, priorities), expected)


def grid_mesh(rng, columns: int = 7, rows: int = 5):
    """A bumpy grid of 2 * columns * rows triangles (jittered vertices: no equal areas or distances)."""
    x, y = np.meshgrid(np.arange(columns + 1), np.arange(rows + 1))
    vertices = np.c_[x.ravel(), y.ravel(), np.zeros(x.size)] + rng.uniform(-0.2, 0.2, (x.size, 3))
    corner = (np.arange(rows)[:, None] * (columns + 1) + np.arange(columns)[None]).ravel()
    faces = np.concatenate([np.c_[corner, corner + 1, corner + columns + 1], np.c_[corner + 1, corner + columns + 2, corner + columns + 1]])
    return from_arrays(vertices, faces)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("keep_largest_piece", [False, True])
def test_clean_up_matches_the_naive_reference(seed, keep_largest_piece):
    rng = np.random.default_rng(seed)
    mesh = grid_mesh(rng)
    labels = rng.integers(-1, 4, mesh.num_faces)  # unlabelled faces and pieces of every size
    expected = clean_naive(mesh, labels, pa=0.3, keep_largest_piece=keep_largest_piece)
    got = clean_labels(mesh, labels, pa=0.3, keep_largest_piece=keep_largest_piece)
    np.testing.assert_array_equal(got, expected)
