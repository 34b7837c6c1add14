"""Shared fixtures: the real data in ../shared, small analytic meshes, output folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from tests.factories import PARTOBJAVERSE_DEV, REPO, make_box_mesh


torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def dev_set() -> Path:
    """The six PartObjaverse-Tiny objects with ground truth and baseline predictions."""
    if not (PARTOBJAVERSE_DEV / "GT").is_dir():
        pytest.skip(f"shared test data not found at {PARTOBJAVERSE_DEV}")
    return PARTOBJAVERSE_DEV


@pytest.fixture(scope="session")
def gt_paths(dev_set) -> list[Path]:
    return sorted((dev_set / "GT").glob("*.glb"))


@pytest.fixture(scope="session")
def dev_surfaces(gt_paths) -> dict:
    """{uid: (GroundTruth, MeshSurface)} of the six dev objects at 1024 px (the official
    views, 5 samples per face), rendered once per test run for every test that needs them."""
    from geosam2.evaluation.readers import read_ground_truth
    from geosam2.lifting.surface import MeshSurface

    objects = {}
    for path in gt_paths:
        gt = read_ground_truth(path)
        objects[gt.uid] = (gt, MeshSurface(gt.mesh, resolution=1024))
    return objects


@pytest.fixture(scope="session")
def boxes_cloud():
    """(cloud, box, upper): points sampled on three separate unit boxes, (N,) box
    index of each point and (N,) bool whether it lies in its box's upper half."""
    from geosam2.io.pointcloud import point_cloud_from_arrays

    offsets = [(0, 0, 0), (2, 0, 0), (0, 2, 0)]
    boxes = [trimesh.creation.box(extents=(1, 1, 1)) for _ in offsets]
    for box, offset in zip(boxes, offsets):
        box.apply_translation(offset)
    mesh = trimesh.util.concatenate(boxes)
    points, faces = trimesh.sample.sample_surface(mesh, 6_000, seed=0)
    cloud = point_cloud_from_arrays(points, mesh.face_normals[faces], name="boxes")
    return cloud, faces // 12, points[:, 2] > 0


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, an empty Hub cache and no GEOSAM2_CHECKPOINT (huggingface_hub reads its
    constants at import, so they are patched too)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("GEOSAM2_CHECKPOINT", raising=False)


@pytest.fixture
def two_boxes(output_dir):
    """A PLY file of two separate boxes along x; returns its path, the loaded mesh,
    (F,) bool faces of the box at negative x, and the rendered views."""
    from geosam2.io.mesh import load_mesh
    from geosam2.render import render_views
    from tests.helpers import CLI_RESOLUTION

    left, right = make_box_mesh(), make_box_mesh()
    right.apply_translation((3.0, 0.0, 0.0))
    path = output_dir / "two_boxes.ply"
    trimesh.util.concatenate([left, right]).export(path)
    mesh = load_mesh(path)
    return path, mesh, mesh.centroids[:, 0] < 0, render_views(mesh, resolution=CLI_RESOLUTION)


@pytest.fixture
def boxes_npy(boxes_cloud, output_dir):
    """An NPY point-cloud file (x y z nx ny nz rows) of the three sampled boxes of
    the boxes_cloud fixture; returns its path and (N,) box index per point (file order)."""
    cloud, box, _ = boxes_cloud
    path = output_dir / "boxes.npy"
    np.save(path, np.concatenate([cloud.file_points(), cloud.file_normals()], axis=1))
    return path, box


@pytest.fixture
def output_dir(request) -> Path:
    """A folder under test-output/ named after the test, kept for inspection."""
    path = REPO / "test-output" / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a test module: a tiny network is overhead-bound, and two
    threads on a shared 2-core machine wait on each other (measured 13x slower under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
