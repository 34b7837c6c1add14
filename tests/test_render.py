"""The renderer against analytic geometry: cube normals, sphere depths, point maps; backend choice."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.factories import REPO, make_box_mesh, make_sphere_mesh
from geosam2.io.mesh import Mesh, from_arrays, transform_points
from geosam2.render import describe_backend, render_views
from geosam2.render.rig import official_rig

RESOLUTION = 96


@pytest.fixture(scope="module")
def sphere():
    tm = make_sphere_mesh(radius=0.5, subdivisions=6)  # facets ~1 degree: sagitta < 2e-5
    mesh = from_arrays(tm.vertices, tm.faces)
    to_normalised = np.linalg.inv(mesh.to_file)
    centre = transform_points(np.zeros((1, 3)), to_normalised)[0]
    radius = 0.5 * np.linalg.norm(to_normalised[:3, 0])
    return mesh, render_views(mesh, resolution=RESOLUTION), centre, radius


@pytest.fixture(scope="module")
def cube():
    tm = make_box_mesh()
    mesh = from_arrays(tm.vertices, tm.faces)
    return mesh, render_views(mesh, resolution=RESOLUTION)


def ray_sphere_depth(origin, directions, centre, radius):
    """Planar depth of the first ray-sphere hit for directions with unit planar depth."""
    oc = origin - centre
    a = np.einsum("ij,ij->i", directions, directions)
    b = 2 * directions @ oc
    c = oc @ oc - radius**2
    return (-b - np.sqrt(b * b - 4 * a * c)) / (2 * a)


def test_sphere_depth_matches_ray_sphere_distance(sphere):
    mesh, views, centre, radius = sphere
    for v in range(views.num_views):
        hit = views.silhouette[v]
        directions = views.rig.ray_directions(v)[hit]
        unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
        # skip grazing rays, where the inscribed polygon and the sphere part ways
        grazing = np.abs(np.einsum("ij,ij->i", views.normals[v][hit], unit)) < 0.5
        expected = ray_sphere_depth(views.rig.origins[v], directions, centre, radius)
        np.testing.assert_array_less(np.abs(views.depth[v][hit] - expected)[~grazing], 1e-4)


def test_sphere_normals_match_analytic_within_one_degree(sphere):
    mesh, views, centre, radius = sphere
    hit = views.silhouette
    analytic = views.points[hit] - centre
    analytic /= np.linalg.norm(analytic, axis=1, keepdims=True)
    angle = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", analytic, views.normals[hit]), -1, 1)))
    assert angle.max() < 1.0


def test_cube_normals_are_the_axis_normals(cube):
    mesh, views = cube
    hit = views.silhouette
    normals = views.normals[hit]
    # every visible normal is one of the six axis directions, exactly the face's normal
    assert np.allclose(np.abs(normals).max(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(normals, mesh.face_normals[views.face_ids[hit]], atol=1e-6)
    # the side facing the camera: e.g. view 0 sits at -Y and sees the -Y face most
    centre = views.normals[0, RESOLUTION // 2, RESOLUTION // 2]
    np.testing.assert_allclose(centre, [0, -1, 0], atol=1e-6)


def test_normals_face_the_camera(sphere, cube):
    for views in (sphere[1], cube[1]):
        for v in range(views.num_views):
            hit = views.silhouette[v]
            d = views.rig.ray_directions(v)[hit]
            assert (np.einsum("ij,ij->i", views.normals[v][hit], d) < 0).all()


def test_point_map_is_origin_plus_depth_times_ray(sphere):
    mesh, views, centre, radius = sphere
    for v in range(views.num_views):
        hit = views.silhouette[v]
        expected = views.rig.origins[v] + views.depth[v][hit, None] * views.rig.ray_directions(v)[hit]
        np.testing.assert_allclose(views.points[v][hit], expected, atol=1e-5)
        # and lies on the sphere (within the tessellation's sagitta)
        np.testing.assert_array_less(np.abs(np.linalg.norm(views.points[v][hit] - centre, axis=1) - radius), 1e-4)


def barycentric(points, triangles):
    """(N, 3) barycentric coordinates of points in their triangles (N, 3, 3)."""
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    v0, v1, v2 = b - a, c - a, points - a
    d00, d01, d11 = (v0 * v0).sum(1), (v0 * v1).sum(1), (v1 * v1).sum(1)
    d20, d21 = (v2 * v0).sum(1), (v2 * v1).sum(1)
    den = d00 * d11 - d01 * d01
    w1 = (d11 * d20 - d01 * d21) / den
    w2 = (d00 * d21 - d01 * d20) / den
    return np.stack([1 - w1 - w2, w1, w2], axis=1)


def test_face_id_agrees_with_point_map(sphere, cube):
    for mesh, views in ((sphere[0], sphere[1]), cube):
        hit = views.silhouette
        triangles = mesh.triangles[views.face_ids[hit]]
        points = views.points[hit].astype(np.float64)
        plane = np.einsum("ij,ij->i", points - triangles[:, 0], mesh.face_normals[views.face_ids[hit]])
        assert np.abs(plane).max() < 1e-5
        assert barycentric(points, triangles).min() > -1e-3


def test_background_is_empty(cube):
    _, views = cube
    bg = ~views.silhouette
    assert bg.any()
    assert (views.face_ids[bg] == -1).all()
    assert (views.depth[bg] == 0).all() and (views.points[bg] == 0).all() and (views.normals[bg] == 0).all()
    assert views.face_ids.dtype == np.int32


def test_points_are_clipped_to_unit_cube():
    tm = make_box_mesh()
    big = Mesh(tm.vertices * 4.0, tm.faces, np.zeros(len(tm.faces), np.int32))  # not normalised
    views = render_views(big, official_rig(big.bbox_size, resolution=48))
    hit = views.silhouette
    unclipped = views.rig.origins[0] + views.depth[0][hit[0], None] * views.rig.ray_directions(0)[hit[0]]
    assert np.abs(unclipped).max() > 1.5  # the surface lies outside [-1, 1]
    assert np.abs(views.points).max() == pytest.approx(1.0)


def test_silhouette_projects_the_mesh(cube):
    mesh, views = cube
    # every pixel whose centre projects inside the cube's image is a hit: check via vertices' hull
    for v in range(views.num_views):
        xy, _ = views.rig.project(v, mesh.vertices)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        rows, cols = np.nonzero(views.silhouette[v])
        assert cols.min() + 0.5 >= lo[0] - 1e-6 and cols.max() + 0.5 <= hi[0] + 1e-6
        assert rows.min() + 0.5 >= lo[1] - 1e-6 and rows.max() + 0.5 <= hi[1] + 1e-6


def test_unknown_backend_is_refused(cube):
    with pytest.raises(ValueError, match="raycast"):
        render_views(cube[0], resolution=8, backend="blender")


@pytest.mark.skipif(torch.cuda.is_available(), reason="on CUDA 'auto' is PyTorch3D (tests/test_pytorch3d.py)")
def test_auto_backend_is_the_cpu_renderers_without_cuda(cube):
    assert describe_backend() == "embree ray casting on CPU"
    assert describe_backend(point_cloud=True) == "disc splatting on CPU"
    mesh, views = cube
    assert np.array_equal(render_views(mesh, views.rig, backend="auto").face_ids, views.face_ids)


def test_unknown_point_backend_is_refused():
    with pytest.raises(ValueError, match="splat"):
        describe_backend("raycast", point_cloud=True)


def test_render_and_lift_import_without_torch():
    code = "import sys, geosam2.render, geosam2.render.splat, geosam2.lifting.lift, geosam2.lifting.pointlift; print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "False"
