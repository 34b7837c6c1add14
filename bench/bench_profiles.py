"""Lifting and clean-up under both inference profiles, on the same masks, in one run.

For each ground-truth object (default: partobjaverse_tiny_dev/GT under
$GEOSAM2_SHARED_DATA, else ../shared/data), the exact per-view masks of its parts
(the oracle) and a noisy copy of them (boundaries eroded or dilated by up to 2 px,
0.5 % of the pixels flipped, one view dropped, the same noise for every column)
are lifted to faces and cleaned up by a `Session`'s surface with the "official"
profile (the release's lifting and clean-up), with the "improved" one (the
project's: every pixel of the face-id maps votes). Prints the class-agnostic mIoU
(face-area weighted) of each, raw and cleaned, side by side, and the
exact-visibility bound (every face the views show given its label, the rest
filled; tests/stress.py). With --stress, the objects are the test suite's
stress set (small parts, parts of many pieces, a hidden part, welded parts).

    python -m bench.bench_profiles [--resolution 512] [--stress] [GT_DIR]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from geosam2.evaluation.metrics import class_agnostic_miou, face_weights
from geosam2.evaluation.prompts import view_masks
from geosam2.evaluation.readers import GroundTruth, read_ground_truth
from geosam2.profiles.official import SEEN_UNCOVERED
from geosam2.lifting.surface import MeshSurface

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GEOSAM2_SHARED_DATA", REPO.parent / "shared" / "data"))
DEV_GT = SHARED_DATA / "partobjaverse_tiny_dev" / "GT"
from tests.stress import exact_visibility_labels, noisy_masks, stress_objects


def miou(gt, labels: np.ndarray) -> float:
    """Percent mIoU of (F,) labels; 'seen, in no mask' counts as unlabelled."""
    return 100 * class_agnostic_miou(gt.labels, np.where(labels == SEEN_UNCOVERED, -1, labels), face_weights(gt.mesh))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gt_dir", nargs="?", default=str(DEV_GT))
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--pa", type=float, default=0.02)
    parser.add_argument("--stress", action="store_true", help="the test suite's stress set instead of GT_DIR")
    args = parser.parse_args()
    if args.stress:
        objects = (GroundTruth(name, mesh, labels) for name, mesh, labels in stress_objects())
    else:
        objects = (read_ground_truth(path) for path in sorted(Path(args.gt_dir).glob("*.glb")))
    columns = ("official", "improved")  # profile names; the default profile lifts and cleans up as the improved one
    rows = {(column, kind): [] for column in columns for kind in ("oracle raw", "oracle", "noisy raw", "noisy")}
    bound = []
    for gt in objects:
        exact, rng = None, np.random.default_rng(0)
        for column in columns:
            surface = MeshSurface(gt.mesh, resolution=args.resolution, profile=column)
            if exact is None:  # the same masks (and noise) for every column
                exact = view_masks(surface.views, gt.labels)
                corrupted = noisy_masks(exact, rng)
                bound.append(miou(gt, exact_visibility_labels(gt.mesh, surface.views, gt.labels)))
            for kind, masks in (("oracle", exact), ("noisy", corrupted)):
                lifted = surface.lift(masks)
                rows[(column, f"{kind} raw")].append(miou(gt, lifted))
                rows[(column, kind)].append(miou(gt, surface.clean(lifted, args.pa)))
        figures = "  ".join(f"{p} {k}: {v[-1]:.2f}" for (p, k), v in rows.items())
        print(gt.uid[:8], f"bound: {bound[-1]:.2f}", figures, flush=True)
    summary = f"mean over {len(bound)} objects, exact-visibility bound {np.mean(bound):.2f}"
    print(f"\n{args.resolution} px, PA {args.pa}, {summary}:")
    print(f"{'':12s}" + "".join(f"{c:>10s}" for c in columns))
    for kind in ("oracle raw", "oracle", "noisy raw", "noisy"):
        print(f"{kind:12s}" + "".join(f"{np.mean(rows[(c, kind)]):10.2f}" for c in columns))


if __name__ == "__main__":
    main()
