"""The camera rig: official layout, OpenGL convention, projection round trips."""

import numpy as np
import pytest

from geosam2.render.rig import OFFICIAL_FOV_X, look_at, official_rig


def test_official_rig_layout():
    size = np.array([0.5, 1.0, 0.8])
    rig = official_rig(size)
    assert rig.num_views == 12 and rig.resolution == 1024
    assert rig.fov_x == pytest.approx(0.6911, abs=1e-4)
    assert rig.distance == pytest.approx(50 / 36 * np.linalg.norm(size))
    eyes = rig.origins
    np.testing.assert_allclose(np.linalg.norm(eyes, axis=1), rig.distance)
    elevation = np.degrees(np.arcsin(eyes[:, 2] / rig.distance))
    np.testing.assert_allclose(elevation, [0, 25, 0, -25] * 3, atol=1e-9)
    azimuth = np.degrees(np.arctan2(eyes[:, 1], eyes[:, 0])) % 360
    np.testing.assert_allclose(azimuth, (270 + 30 * np.arange(12)) % 360, atol=1e-9)
    # view 0 looks from -Y towards +Y (the front of a Z-up object)
    np.testing.assert_allclose(eyes[0] / rig.distance, [0, -1, 0], atol=1e-12)


def test_view_i_and_i_plus_6_are_antipodal():
    rig = official_rig(np.ones(3))
    np.testing.assert_allclose(rig.origins[:6], -rig.origins[6:], atol=1e-12)


def test_opposite_view_is_the_one_closest_to_half_a_turn_of_azimuth():
    assert [official_rig().opposite(v) for v in range(12)] == [(v + 6) % 12 for v in range(12)]
    # 8 views 30 degrees apart (270..480): 180 degrees from view 0 is view 6, not (0 + 8 // 2)
    partial = official_rig(num_views=8)
    assert partial.opposite(0) == 6 and partial.opposite(6) == 0
    assert official_rig(num_views=8, azimuth_step_deg=45.0).opposite(1) == 5


def test_pixel_labels_read_each_pixels_face_and_background():
    from geosam2.render import Views

    views = Views(None, np.array([[[-1, 0, 1], [2, 2, 0]], [[1, -1, -1], [0, 0, 2]]]), None, None, None)
    labels = np.array([7, -1, 3])
    np.testing.assert_array_equal(views.pixel_labels(labels), [[[-1, 7, -1], [3, 3, 7]], [[-1, -1, -1], [7, 7, 3]]])
    np.testing.assert_array_equal(views.pixel_labels(labels, view=1, background=9), [[-1, 9, 9], [7, 7, 3]])
    shown = views.pixel_labels(np.array([True, False, True]), background=False)
    assert shown.dtype == bool and shown.tolist() == [[[False, True, False], [True, True, True]], [[False, False, False], [True, True, True]]]


def test_parameters_change_the_rig():
    rig = official_rig(np.ones(3), resolution=64, num_views=8, start_azimuth_deg=0.0)
    assert rig.num_views == 8 and rig.resolution == 64
    np.testing.assert_allclose(rig.azimuths_deg, 30 * np.arange(8))


def test_cameras_are_opengl_and_look_at_origin():
    rig = official_rig(np.ones(3))
    for m in rig.cam_to_world:
        rotation = m[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        forward = -rotation[:, 2]  # OpenGL cameras look down -Z
        np.testing.assert_allclose(forward, -m[:3, 3] / np.linalg.norm(m[:3, 3]), atol=1e-12)
        assert rotation[2, 1] > 0  # image up points to world +Z


def test_look_at_straight_down_is_well_defined():
    m = look_at(np.array([0.0, 0.0, 3.0]))
    assert np.isfinite(m).all()
    np.testing.assert_allclose(-m[:3, 2], [0, 0, -1], atol=1e-12)


def test_horizontal_field_of_view_spans_the_image():
    rig = official_rig(np.ones(3), resolution=100)
    # ray through the left and right image borders (x = 0 and x = W) make the FOV
    f = rig.focal
    assert 2 * np.arctan(50 / f) == pytest.approx(OFFICIAL_FOV_X)


def test_project_inverts_pixel_rays(rng):
    rig = official_rig(np.array([1.0, 0.7, 0.4]), resolution=64)
    for view in (0, 5, 11):
        directions = rig.ray_directions(view)
        rows, cols = rng.integers(0, 64, 20), rng.integers(0, 64, 20)
        depth = rng.uniform(0.5, 3.0, 20)
        points = rig.origins[view] + depth[:, None] * directions[rows, cols]
        xy, z = rig.project(view, points)
        np.testing.assert_allclose(xy, np.stack([cols + 0.5, rows + 0.5], axis=1), atol=1e-9)
        np.testing.assert_allclose(z, depth, atol=1e-12)


def test_origin_projects_to_image_centre():
    rig = official_rig(np.ones(3), resolution=64)
    for view in range(rig.num_views):
        xy, z = rig.project(view, np.zeros((1, 3)))
        np.testing.assert_allclose(xy[0], [32, 32], atol=1e-9)
        assert z[0] == pytest.approx(rig.distance)
