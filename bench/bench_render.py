"""Render speed of both backends side by side, on whatever device is present.

Meshes: embree ray casting (CPU) against PyTorch3D rasterisation; point clouds:
the numpy disc splatter (CPU) against PyTorch3D point rasterisation. PyTorch3D
runs on CUDA when available, else on the CPU, where its rasteriser is ~100x
slower than embree: the CPU defaults are therefore small (5k faces / points at
64² and 128²); on CUDA they are the demo's sizes (100k at 512² and 1024²).
Each row prints medians, the ratio CPU backend / PyTorch3D (> 1: PyTorch3D is
faster) and the share of pixels whose face / point id both backends agree on.

CPU ray casting targets on a 2-core machine, 12 views of a 100k-face mesh:
under 6 s at 1024², under 1.5 s at 512² (`--faces 100000 --resolutions 512 1024 --cpu-only`).
Usage: python -m bench.bench_render [--repeats 3] [--faces N] [--points N] [--resolutions R ...] [--cpu-only]
"""

from __future__ import annotations

import argparse

import numpy as np
import trimesh

from bench.bench_splat import torus_cloud
from geosam2.io.mesh import from_arrays
from geosam2.render import describe_backend, render_views
from geosam2.render.backends import cuda_device_name
from geosam2.render.splat import splat_views
from geosam2.render.rig import official_rig
from bench.timing import median_seconds

CPU_TARGETS = {1024: 6.0, 512: 1.5}  # seconds, ray casting of 100k faces


def torus_mesh(faces: int):
    """A torus with about `faces` triangles (2 per quad of the section grid)."""
    minor = int(np.sqrt(faces / 2 / 1.25))
    major = int(faces / 2 / minor)
    tm = trimesh.creation.torus(major_radius=1.0, minor_radius=0.35, major_sections=major, minor_sections=minor)
    return from_arrays(tm.vertices, tm.faces)


def side_by_side(name: str, cpu_render, pytorch3d_render, repeats: int, target: float | None) -> None:
    """Time both renders (PyTorch3D's may be None: not run) and print one row:
    medians, ratio, id and silhouette agreement."""
    cpu_s = median_seconds(cpu_render, repeats)
    verdict = "" if target is None else f"  (CPU target {target:.1f} s -> {'OK' if cpu_s < target else 'MISSED'})"
    if pytorch3d_render is None:
        print(f"  {name:30s} CPU {cpu_s:7.2f} s{verdict}")
        return
    expected, got = cpu_render(), pytorch3d_render()  # also PyTorch3D's warm-up (first CUDA call)
    p3d_s = median_seconds(pytorch3d_render, repeats)
    both = expected.silhouette & got.silhouette
    agree = (expected.face_ids[both] == got.face_ids[both]).mean()
    silhouettes = (expected.silhouette == got.silhouette).mean()
    print(
        f"  {name:30s} CPU {cpu_s:7.2f} s   PyTorch3D {p3d_s:7.2f} s   ratio x{cpu_s / p3d_s:.3g}   "
        f"ids agree {agree:.3%}, silhouettes {silhouettes:.3%}{verdict}"
    )


def main() -> None:
    on_cuda = cuda_device_name() is not None
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--faces", type=int, default=100_000 if on_cuda else 5_000)
    parser.add_argument("--points", type=int, default=100_000 if on_cuda else 5_000)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[512, 1024] if on_cuda else [64, 128])
    parser.add_argument("--cpu-only", action="store_true", help="time the CPU backends only")
    args = parser.parse_args()
    mesh, cloud = torus_mesh(args.faces), torus_cloud(args.points)
    print(
        f"12 views, median of {args.repeats}; PyTorch3D: {describe_backend('pytorch3d')}; "
        f"mesh {mesh.num_faces:,} faces, cloud {cloud.num_points:,} points"
    )
    for resolution in args.resolutions:
        rig = official_rig(mesh.bbox_size, resolution=resolution)
        target = CPU_TARGETS.get(resolution) if mesh.num_faces >= 100_000 else None
        side_by_side(
            f"{resolution}² mesh (ray casting)",
            lambda: render_views(mesh, rig, backend="raycast"),
            None if args.cpu_only else lambda: render_views(mesh, rig, backend="pytorch3d"),
            args.repeats,
            target,
        )
        cloud_rig = official_rig(cloud.bbox_size, resolution=resolution)
        side_by_side(
            f"{resolution}² points (splatting)",
            lambda: splat_views(cloud, cloud_rig, backend="splat"),
            None if args.cpu_only else lambda: splat_views(cloud, cloud_rig, backend="pytorch3d"),
            args.repeats,
            None,
        )


if __name__ == "__main__":
    main()
