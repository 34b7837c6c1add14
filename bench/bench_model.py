"""Speed and peak memory of GeoSAM2 on the CPU: the real B+ architecture, random weights.

Stages, each the median over `--repeats` runs (a fresh segmenter per run):
- encode: both encoders + fusion over the 12 views;
- propagate: one part tracked over the 13 logical frames, features cached;
- per part in a batch: `--parts` parts prompted on one view, tracked together;
- first prompt (encode + propagate) against a second prompt on the same views
  (the feature cache answers): their ratio is the cache's gain.
Peak memory is the process's maximum resident set size (ru_maxrss: torch
allocates outside Python's heap, so tracemalloc would not see it); run one
resolution per process.

    python -m bench.bench_model --resolution 1024 --repeats 1
    python -m bench.bench_model --resolution 512 --repeats 2
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import torch
import trimesh

from geosam2.io.mesh import from_arrays
from geosam2.model import build_geosam2
from geosam2.segmenters.geosam2 import GeoSAM2Segmenter
from geosam2.segmenters.prompts import Prompt
from geosam2.render import render_views
from geosam2.render.rig import official_rig


def peak_rss_gib() -> float:
    """Peak resident set size of this process so far, GiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def clicks(views, view: int, count: int) -> list[Prompt]:
    """`count` positive clicks on distinct object pixels of `view`, spread over the object."""
    pixels = np.argwhere(views.face_ids[view] >= 0)
    picks = pixels[np.linspace(0, len(pixels) - 1, count + 2).astype(int)[1:-1]]
    return [Prompt(view, points=[[column + 0.5, row + 0.5]]) for row, column in picks]


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=1024, help="view and network size in pixels (default 1024, the release's)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--parts", type=int, default=4, help="parts tracked together in the batch stage")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    slab = trimesh.creation.box(extents=(1.0, 0.8, 0.3))
    ball = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    mesh = from_arrays(np.concatenate([slab.vertices, ball.vertices + (0, 0, 0.45)]), np.concatenate([slab.faces, ball.faces + len(slab.vertices)]))
    views = render_views(mesh, official_rig(mesh.bbox_size, resolution=args.resolution))
    model = build_geosam2("base_plus", image_size=args.resolution)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"GeoSAM2 B+ ({parameters / 1e6:.1f}M parameters, random weights), {views.num_views} views at {args.resolution}², "
          f"CPU, {args.threads} threads; after build: peak RSS {peak_rss_gib():.2f} GiB")

    first_click, second_click = clicks(views, 0, 2)
    batch = clicks(views, 3, args.parts)
    times: dict[str, list[float]] = {"encode": [], "propagate": [], "first": [], "second": [], "per_part_batched": []}
    for _ in range(args.repeats):
        segmenter = GeoSAM2Segmenter(model)
        times["encode"].append(timed(segmenter.features, views))
        times["propagate"].append(timed(segmenter.segment, views, [first_click]))
        times["first"].append(times["encode"][-1] + times["propagate"][-1])
        times["second"].append(timed(segmenter.segment, views, [second_click]))
        times["per_part_batched"].append(timed(segmenter.segment, views, batch) / args.parts)
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"encode, both encoders + fusion, {views.num_views} views: {median['encode']:.2f} s ({median['encode'] / views.num_views:.2f} s/view)")
    print(f"propagate one part over {views.num_views + 1} frames:       {median['propagate']:.2f} s")
    print(f"per part, {args.parts} parts in one batch:          {median['per_part_batched']:.2f} s "
          f"({median['propagate'] / median['per_part_batched']:.2f}x faster than one alone)")
    print(f"first prompt (encode + propagate):        {median['first']:.2f} s")
    print(f"second prompt on the same views (cached): {median['second']:.2f} s")
    print(f"first / second: {median['first'] / median['second']:.1f}x (target >= 5x)")
    print(f"peak RSS: {peak_rss_gib():.2f} GiB (target < 8 GiB at 1024²)")
    print("runs:", {k: [round(x, 2) for x in v] for k, v in times.items()})


if __name__ == "__main__":
    main()
