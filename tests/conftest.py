"""Shared fixtures: the real data in ../shared, small analytic meshes, output folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GEOSAM2_SHARED_DATA", REPO.parent / "shared" / "data"))
PARTOBJAVERSE_DEV = SHARED_DATA / "partobjaverse_tiny_dev"

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


@pytest.fixture
def output_dir(request) -> Path:
    """A folder under test-output/ named after the test, kept for inspection."""
    path = REPO / "test-output" / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_box_mesh(extents=(1.0, 1.0, 1.0)) -> trimesh.Trimesh:
    """An axis-aligned box centred at the origin (12 faces)."""
    return trimesh.creation.box(extents=extents)


def make_sphere_mesh(radius: float = 0.5, subdivisions: int = 4) -> trimesh.Trimesh:
    """An icosphere centred at the origin."""
    return trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)


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
