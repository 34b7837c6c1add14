"""Command line: `geosam2 render|segment|evaluate|curate|train ...`.

Each sub-command has an `_add_<name>` function that declares its arguments and a
`_run_<name>` function that does the work; `main` wires them together.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np

from .errors import GeoSAM2Error, PromptError
from .evaluation.policies import SEGMENTERS
from .profiles import PROFILES
from .io.mesh import MAX_FACES_ENV

RESOLUTIONS = (16, 4096)  # pixels: smaller views show nothing, larger ones exhaust memory (12 views)
NUMBER_LIST_OPTIONS = ("--click", "--negative", "--box")  # their values may start with "-"


def _int_between(low: int, high: int | None = None):
    """argparse type: a whole number from `low` to `high` (no upper bound when None)."""
    span = f"from {low} to {high}" if high is not None else f"of at least {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected a whole number {span}, got {text!r}")
        return value

    return parse


def _fraction(text: str) -> float:
    """argparse type: a number from 0 up to, not including, 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 up to (not including) 1, got {text!r}")
    return value


def _add_resolution(p, what: str) -> None:
    p.add_argument("--resolution", type=_int_between(*RESOLUTIONS), default=1024, help=f"{what} in pixels, {RESOLUTIONS[0]} to {RESOLUTIONS[1]} (default 1024)")


def _add_profile(p) -> None:
    p.add_argument(
        "--profile",
        choices=PROFILES,
        help="inference profile: official (the release's behaviour throughout) or improved (the project's); "
        "default: GeoSAM2's propagation and proposals as the release's, the project's lifting, clean-up and completion",
    )


def _add_face_budget(p) -> None:
    p.add_argument(
        "--face-budget",
        type=_int_between(0),
        help="segment a decimated proxy of this many faces above it, export the full mesh "
        "(default $GEOSAM2_FACE_BUDGET or 500000; 0 = never)",
    )


def _add_max_faces(p) -> None:
    p.add_argument(
        "--max-faces",
        type=_int_between(1),
        help=f"refuse meshes with more faces than this (default: ${MAX_FACES_ENV} when set, else 2,000,000)",
    )


def _add_render(sub) -> None:
    p = sub.add_parser("render", help="render the 12 normal maps and point maps of a mesh to PNGs")
    p.add_argument("mesh", help="mesh file (GLB/GLTF/OBJ/PLY/STL/OFF)")
    p.add_argument("--out", required=True, help="output folder")
    _add_resolution(p, "image size")
    p.add_argument("--views", type=_int_between(1, 360), default=12, help="number of views (default 12)")
    p.add_argument("--start-azimuth", type=float, default=270.0, help="azimuth of view 0 in degrees")
    p.add_argument("--backend", default="auto", help="auto (default: pytorch3d with CUDA, else raycast), raycast or pytorch3d")
    _add_max_faces(p)
    p.set_defaults(run=_run_render)


def _run_render(args) -> None:
    from PIL import Image

    from .model.encode import normal_image_uint8
    from .io.mesh import load_mesh
    from .render import render_views
    from .render.rig import official_rig

    mesh = load_mesh(args.mesh, args.max_faces)
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
    source.add_argument(
        "--segmenter", choices=SEGMENTERS, help="run a segmenter with simulated prompts (pieces: connected pieces, no prompt)"
    )
    p.add_argument("--categories", help="JSON or CSV mapping object ids to categories")
    _add_resolution(p, "view size for --segmenter")
    p.add_argument("--pa", type=_fraction, default=0.02, help="clean-up threshold PA for --segmenter, in [0, 1) (default 0.02)")
    p.add_argument("--checkpoint", help="GeoSAM2 weights for --segmenter geosam2")
    _add_profile(p)
    p.add_argument("--candidates", type=int, default=4, help="prompt views tried, 360/N degrees apart; the best is kept (default 4)")
    p.add_argument("--box", action="store_true", help="the simulated user also draws each part's box")
    p.add_argument("--negative-clicks", type=int, default=0, help="negative clicks per prompt, in other parts (default 0)")
    p.add_argument("--no-auto-complete", action="store_true", help="do not segment what the prompt view cannot see")
    p.add_argument("--weighting", choices=["area", "count"], default="area", help="IoU weighting of faces (default area)")
    p.add_argument(
        "--protocol",
        choices=["geosam2", "partfield", "sampart3d"],
        default="geosam2",
        help="scoring protocol: geosam2 (default), partfield (best level, per category), sampart3d (-1 excluded)",
    )
    p.add_argument("--shard", type=_parse_shard, default=(0, 1), help="evaluate shard i of n only (e.g. 0/4); combine with merge")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--out",
        required=True,
        help="output folder; re-running with the same settings resumes (finished objects are kept, missing and failed ones retried), "
        "other settings are refused",
    )
    p.add_argument("--restart", action="store_true", help="delete the results already in --out and start afresh (e.g. after changing settings)")
    p.set_defaults(run=_run_evaluate, on_interrupt="the finished objects are kept in {out}; re-run the same command to resume.")


