"""What the lifting loses on generated-like objects against their artist meshes, per part.

For the synthetic artist objects of `bench.generated_like` (thin parts, deep
concavities) and their generated-like versions (one marching-cubes surface,
decimated), at each resolution: the exact-visibility bound (every face the views
show gets its true label, the unseen ones filled over the adjacency), the raw
lift of the exact masks (unseen faces count as wrong), and the oracle
(`geosam2 evaluate --segmenter oracle`: exact masks through a session, lifted and
cleaned up). With --parts, per ground-truth part: its share of the area, the
share of its area no view shows, and its IoU under each of the three.
The built objects are cached as .npz in --cache (not in the repository).

    PYTHONPATH=DIR_WITH_SKIMAGE python -m bench.bench_lift_generated [--resolutions 512 1024] [--parts]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from geosam2.evaluation.metrics import class_agnostic_miou, face_weights, part_ious
from geosam2.evaluation.policies import Oracle
from geosam2.evaluation.prompts import view_masks
from geosam2.evaluation.readers import GroundTruth
from geosam2.io.mesh import from_arrays
from geosam2.lifting.surface import MeshSurface
from tests.stress import StressObject, exact_visibility_labels

from .generated_like import artist_objects, generated_like


def cached_objects(cache: Path) -> list[StressObject]:
    """The artist objects and their generated-like versions, built once into `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    objects = []
    for artist in artist_objects():
        path = cache / f"{artist.name}_gen.npz"
        if not path.exists():
            made = generated_like(artist)
            np.savez(path, vertices=made.mesh.vertices, faces=made.mesh.faces, labels=made.labels)
        data = np.load(path)
        mesh = from_arrays(data["vertices"], data["faces"], name=f"{artist.name}_gen")
        objects += [artist, StressObject(mesh.name, mesh, data["labels"])]
    return objects


def measure(obj: StressObject, resolution: int) -> dict[str, np.ndarray]:
    """Per-part IoU (P,) of the bound, the raw lift and the oracle, and each part's area
    share and unseen share."""
    gt = GroundTruth(obj.name, obj.mesh, obj.labels)
    weights = face_weights(obj.mesh)
    surface = MeshSurface(obj.mesh, resolution=resolution)
    seen = np.zeros(obj.mesh.num_faces, bool)
    seen[surface.views.face_ids[surface.views.face_ids >= 0]] = True
    raw = surface.lift(view_masks(surface.views, obj.labels, obj.labels.max() + 1))
    figures = {
        "bound": exact_visibility_labels(obj.mesh, surface.views, obj.labels),
        "raw": raw,
        "oracle": Oracle(resolution).predict_on(gt, surface),
    }
    parts = {name: part_ious(obj.labels, labels, weights) for name, labels in figures.items()}
    area = np.bincount(obj.labels, weights=weights)
    parts["area"] = area / area.sum()
    parts["unseen"] = np.bincount(obj.labels, weights=weights * ~seen, minlength=len(area)) / area
    assert np.isclose(100 * parts["oracle"].mean(), 100 * class_agnostic_miou(obj.labels, figures["oracle"], weights))
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[512])
    parser.add_argument("--parts", action="store_true", help="print every part's figures")
    parser.add_argument("--only", nargs="*", default=None, help="object names to run (e.g. chair chair_gen)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/geosam2_generated_like"))
    args = parser.parse_args()
    objects = [o for o in cached_objects(args.cache) if args.only is None or o.name in args.only]
    for resolution in args.resolutions:
        totals = {"artist": [], "generated": []}
        for obj in objects:
            parts = measure(obj, resolution)
            means = {k: 100 * parts[k].mean() for k in ("bound", "raw", "oracle")}
            totals["generated" if obj.name.endswith("_gen") else "artist"].append(means)
            print(f"{resolution} {obj.name:15s} faces {obj.mesh.num_faces:6d} " + "  ".join(f"{k} {v:6.2f}" for k, v in means.items()), flush=True)
            if args.parts:
                for p in range(len(parts["area"])):
                    print(f"    part {p:2d} area {100 * parts['area'][p]:5.2f}% unseen {100 * parts['unseen'][p]:5.1f}%  "
                          + "  ".join(f"{k} {100 * parts[k][p]:6.2f}" for k in ("bound", "raw", "oracle")))
        for kind, rows in totals.items():
            if rows:
                print(f"{resolution} mean {kind:9s} " + "  ".join(f"{k} {np.mean([r[k] for r in rows]):6.2f}" for k in rows[0]))


if __name__ == "__main__":
    main()
