"""Test data: where the shared data lies, and small analytic meshes."""

from __future__ import annotations

import os
from pathlib import Path

import trimesh

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GEOSAM2_SHARED_DATA", REPO.parent / "shared" / "data"))
PARTOBJAVERSE_DEV = SHARED_DATA / "partobjaverse_tiny_dev"


def make_box_mesh(extents=(1.0, 1.0, 1.0)) -> trimesh.Trimesh:
    """An axis-aligned box centred at the origin (12 faces)."""
    return trimesh.creation.box(extents=extents)


def make_sphere_mesh(radius: float = 0.5, subdivisions: int = 4) -> trimesh.Trimesh:
    """An icosphere centred at the origin."""
    return trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