def _print_summary(summary: dict, out: Path) -> None:
    print(f"{summary['method']}: mIoU {summary['protocol_miou']:.2f} % over {summary['objects']} objects", end="")
    problems = len(summary["failed"]) + len(summary["missing"])
    print(f" ({len(summary['failed'])} failed, {len(summary['missing'])} missing)" if problems else "")
    print(f"reports in {out}: summary.md, summary.json, objects.csv, chart.html")


def _run_evaluate(args) -> None:
    from .evaluation.policies import make_method
    from .evaluation.runner import Predictions, prepare_out, run_evaluation
    from .evaluation.settings import evaluation_settings

    prompting = dict(
        candidates=args.candidates,
        box=args.box,
        negative_clicks=args.negative_clicks,
        auto_complete=not args.no_auto_complete,
    )
    checkpoint = None
    if args.pred_dir:
        method = Predictions(args.pred_dir)
        settings = evaluation_settings(method.name, args.weighting, args.protocol)
    else:
        if args.segmenter == "geosam2":
            from .io.weights import resolve_checkpoint

            checkpoint = resolve_checkpoint(args.checkpoint)
        profile = args.profile or "default"  # recorded: None is Session's default
        if args.segmenter == "pieces":
            options = {}
        else:
            options = dict(resolution=args.resolution, pa=args.pa, profile=profile, **(prompting if args.segmenter != "oracle" else {}))
        settings = evaluation_settings(args.segmenter, args.weighting, args.protocol, checkpoint, **options)
    prepare_out(args.out, settings, args.restart)  # before a network loads
    if not args.pred_dir:
        method = make_method(args.segmenter, args.resolution, args.pa, checkpoint, args.profile, **prompting)
    summary = run_evaluation(
        args.gt_dir, method, args.out, args.categories, args.shard, args.weighting, args.protocol, not args.quiet, settings=settings
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
    """argparse type: `count` comma-separated finite numbers, e.g. "120,88"."""

    def parse(text: str) -> tuple:
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            values = ()
        if len(values) != count or not all(math.isfinite(v) for v in values):
            raise argparse.ArgumentTypeError(f"expected {count} comma-separated finite numbers, got {text!r}")
        return values

    return parse


def _add_segment(sub) -> None:
    p = sub.add_parser("segment", help="segment a mesh or point cloud into parts from clicks or a box on one view and write the exports")
    p.add_argument("mesh", help="mesh (GLB/GLTF/OBJ/PLY/STL/OFF) or point-cloud file (PLY without faces, PCD, XYZ, NPY)")
    p.add_argument("--view", type=int, default=0, help="view the clicks and the box are given on (default 0)")
    p.add_argument("--click", type=_parse_numbers(2), action="append", default=[], metavar="X,Y", help="pixel of a part: each click makes one part (repeatable)")
    p.add_argument("--negative", type=_parse_numbers(2), action="append", default=[], metavar="X,Y", help="pixel no part may contain (repeatable)")
    p.add_argument("--box", type=_parse_numbers(4), metavar="X0,Y0,X1,Y1", help="box around one more part")
    p.add_argument(
        "--auto", action="store_true", help="then give every face (point) still unlabelled a part; alone: segment everything"
    )
    p.add_argument("--segmenter", choices=["geosam2", "geometry"], help="default: geosam2 if its weights load, else geometry (with a note; meshes only)")
    p.add_argument("--checkpoint", help="GeoSAM2 weights for --segmenter geosam2 (needed for point clouds)")
    _add_profile(p)
    _add_resolution(p, "view size")
    p.add_argument("--pa", type=_fraction, default=0.02, help="clean-up threshold PA, in [0, 1) (default 0.02)")
    _add_max_faces(p)
    _add_face_budget(p)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(run=_run_segment)


POINT_CLOUD_NEEDS_WEIGHTS = (
    "the geometry segmenter needs a mesh with faces, not a point cloud: give the GeoSAM2 weights "
    "with --checkpoint /path/to/geosam2.pt or GEOSAM2_CHECKPOINT=/path/to/geosam2.pt"
)


def _segmenter(name: str | None, checkpoint: str | None, point_cloud: bool = False):
    """The segmenter of `geosam2 segment`; without a name, GeoSAM2 if it loads, else
    geometry (for a mesh; a point cloud needs GeoSAM2: the geometry segmenter reads faces)."""
    from .segmenters.geometry import GeometrySegmenter

    if name == "geometry" and point_cloud:
        raise GeoSAM2Error(f"The input is a point cloud and {POINT_CLOUD_NEEDS_WEIGHTS}.")
    if name == "geometry":
        return GeometrySegmenter()
    try:
        from .io.weights import resolve_checkpoint

        path = resolve_checkpoint(checkpoint)  # in a second, before torch and SAM2 load (~10 s)
        from .segmenters.geosam2 import GeoSAM2Segmenter, load_geosam2

        return GeoSAM2Segmenter(load_geosam2(path))
    except (ImportError, GeoSAM2Error) as exc:
        if point_cloud:
            raise GeoSAM2Error(f"The GeoSAM2 segmenter cannot run ({exc}), and {POINT_CLOUD_NEEDS_WEIGHTS}.") from exc
        if name == "geosam2":
            raise GeoSAM2Error(f"The GeoSAM2 segmenter cannot run ({exc}): give --checkpoint, or use --segmenter geometry.") from exc
        print(f"note: GeoSAM2 is not available ({exc}); using the geometry segmenter (parts split at sharp concave creases).", file=sys.stderr)
        return GeometrySegmenter()


def _segment_prompts(args) -> list[tuple[str, object]]:
    """The prompts of `geosam2 segment`, each with a name for messages ("click 2 at
    (5, 7)", "the box"), checked against the rig's views before anything is loaded."""
    from .segmenters.prompts import Prompt
    from .render.rig import official_rig

    negatives = [list(xy) for xy in args.negative]
    named = [
        (f"click {k + 1} at ({x:g}, {y:g})", Prompt(args.view, points=[[x, y]] + negatives, labels=[1] + [0] * len(negatives)))
        for k, (x, y) in enumerate(args.click)
    ]
    if args.box is not None:
        named.append(("the box", Prompt(args.view, points=negatives or None, labels=[0] * len(negatives) or None, box=args.box)))
    if not named and not args.auto:
        raise GeoSAM2Error("Nothing to segment: give --click X,Y, --box X0,Y0,X1,Y1 or --auto.")
    rig = official_rig(resolution=args.resolution)
    for name, prompt in named:
        try:
            prompt.check_image(rig.num_views, rig.resolution, rig.resolution)
        except PromptError as exc:
            raise PromptError(f"{name}: {exc}") from None
    return named


def _run_segment(args) -> None:
    from tqdm import tqdm

    from .io.export import export_mesh
    from .io.pointcloud import PointCloud
    from .io.pointexport import export_point_cloud
    from .io.pointreaders import load_geometry
    from .geometry.proxy import face_budget, labels_of_full_mesh, proxy_or_mesh
    from .render import describe_backend
    from .pipeline.session import Session

    named = _segment_prompts(args)
    geometry = load_geometry(args.mesh, args.max_faces)
    point_cloud = isinstance(geometry, PointCloud)
    segmenter = _segmenter(args.segmenter, args.checkpoint, point_cloud)
    budget = face_budget(args.face_budget)
    segmented = geometry if point_cloud else proxy_or_mesh(geometry, budget)
    if segmented is not geometry:
        print(
            f"note: {geometry.num_faces:,} faces is above the face budget of {budget:,}: segmenting a proxy of "
            f"{segmented.num_faces:,} faces, exporting the full mesh.",
            file=sys.stderr,
        )
    dropped = []
    with tqdm(total=2 + len(named) + args.auto, desc="segment", unit="step", file=sys.stderr) as bar:
        bar.set_postfix_str("rendering")
        bar.write(f"{segmenter.name} segmenter; views by {describe_backend(point_cloud=point_cloud)}", file=sys.stderr)
        session = Session(segmented, segmenter, resolution=args.resolution, pa=args.pa, profile=args.profile)
        bar.update()
        for k, (name, prompt) in enumerate(named):
            bar.set_postfix_str(f"part {k + 1}/{len(named)}")
            try:  # one bad click costs its own part only: the others and the exports are kept
                session.add_part(prompt)
            except PromptError as exc:
                dropped.append(name)
                bar.write(f"warning: {name} dropped: {exc}", file=sys.stderr)
            bar.update()
        if named and len(dropped) == len(named) and not args.auto:
            raise PromptError(f"Nothing segmented: every prompt was dropped ({'; '.join(dropped)}); correct them and run again.")
        if args.auto:  # with prompts: complete them; without: the release's fully automatic mode
            bar.set_postfix_str("auto-complete" if named else "segment everything")
            if named:
                session.auto_complete()
            else:
                session.segment_everything()
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
    problems = f" ({len(dropped)} of {len(named)} prompts dropped: see the warnings)" if dropped else ""
    print(
        f"{len(session.parts)} parts, {unlabelled} of {len(labels)} {elements} unlabelled{problems}; "
        f"wrote {', '.join(Path(p).name for p in paths.values())} to {args.out}"
    )


def _add_segment_many(sub) -> None:
    p = sub.add_parser("segment-many", help="segment every mesh of a folder automatically; re-running resumes; shards for several processes or GPUs")
    p.add_argument("mesh_dir", help="folder searched recursively for meshes (GLB/GLTF/OBJ/PLY/STL/OFF)")
    p.add_argument("--auto", action="store_true", required=True, help="give every face a part (the only mode, required)")
    p.add_argument("--segmenter", choices=["geosam2", "geometry"], help="default: geosam2 if its weights load, else geometry (with a note)")
    p.add_argument("--checkpoint", help="GeoSAM2 weights for --segmenter geosam2")
    _add_profile(p)
    _add_resolution(p, "view size")
    p.add_argument("--pa", type=_fraction, default=0.02, help="clean-up threshold PA, in [0, 1) (default 0.02)")
    _add_face_budget(p)
    p.add_argument("--shard", type=_parse_shard, help="do shard i of n only (e.g. 0/4); default under torchrun: RANK/WORLD_SIZE")
    p.add_argument("--out", required=True, help="output folder (meshes/, records/, summary_<i>_of_<n>.json)")
    p.set_defaults(run=_run_segment_many)


def _run_segment_many(args) -> None:
    from .pipeline.batch import print_record, segment_many, torchrun_shard
    from .geometry.proxy import face_budget

    shard = args.shard or torchrun_shard()
    budget = face_budget(args.face_budget)
    segmenter = _segmenter(args.segmenter, args.checkpoint)
    summary = segment_many(args.mesh_dir, args.out, segmenter, shard, args.resolution, args.pa, budget, print_record, args.profile)
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


def _attach_negative_values(argv: list[str]) -> list[str]:
    """`--click -10,20` as `--click=-10,20`: argparse would read "-10,20" as an option
    and refuse the click before it could be reported as outside the image."""
    joined: list[str] = []
    for token in argv:
        if joined and joined[-1] in NUMBER_LIST_OPTIONS and re.match(r"-[\d.]", token):
            joined[-1] = f"{joined[-1]}={token}"
        else:
            joined.append(token)
    return joined


def _check_out(args) -> None:
    """Refuse an `--out` naming an existing file, before any work."""
    out = getattr(args, "out", None)
    if out and Path(out).exists() and not Path(out).is_dir():
        raise GeoSAM2Error(f"--out '{out}' is an existing file, not a folder: give the path of a new or existing folder.")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_attach_negative_values(sys.argv[1:] if argv is None else argv))
    try:
        _check_out(args)
        args.run(args)
    except GeoSAM2Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # one line, no traceback; the sub-command may say how to resume
        resume = getattr(args, "on_interrupt", None)
        print("\nstopped (Ctrl-C)" + (f": {resume.format(out=args.out)}" if resume else "."), file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
