"""Lifting and clean-up under both inference profiles, on the same masks, in one run.

For each ground-truth object (default: ../shared/data/partobjaverse_tiny_dev/GT), the
exact per-view masks of its parts (the oracle) and a noisy copy of them (boundaries
eroded or dilated by up to 2 px, 0.5 % of the pixels flipped, one view dropped, the
same noise for both profiles) are lifted to faces and cleaned up by a `Session`'s
surface with the "official" profile (the release's lifting and clean-up) and with
the "improved" one (the project's). Prints the class-agnostic mIoU (face-area
weighted) of each, raw and cleaned, side by side.

    python bench/bench_profiles.py [--resolution 512] [GT_DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage

from geosam2.evaluation.metrics import class_agnostic_miou, face_weights
from geosam2.evaluation.prompts import view_masks
from geosam2.evaluation.readers import read_ground_truth
from geosam2.profiles import PROFILES, SEEN_UNCOVERED
from geosam2.surface import MeshSurface

DEV_GT = Path(__file__).resolve().parents[2] / "shared" / "data" / "partobjaverse_tiny_dev" / "GT"


def noisy(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of (P, V, H, W) bool `masks` with the noise of the module docstring."""
    masks = masks.copy()
    for index in np.ndindex(masks.shape[:2]):
        step = int(rng.integers(-2, 3))
        if step:
            morph = ndimage.binary_dilation if step > 0 else ndimage.binary_erosion
            masks[index] = morph(masks[index], iterations=abs(step))
    masks ^= rng.random(masks.shape) < 0.005
    masks[:, rng.integers(masks.shape[1])] = False
    return masks


def miou(gt, labels: np.ndarray) -> float:
    """Percent mIoU of (F,) labels; 'seen, in no mask' counts as unlabelled."""
    return 100 * class_agnostic_miou(gt.labels, np.where(labels == SEEN_UNCOVERED, -1, labels), face_weights(gt.mesh))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gt_dir", nargs="?", default=str(DEV_GT))
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--pa", type=float, default=0.02)
    args = parser.parse_args()
    rows = {(profile, kind): [] for profile in PROFILES for kind in ("oracle raw", "oracle", "noisy raw", "noisy")}
    for path in sorted(Path(args.gt_dir).glob("*.glb")):
        gt = read_ground_truth(path)
        exact, rng = None, np.random.default_rng(0)
        for profile in PROFILES:
            surface = MeshSurface(gt.mesh, resolution=args.resolution, profile=profile)
            if exact is None:  # the same masks (and noise) for both profiles
                exact = view_masks(surface.views, gt.labels)
                corrupted = noisy(exact, rng)
            for kind, masks in (("oracle", exact), ("noisy", corrupted)):
                lifted = surface.lift(masks)
                rows[(profile, f"{kind} raw")].append(miou(gt, lifted))
                rows[(profile, kind)].append(miou(gt, surface.clean(lifted, args.pa)))
        print(path.stem[:8], "  ".join(f"{p} {k}: {v[-1]:.2f}" for (p, k), v in rows.items()), flush=True)
    print(f"\n{args.resolution} px, PA {args.pa}, mean over {len(next(iter(rows.values())))} objects:")
    print(f"{'':12s}" + "".join(f"{p:>10s}" for p in PROFILES))
    for kind in ("oracle raw", "oracle", "noisy raw", "noisy"):
        print(f"{kind:12s}" + "".join(f"{np.mean(rows[(p, kind)]):10.2f}" for p in PROFILES))


if __name__ == "__main__":
    main()
