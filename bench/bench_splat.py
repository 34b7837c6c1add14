"""Splatting speed: the 12 official views of a point cloud (points sampled on a
torus with exact normals), 20k and 100k points at 512² and 1024².

Prints the median time of `splat_views` (id maps + depth, normals, points) and of
the id maps alone (`splat_ids`, the z-buffer).
Id maps of 12 views, computing the (point, pixel) pairs once and skipping the
footprint's corner cells, against the former two passes over all cells, on the
shared 2-core machine (load ~6, so noisy): 20k points 3.5 s vs 8.0-12.7 s at 512²,
16.4 s vs 23-36 s at 1024²; 100k points 7.6-8.5 s vs 16.7-18.0 s at 512²,
17.6-27.3 s vs 38.9-47.4 s at 1024².
Usage: python -m bench.bench_splat [--repeats 3] [--points 20000 100000] [--resolutions 512 1024]
"""

from __future__ import annotations

import argparse

import numpy as np

from geosam2.io.pointcloud import point_cloud_from_arrays
from geosam2.render.splat import splat_ids, splat_radii, splat_views
from geosam2.render.rig import official_rig
from bench.timing import median_seconds


def torus_cloud(num_points: int, seed: int = 0):
    """`num_points` points on a torus (radii 1 and 0.35) with their outward normals
    (uniform in the section angles, denser on the inner side: uneven spacing on purpose)."""
    u, v = np.random.default_rng(seed).random((2, num_points)) * 2 * np.pi
    centre = np.stack([np.cos(u), np.sin(u), np.zeros_like(u)], axis=1)
    normals = np.stack([np.cos(v) * np.cos(u), np.cos(v) * np.sin(u), np.sin(v)], axis=1)
    return point_cloud_from_arrays(centre + 0.35 * normals, normals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--points", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[512, 1024])
    args = parser.parse_args()
    print(f"12 views, median of {args.repeats}")
    for num_points in args.points:
        cloud = torus_cloud(num_points)
        radii = splat_radii(cloud)
        for resolution in args.resolutions:
            rig = official_rig(cloud.bbox_size, resolution=resolution)
            ids = median_seconds(lambda: [splat_ids(cloud, rig, radii, v) for v in range(rig.num_views)], args.repeats)
            full = median_seconds(lambda: splat_views(cloud, rig, backend="splat"), args.repeats)
            print(f"{num_points:7,d} points {resolution:5d}²: id maps {ids:6.2f} s, splat_views {full:6.2f} s")


if __name__ == "__main__":
    main()
