"""The GPU pipeline's parts against the CPU ones: PyTorch3D rasterisation of a real
mesh against embree ray casting, PyTorch3D point rasterisation against the disc
splatter, and torch lifting against numpy lifting.

PyTorch3D's CPU rasteriser is ~100x slower than embree, so the CPU checks use
the smallest shared objects at small resolutions; tests marked `gpu` repeat them
on CUDA at full size and are skipped without it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from geosam2.lifting.lift import lift_masks
from geosam2.io.mesh import labels_from_colors, load_mesh
from geosam2.io.pointcloud import point_cloud_from_arrays
from geosam2.lifting.lift import vote_labels
from geosam2.lifting.pointlift import visible_points
from geosam2.render import describe_backend, render_views
from geosam2.render.splat import splat_radii, splat_views
from geosam2.render.rig import official_rig

pytestmark = pytest.mark.usefixtures("one_thread")  # two torch threads on a busy 2-core machine: 5x slower
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEPTH_TIE = 1e-5  # normalised units: faces this close in depth are a tie either backend may win


@pytest.fixture(scope="module")
def pytorch3d():
    return pytest.importorskip("pytorch3d._C", reason="PyTorch3D (easypytorch3d) is not installed")


@pytest.fixture(scope="module")
def small_meshes(gt_paths):
    """The two shared ground-truth objects with the fewest faces (hundreds to a few thousand)."""
    meshes = sorted((load_mesh(p) for p in gt_paths), key=lambda m: m.num_faces)
    return meshes[:2]


def sampled_cloud(mesh, points: int = 4000):
    """A point cloud sampled on `mesh` with its face normals, and (N,) the part of each point."""
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    xyz, faces = trimesh.sample.sample_surface(tm, points, seed=0)
    return point_cloud_from_arrays(xyz, mesh.face_normals[faces]), labels_from_colors(mesh.face_colors)[faces]


def assert_same_mesh_views(expected, got):
    """Identical silhouettes; face ids differ only at exact depth ties (>= 99.5 % equal)."""
    assert np.array_equal(got.silhouette, expected.silhouette)
    hit = expected.silhouette
    assert (got.face_ids[hit] == expected.face_ids[hit]).mean() >= 0.995
    assert np.abs(got.depth - expected.depth).max() < DEPTH_TIE
    np.testing.assert_allclose(got.points, expected.points, atol=1e-4)


def test_mesh_rasterisation_matches_ray_casting(pytorch3d, small_meshes):
    for mesh in small_meshes:
        rig = official_rig(mesh.bbox_size, resolution=128)
        expected = render_views(mesh, rig, backend="raycast")
        assert expected.silhouette.mean() > 0.05
        assert_same_mesh_views(expected, render_views(mesh, rig, backend="pytorch3d"))


def test_point_rasterisation_matches_the_splatter(pytorch3d, small_meshes):
    cloud, _ = sampled_cloud(small_meshes[1])
    rig = official_rig(cloud.bbox_size, resolution=96)
    expected = splat_views(cloud, rig, backend="splat")
    got = splat_views(cloud, rig, backend="pytorch3d")
    assert expected.silhouette.mean() > 0.05
    assert (got.silhouette == expected.silhouette).mean() >= 0.999
    both = got.silhouette & expected.silhouette
    same = got.face_ids[both] == expected.face_ids[both]
    assert same.mean() >= 0.995
    assert np.abs(got.depth[both][same] - expected.depth[both][same]).max() < 1e-5


def test_point_rasterisation_with_every_candidate_is_the_splatter(pytorch3d, small_meshes):
    """With room for every candidate disc per pixel the two backends apply the same rule exactly."""
    from geosam2.render.pytorch3d_backend import point_ids
    from geosam2.render.splat import DEPTH_TOLERANCE

    cloud, _ = sampled_cloud(small_meshes[0], points=2000)
    rig = official_rig(cloud.bbox_size, resolution=64)
    expected = splat_views(cloud, rig, backend="splat").face_ids
    assert np.array_equal(point_ids(cloud, rig, splat_radii(cloud), DEPTH_TOLERANCE, points_per_pixel=150), expected)


def test_torch_lifting_equals_numpy_lifting_on_a_real_mesh(small_meshes, rng):
    mesh = small_meshes[1]
    views = render_views(mesh, resolution=96, backend="raycast")
    truth = labels_from_colors(mesh.face_colors)
    exact = np.stack([(views.face_ids >= 0) & (truth[views.face_ids] == p) for p in range(truth.max() + 1)])
    noisy = exact ^ (rng.random(exact.shape) < 0.05)  # overlapping, with holes: exercises every rule
    for masks in (exact, noisy):
        expected = lift_masks(mesh, views, masks)
        assert np.array_equal(lift_masks(mesh, views, torch.from_numpy(masks)), expected)
    labels = lift_masks(mesh, views, exact)
    seen = labels >= 0  # faces inside the object or smaller than a pixel stay unlabelled
    assert seen.mean() > 0.4 and np.array_equal(labels[seen], truth[seen])


def test_torch_point_lifting_equals_numpy(small_meshes):
    cloud, truth = sampled_cloud(small_meshes[1])
    views = splat_views(cloud, resolution=64, backend="splat")
    masks = np.stack([(views.face_ids >= 0) & (truth[views.face_ids] == p) for p in range(truth.max() + 1)])
    expected = vote_labels(visible_points(cloud, views), masks)
    assert (expected >= 0).mean() > 0.5
    assert np.array_equal(vote_labels(visible_points(cloud, views), torch.from_numpy(masks)), expected)


# --- on CUDA (skipped on CPU machines) --------------------------------------------


@pytest.mark.gpu
@cuda
def test_auto_backend_is_pytorch3d_on_cuda(pytorch3d):
    assert describe_backend().startswith("PyTorch3D rasterisation on CUDA")
    assert describe_backend(point_cloud=True).startswith("PyTorch3D rasterisation on CUDA")


@pytest.mark.gpu
@cuda
def test_cuda_rasterisation_matches_ray_casting_at_512(pytorch3d, small_meshes):
    for mesh in small_meshes:
        rig = official_rig(mesh.bbox_size, resolution=512)
        assert_same_mesh_views(render_views(mesh, rig, backend="raycast"), render_views(mesh, rig, backend="auto"))


@pytest.mark.gpu
@cuda
def test_cuda_point_rasterisation_matches_the_splatter_at_256(pytorch3d, small_meshes):
    cloud, _ = sampled_cloud(small_meshes[1], points=20_000)
    rig = official_rig(cloud.bbox_size, resolution=256)
    expected, got = splat_views(cloud, rig, backend="splat"), splat_views(cloud, rig, backend="auto")
    assert (got.silhouette == expected.silhouette).mean() >= 0.999
    both = got.silhouette & expected.silhouette
    assert (got.face_ids[both] == expected.face_ids[both]).mean() >= 0.995


@pytest.mark.gpu
@cuda
def test_cuda_lifting_equals_numpy_lifting(small_meshes):
    mesh = small_meshes[1]
    views = render_views(mesh, resolution=256, backend="raycast")
    truth = labels_from_colors(mesh.face_colors)
    masks = np.stack([(views.face_ids >= 0) & (truth[views.face_ids] == p) for p in range(truth.max() + 1)])
    assert np.array_equal(lift_masks(mesh, views, torch.from_numpy(masks).cuda()), lift_masks(mesh, views, masks))
