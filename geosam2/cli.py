"""Command line: `geosam2 render|segment|evaluate|curate|train ...`.

Each sub-command has an `_add_<name>` function that declares its arguments and a
`_run_<name>` function that does the work; `main` wires them together.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .errors import GeoSAM2Error


def _add_render(sub) -> None:
    p = sub.add_parser("render", help="render the 12 normal maps and point maps of a mesh to PNGs")
    p.add_argument("mesh", help="mesh file (GLB/GLTF/OBJ/PLY/STL/OFF)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--resolution", type=int, default=1024, help="image size in pixels (default 1024)")
    p.add_argument("--views", type=int, default=12, help="number of views (default 12)")
    p.add_argument("--start-azimuth", type=float, default=270.0, help="azimuth of view 0 in degrees")
    p.add_argument("--backend", default="raycast", help="raycast (CPU, default) or pytorch3d (GPU)")
    p.set_defaults(run=_run_render)


def _run_render(args) -> None:
    from PIL import Image

    from .encode import normal_image_uint8
    from .mesh import load_mesh
    from .render import render_views
    from .views import official_rig

    mesh = load_mesh(args.mesh)
    rig = official_rig(mesh.bbox_size, args.resolution, args.views, args.start_azimuth)
    views = render_views(mesh, rig, backend=args.backend)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    normals = normal_image_uint8(views)
    points = np.round((views.points + 1.0) * 127.5).astype(np.uint8)
    points[~views.silhouette] = 0
    for v in range(views.num_views):
        Image.fromarray(normals[v]).save(out / f"normal_{v:02d}.png")
        Image.fromarray(points[v]).save(out / f"points_{v:02d}.png")
    meta = {
        "mesh": str(args.mesh),
        "faces": mesh.num_faces,
        "resolution": rig.resolution,
        "fov_x": rig.fov_x,
        "distance": rig.distance,
        "azimuths_deg": rig.azimuths_deg.tolist(),
        "elevations_deg": rig.elevations_deg.tolist(),
        "cam_to_world": rig.cam_to_world.tolist(),
        "intrinsics": rig.intrinsics.tolist(),
        "convention": "OpenGL camera-to-world; pixel (x, y) = (column, row), centres at +0.5",
        "to_file": mesh.to_file.tolist(),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    print(f"wrote {views.num_views} normal maps and point maps to {out}")


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not (count >= 1 and 0 <= index < count):
        raise argparse.ArgumentTypeError(f"shard {text} needs 0 <= i < n")
    return index, count


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="class-agnostic mIoU of a method on a ground-truth folder")
    p.add_argument("gt_dir", help="folder of ground-truth meshes (or a dataset root with a GT/ folder)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--pred-dir", help="score another method's stored predictions (same formats as the GT)")
    source.add_argument("--segmenter", choices=["geosam2", "geometry", "oracle"], help="run a segmenter with simulated prompts")
    p.add_argument("--categories", help="JSON or CSV mapping object ids to categories")
    p.add_argument("--resolution", type=int, default=1024, help="view size in pixels for --segmenter (default 1024)")
    p.add_argument("--pa", type=float, default=0.02, help="clean-up threshold PA for --segmenter (default 0.02)")
    p.add_argument("--checkpoint", help="GeoSAM2 weights for --segmenter geosam2")
    p.add_argument("--candidates", type=int, default=4, help="prompt views tried, 360/N degrees apart; the best is kept (default 4)")
    p.add_argument("--box", action="store_true", help="the simulated user also draws each part's box")
    p.add_argument("--negative-clicks", type=int, default=0, help="negative clicks per prompt, in other parts (default 0)")
    p.add_argument("--no-auto-complete", action="store_true", help="do not segment what the prompt view cannot see")
    p.add_argument("--split-disconnected", action="store_true", help="make each disconnected piece of a part its own part")
    p.add_argument("--weighting", choices=["area", "count"], default="area", help="IoU weighting of faces (default area)")
    p.add_argument(
        "--protocol",
        choices=["geosam2", "partfield", "sampart3d"],
        default="geosam2",
        help="scoring protocol: geosam2 (default), partfield (best level, per category), sampart3d (-1 excluded)",
    )
    p.add_argument("--shard", type=_parse_shard, default=(0, 1), help="evaluate shard i of n only (e.g. 0/4); combine with merge")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="output folder (re-running resumes: finished objects are kept)")
    p.set_defaults(run=_run_evaluate)


def _print_summary(summary: dict, out: Path) -> None:
    print(f"{summary['method']}: mIoU {summary['protocol_miou']:.2f} % over {summary['objects']} objects", end="")
    problems = len(summary["failed"]) + len(summary["missing"])
    print(f" ({len(summary['failed'])} failed, {len(summary['missing'])} missing)" if problems else "")
    print(f"reports in {out}: summary.md, summary.json, objects.csv, chart.html")


def _run_evaluate(args) -> None:
    from .evaluation.runner import Predictions, make_method, run_evaluation

    if args.pred_dir:
        method = Predictions(args.pred_dir)
    else:
        prompting = dict(
            candidates=args.candidates,
            box=args.box,
            negative_clicks=args.negative_clicks,
            auto_complete=not args.no_auto_complete,
            split_disconnected=args.split_disconnected,
        )
        method = make_method(args.segmenter, args.resolution, args.pa, args.checkpoint, **prompting)
    summary = run_evaluation(
        args.gt_dir, method, args.out, args.categories, args.shard, args.weighting, args.protocol, not args.quiet
    )
    _print_summary(summary, Path(args.out))


def _add_merge(sub) -> None:
    p = sub.add_parser("merge", help="combine the shard folders of `geosam2 evaluate --shard` into one report")
    p.add_argument("shard_dirs", nargs="+", help="output folders of the shards")
    p.add_argument("--out", required=True, help="output folder of the merged report")
    p.set_defaults(run=_run_merge)


def _run_merge(args) -> None:
    from .evaluation.runner import merge_results

    summary = merge_results(args.shard_dirs, args.out)
    _print_summary(summary, Path(args.out))


def _add_curate(sub) -> None:
    p = sub.add_parser("curate", help="curate training parts (per-face labels, stats, previews) from a folder of meshes")
    p.add_argument("mesh_dir", help="folder searched recursively for mesh files")
    p.add_argument("--out", required=True, help="output folder (one sub-folder per kept object, curation.json)")
    p.add_argument("--max-parts", type=int, default=15, help="merge small parts until at most this many remain (default 15)")
    p.add_argument("--preview-resolution", type=int, default=128, help="size of each preview view in pixels")
    p.set_defaults(run=_run_curate)


def _run_curate(args) -> None:
    from .training.curate import curate_directory

    report = curate_directory(args.mesh_dir, args.out, max_parts=args.max_parts, preview_resolution=args.preview_resolution)
    for entry in report["skipped"]:
        print(f"skipped {entry['file']}: {entry['reason']}")
    print(f"kept {len(report['kept'])} objects, skipped {len(report['skipped'])}; see {Path(args.out) / 'curation.json'}")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="fine-tune GeoSAM2 (LoRA + fusion + IoU head) on curated objects; run under torchrun for several GPUs")
    p.add_argument("data_dir", help="folder written by `geosam2 curate`")
    p.add_argument("--out", required=True, help="folder for checkpoints and history.json")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=8, help="sequences per optimizer step, over all GPUs")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--variant", default="base_plus", help="SAM2.1 size of the network (default base_plus)")
    p.add_argument("--image-size", type=int, default=1024)
    p.add_argument("--views", type=int, default=12, help="views per object (default 12)")
    p.add_argument("--init", default="sam2", choices=("sam2", "geosam2", "random"), help="start from SAM2.1 weights, a GeoSAM2 checkpoint or random")
    p.add_argument("--init-checkpoint", help="the SAM2.1 or GeoSAM2 checkpoint for --init sam2|geosam2")
    p.add_argument("--resume", help="adapter checkpoint (adapter_*.pt) to continue from")
    p.add_argument("--val-split", type=float, default=0.1, help="share of objects held out for validation")
    p.add_argument("--val-runner", action="store_true", help="also run the evaluation runner (face mIoU) on the held-out objects each epoch")
    p.add_argument("--workers", type=int, default=0, help="data loader worker processes")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_run_train)


def _run_train(args) -> None:
    from .training.train import TrainOptions, train

    options = TrainOptions(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, variant=args.variant, image_size=args.image_size,
        num_views=args.views, init=args.init, init_checkpoint=args.init_checkpoint, val_split=args.val_split,
        val_runner=args.val_runner, num_workers=args.workers, seed=args.seed,
    )
    train(args.data_dir, args.out, options, resume=args.resume)


def _parse_numbers(count: int):
    """argparse type: `count` comma-separated numbers, e.g. "120,88"."""

    def parse(text: str) -> tuple:
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            values = ()
        if len(values) != count:
            raise argparse.ArgumentTypeError(f"expected {count} comma-separated numbers, got {text!r}")
        return values

    return parse


def _add_segment(sub) -> None:
    p = sub.add_parser("segment", help="segment a mesh or point cloud into parts from clicks or a box on one view and write the exports")
    p.add_argument("mesh", help="mesh (GLB/GLTF/OBJ/PLY/STL/OFF) or point-cloud file (PLY without faces, PCD, XYZ, NPY)")
    p.add_argument("--view", type=int, default=0, help="view the clicks and the box are given on (default 0)")
    p.add_argument("--click", type=_parse_numbers(2), action="append", default=[], metavar="X,Y", help="pixel of a part: each click makes one part (repeatable)")
    p.add_argument("--negative", type=_parse_numbers(2), action="append", default=[], metavar="X,Y", help="pixel no part may contain (repeatable)")
    p.add_argument("--box", type=_parse_numbers(4), metavar="X0,Y0,X1,Y1", help="box around one more part")
    p.add_argument("--auto", action="store_true", help="then give every face (point) still unlabelled a part")
    p.add_argument("--segmenter", choices=["geosam2", "geometry"], help="default: geosam2 if its weights load, else geometry (with a note; meshes only)")
    p.add_argument("--checkpoint", help="GeoSAM2 weights for --segmenter geosam2 (needed for point clouds)")
    p.add_argument("--resolution", type=int, default=1024, help="view size in pixels (default 1024)")
    p.add_argument("--pa", type=float, default=0.02, help="clean-up threshold PA (default 0.02)")
    p.add_argument("--face-budget", type=int, help="segment a decimated proxy of this many faces above it, exports of the full mesh (default $GEOSAM2_FACE_BUDGET or 500000; 0 = never)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(run=_run_segment)


POINT_CLOUD_NEEDS_WEIGHTS = (
    "the geometry segmenter needs a mesh with faces, not a point cloud: give the GeoSAM2 weights "
    "with --checkpoint /path/to/geosam2.pt or GEOSAM2_CHECKPOINT=/path/to/geosam2.pt"
)


def _segmenter(name: str | None, checkpoint: str | None, point_cloud: bool = False):
    """The segmenter of `geosam2 segment`; without a name, GeoSAM2 if it loads, else
    geometry (for a mesh; a point cloud needs GeoSAM2: the geometry segmenter reads faces)."""
    from .geometry import GeometrySegmenter

    if name == "geometry" and point_cloud:
        raise GeoSAM2Error(f"The input is a point cloud and {POINT_CLOUD_NEEDS_WEIGHTS}.")
    if name == "geometry":
        return GeometrySegmenter()
    try:
        from .predictor import GeoSAM2Segmenter, load_geosam2

        return GeoSAM2Segmenter(load_geosam2(checkpoint))
    except (ImportError, GeoSAM2Error) as exc:
        if point_cloud:
            raise GeoSAM2Error(f"The GeoSAM2 segmenter cannot run ({exc}), and {POINT_CLOUD_NEEDS_WEIGHTS}.") from exc
        if name == "geosam2":
            raise GeoSAM2Error(f"The GeoSAM2 segmenter cannot run ({exc}): give --checkpoint, or use --segmenter geometry.") from exc
        print(f"note: GeoSAM2 is not available ({exc}); using the geometry segmenter (parts split at sharp concave creases).", file=sys.stderr)
        return GeometrySegmenter()


def _run_segment(args) -> None:
    from tqdm import tqdm

    from .export import export_mesh
    from .pointcloud import PointCloud, export_point_cloud, load_geometry
    from .prompts import Prompt
    from .proxy import face_budget, labels_of_full_mesh, proxy_or_mesh
    from .session import Session

    negatives = [list(xy) for xy in args.negative]
    prompts = [
        Prompt(args.view, points=[list(xy)] + negatives, labels=[1] + [0] * len(negatives)) for xy in args.click
    ]
    if args.box is not None:
        prompts.append(Prompt(args.view, points=negatives or None, labels=[0] * len(negatives) or None, box=args.box))
    if not prompts and not args.auto:
        raise GeoSAM2Error("Nothing to segment: give --click X,Y, --box X0,Y0,X1,Y1 or --auto.")
    geometry = load_geometry(args.mesh)
    point_cloud = isinstance(geometry, PointCloud)
    segmenter = _segmenter(args.segmenter, args.checkpoint, point_cloud)
    budget = face_budget(args.face_budget)
    segmented = geometry if point_cloud else proxy_or_mesh(geometry, budget)
    if segmented is not geometry:
        print(f"note: {geometry.num_faces:,} faces is above the face budget of {budget:,}: segmenting a proxy of {segmented.num_faces:,} faces, exporting the full mesh.", file=sys.stderr)
    with tqdm(total=2 + len(prompts) + args.auto, desc="segment", unit="step", file=sys.stderr) as bar:
        bar.set_postfix_str("rendering")
        session = Session(segmented, segmenter, resolution=args.resolution, pa=args.pa)
        bar.update()
        for k, prompt in enumerate(prompts):
            bar.set_postfix_str(f"part {k + 1}/{len(prompts)}")
            session.add_part(prompt)
            bar.update()
        if args.auto:
            bar.set_postfix_str("auto-complete")
            session.auto_complete()
            bar.update()
        bar.set_postfix_str("exporting")
        labels = session.labels if point_cloud else labels_of_full_mesh(geometry, segmented, session.labels, args.pa)
        if point_cloud:  # names by label 0..max; ids no part holds any more keep a default name
            names = {p.id: p.name for p in session.parts}
            part_names = [names.get(i, f"part_{i}") for i in range(int(session.labels.max(initial=-1)) + 1)]
            paths = export_point_cloud(geometry, session.labels, args.out, part_names)
        else:
            paths = export_mesh(geometry, labels, args.out, session.parts)
        bar.update()
    unlabelled = int((labels < 0).sum())
    elements = "points" if point_cloud else "faces"
    print(f"{len(session.parts)} parts, {unlabelled} of {len(labels)} {elements} unlabelled; wrote {', '.join(Path(p).name for p in paths.values())} to {args.out}")


def _add_segment_many(sub) -> None:
    p = sub.add_parser("segment-many", help="segment every mesh of a folder automatically; re-running resumes; shards for several processes or GPUs")
    p.add_argument("mesh_dir", help="folder searched recursively for meshes (GLB/GLTF/OBJ/PLY/STL/OFF)")
    p.add_argument("--auto", action="store_true", required=True, help="give every face a part (the only mode, required)")
    p.add_argument("--segmenter", choices=["geosam2", "geometry"], help="default: geosam2 if its weights load, else geometry (with a note)")
    p.add_argument("--checkpoint", help="GeoSAM2 weights for --segmenter geosam2")
    p.add_argument("--resolution", type=int, default=1024, help="view size in pixels (default 1024)")
    p.add_argument("--pa", type=float, default=0.02, help="clean-up threshold PA (default 0.02)")
    p.add_argument("--face-budget", type=int, help="segment a decimated proxy of this many faces above it (default $GEOSAM2_FACE_BUDGET or 500000; 0 = never)")
    p.add_argument("--shard", type=_parse_shard, help="do shard i of n only (e.g. 0/4); default under torchrun: RANK/WORLD_SIZE")
    p.add_argument("--out", required=True, help="output folder (meshes/, records/, summary_<i>_of_<n>.json)")
    p.set_defaults(run=_run_segment_many)


def _run_segment_many(args) -> None:
    from .batch import print_record, segment_many, torchrun_shard
    from .proxy import face_budget

    shard = args.shard or torchrun_shard()
    budget = face_budget(args.face_budget)
    segmenter = _segmenter(args.segmenter, args.checkpoint)
    summary = segment_many(args.mesh_dir, args.out, segmenter, shard, args.resolution, args.pa, budget, print_record)
    failed = summary["failed"]
    print(f"shard {shard[0]}/{shard[1]}: {len(summary['ok'])} meshes segmented, {len(failed)} failed; exports in {Path(args.out) / 'meshes'}")
    for entry in failed:
        print(f"failed: {entry['file']}: {entry['error']}")
    if failed:
        raise GeoSAM2Error(f"{len(failed)} meshes failed (listed above and in the summary): fix or remove them, then run the same command again to resume.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geosam2", description="GeoSAM2: prompt-controllable 3D part segmentation")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_render(sub)
    _add_segment(sub)
    _add_segment_many(sub)
    _add_evaluate(sub)
    _add_merge(sub)
    _add_curate(sub)
    _add_train(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except GeoSAM2Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
