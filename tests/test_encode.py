"""Network inputs: normal image as the release builds it, raw point maps."""

import numpy as np
import torch

from tests.factories import make_box_mesh
from geosam2.model.encode import IMAGENET_MEAN, IMAGENET_STD, encode_normals, encode_points, normal_image_uint8
from geosam2.io.mesh import from_arrays
from geosam2.render import render_views


def test_encodings_match_the_release_recipe():
    tm = make_box_mesh((1.0, 0.6, 0.3))
    views = render_views(from_arrays(tm.vertices, tm.faces), resolution=32)
    image = normal_image_uint8(views)
    normals = encode_normals(views)
    points = encode_points(views)
    assert normals.shape == points.shape == (12, 3, 32, 32)
    assert normals.dtype == points.dtype == torch.float32
    bg = ~views.silhouette
    assert (image[bg] == 255).all()  # white background
    # a visible pixel: (n + 1) / 2 in 8 bits, then ImageNet normalisation
    v, r, c = np.argwhere(views.silhouette)[0]
    expected8 = np.round((views.normals[v, r, c] + 1) * 127.5)
    np.testing.assert_array_equal(image[v, r, c], expected8)
    expected = (expected8 / 255 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(normals[v, :, r, c].numpy(), expected, atol=1e-6)
    white = (1 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(normals.permute(0, 2, 3, 1).numpy()[bg], np.broadcast_to(white, (bg.sum(), 3)), atol=1e-6)
    np.testing.assert_array_equal(points.permute(0, 2, 3, 1).numpy(), views.points)
