"""Render speed: all views of a 100k-face mesh at 1024² and 512² on the CPU backend.

Targets on a 2-core machine: under 6 s at 1024², under 1.5 s at 512².
Usage: python bench/bench_render.py [--repeats 3] [--faces 100000]
"""

from __future__ import annotations

import argparse

import numpy as np
import trimesh

from geosam2.mesh import from_arrays
from geosam2.render import render_views
from geosam2.render.raycast import face_ids
from geosam2.views import official_rig
from timing import median_seconds


def torus_mesh(faces: int):
    """A torus with about `faces` triangles (2 per quad of the section grid)."""
    minor = int(np.sqrt(faces / 2 / 1.25))
    major = int(faces / 2 / minor)
    tm = trimesh.creation.torus(major_radius=1.0, minor_radius=0.35, major_sections=major, minor_sections=minor)
    return from_arrays(tm.vertices, tm.faces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--faces", type=int, default=100_000)
    args = parser.parse_args()
    mesh = torus_mesh(args.faces)
    print(f"mesh: {mesh.num_faces:,} faces, 12 views, median of {args.repeats}")
    targets = {1024: 6.0, 512: 1.5}
    for resolution, target in targets.items():
        rig = official_rig(mesh.bbox_size, resolution=resolution)
        cast = median_seconds(lambda: face_ids(mesh, rig), args.repeats)
        full = median_seconds(lambda: render_views(mesh, rig), args.repeats)
        rays = rig.num_views * resolution**2
        print(
            f"{resolution:5d}²: ray casting {cast:6.2f} s ({rays / cast / 1e6:.1f} M rays/s), "
            f"full render {full:6.2f} s, target {target:.1f} s -> {'OK' if full < target else 'MISSED'} "
            f"(x{target / full:.2f})"
        )


if __name__ == "__main__":
    main()
