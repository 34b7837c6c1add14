"""`geosam2 evaluate` and `geosam2 merge`: benchmark a method on a ground-truth folder, combine shards."""

from __future__ import annotations

from pathlib import Path

from ..evaluation.policies import SEGMENTERS
from .options import add_face_limits, add_profile, add_resumable_out, add_setting, parse_shard, settings_of


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="class-agnostic mIoU of a method on a ground-truth folder")
    p.add_argument("gt_dir", help="folder of ground-truth meshes (or a dataset root with a GT/ folder)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--pred-dir", help="score another method's stored predictions (same formats as the GT)")
    source.add_argument(
        "--segmenter", choices=SEGMENTERS, help="run a segmenter with simulated prompts (pieces: connected pieces, no prompt)"
    )
    p.add_argument("--categories", help="JSON or CSV mapping object ids to categories")
    add_setting(p, "resolution", what="view size in pixels for --segmenter")
    add_setting(p, "pa", what="clean-up threshold PA for --segmenter")
    p.add_argument("--checkpoint", help="GeoSAM2 weights for --segmenter geosam2")
    add_profile(p)
    add_face_limits(p, budget=False)
    p.add_argument("--candidates", type=int, default=4, help="prompt views tried, 360/N degrees apart; the best is kept (default 4)")
    p.add_argument("--box", action="store_true", help="the simulated user also draws each part's box")
    p.add_argument("--negative-clicks", type=int, default=0, help="negative clicks per prompt, in other parts (default 0)")
    p.add_argument("--no-auto-complete", action="store_true", help="do not segment what the prompt view cannot see")
    p.add_argument(
        "--no-prompts",
        action="store_true",
        help="with --segmenter geometry: segment everything without a prompt and score the best level of its hierarchy "
        "of parts (PartField's best-level protocol), and beside it the default level (what segment everything shows)",
    )
    p.add_argument("--weighting", choices=["area", "count"], default="area", help="IoU weighting of faces (default area)")
    p.add_argument(
        "--protocol",
        choices=["geosam2", "partfield", "sampart3d"],
        default="geosam2",
        help="scoring protocol: geosam2 (default), partfield (best level, per category), sampart3d (-1 excluded)",
    )
    p.add_argument("--shard", type=parse_shard, default=(0, 1), help="evaluate shard i of n only (e.g. 0/4); combine with merge")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_resumable_out(p, "objects")
    p.set_defaults(run=run_evaluate)


def print_summary(summary: dict, out: Path) -> None:
    print(f"{summary['method']}: mIoU {summary['protocol_miou']:.2f} % over {summary['objects']} objects", end="")
    problems = len(summary["failed"]) + len(summary["missing"])
    print(f" ({len(summary['failed'])} failed, {len(summary['missing'])} missing)" if problems else "")
    for name, value in summary.get("extra", {}).items():
        print(f"  {name}: {value:.2f} %")
    print(f"reports in {out}: summary.md, summary.json, objects.csv, chart.html")


def _prompting(args) -> dict:
    """The simulated user's options."""
    return dict(candidates=args.candidates, box=args.box, negative_clicks=args.negative_clicks, auto_complete=not args.no_auto_complete)


def run_evaluate(args) -> None:
    from ..evaluation.policies import make_method
    from ..evaluation.runner import Predictions, prepare_out, run_evaluation
    from ..evaluation.settings import evaluation_settings

    checkpoint = None
    settings = settings_of(args)
    if args.no_prompts:
        method, protocol = _levels_method(args)
        recorded = evaluation_settings(method.name, args.weighting, protocol)
    elif args.pred_dir:
        method = Predictions(args.pred_dir, settings.max_faces)
        recorded = evaluation_settings(method.name, args.weighting, args.protocol)
    else:
        if args.segmenter == "geosam2":
            from ..io.weights import resolve_checkpoint

            checkpoint = resolve_checkpoint(args.checkpoint)
        options = {}
        if args.segmenter != "pieces":
            options = dict(resolution=settings.resolution, pa=settings.pa, profile=settings.profile.name)
            options.update(_prompting(args) if args.segmenter != "oracle" else {})
        recorded = evaluation_settings(args.segmenter, args.weighting, args.protocol, checkpoint, **options)
    prepare_out(args.out, recorded, args.restart)  # before a network loads
    if not (args.pred_dir or args.no_prompts):
        method = make_method(args.segmenter, settings.resolution, settings.pa, checkpoint, settings.profile, **_prompting(args))
    protocol = recorded["protocol"]  # --no-prompts scores by the best level
    summary = run_evaluation(
        args.gt_dir, method, args.out, args.categories, args.shard, args.weighting, protocol, not args.quiet, settings=recorded,
        max_faces=settings.max_faces,
    )
    print_summary(summary, Path(args.out))


def _levels_method(args):
    """`--no-prompts`: the geometry segmenter's hierarchy of parts, scored by its best level."""
    from ..errors import GeoSAM2Error
    from ..evaluation.everything import BEST_LEVEL, HierarchyLevels

    if args.segmenter != "geometry":
        raise GeoSAM2Error("--no-prompts scores the geometry segmenter's levels of parts: give --segmenter geometry.")
    return HierarchyLevels(), BEST_LEVEL


def add_merge(sub) -> None:
    p = sub.add_parser("merge", help="combine the shard folders of `geosam2 evaluate --shard` into one report")
    p.add_argument("shard_dirs", nargs="+", help="output folders of the shards")
    p.add_argument("--out", required=True, help="output folder of the merged report")
    p.set_defaults(run=run_merge)


def run_merge(args) -> None:
    from ..evaluation.runner import merge_results

    summary = merge_results(args.shard_dirs, args.out)
    print_summary(summary, Path(args.out))
