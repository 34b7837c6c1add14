"""`geosam2 segment` and `geosam2 segment-many`: prompts or automatic parts, exports of the full mesh.

Both go through `geosam2.pipeline.workspace` (load, proxy above the face budget,
session, labels of every face, exports) with the command's `Settings`.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GeoSAM2Error, PromptError
from .options import add_face_limits, add_profile, add_resumable_out, add_setting, parse_numbers, parse_shard, settings_of

if TYPE_CHECKING:
    from ..settings import Settings

SEGMENTER_CHOICES = ("geosam2", "geometry")
POINT_CLOUD_NEEDS_WEIGHTS = (
    "the geometry segmenter needs a mesh with faces, not a point cloud: give the GeoSAM2 weights "
    "with --checkpoint /path/to/geosam2.pt or GEOSAM2_CHECKPOINT=/path/to/geosam2.pt"
)


def _add_segmenting(p, what: str) -> None:
    """The options `segment` and `segment-many` share: segmenter, weights, profile, settings."""
    p.add_argument("--segmenter", choices=SEGMENTER_CHOICES, help=f"default: geosam2 if its weights load, else geometry (with a note{what})")
    p.add_argument("--checkpoint", help="GeoSAM2 weights for --segmenter geosam2")
    add_profile(p)
    add_setting(p, "resolution", what="view size in pixels")
    add_setting(p, "pa")
    add_face_limits(p)
    add_setting(p, "network_mb", from_env=True)


def add_segment(sub) -> None:
    p = sub.add_parser("segment", help="segment a mesh or point cloud into parts from clicks or a box on one view and write the exports")
    p.add_argument("mesh", help="mesh (GLB/GLTF/OBJ/PLY/STL/OFF) or point-cloud file (PLY without faces, PCD, XYZ, NPY)")
    p.add_argument("--view", type=int, default=0, help="view the clicks and the box are given on (default 0)")
    p.add_argument("--click", type=parse_numbers(2), action="append", default=[], metavar="X,Y", help="pixel of a part: each click makes one part (repeatable)")
    p.add_argument("--negative", type=parse_numbers(2), action="append", default=[], metavar="X,Y", help="pixel no part may contain (repeatable)")
    p.add_argument("--box", type=parse_numbers(4), metavar="X0,Y0,X1,Y1", help="box around one more part")
    p.add_argument(
        "--prompts",
        action="append",
        default=[],
        metavar="FILE.json",
        help="point prompts in the release's JSON format (frame_idx, obj_id, point, label), one part per obj_id; "
        "repeatable, one file per granularity, nested coarsest first into a parts tree",
    )
    p.add_argument(
        "--auto", action="store_true", help="then give every face (point) still unlabelled a part; alone: segment everything"
    )
    p.add_argument(
        "--levels",
        action="store_true",
        help="also write <mesh>_levels.npy: the part labels of every level of the segmenter's hierarchy of parts, coarse to "
        "fine (the geometry segmenter)"
    )
    _add_segmenting(p, "; meshes only, point clouds need GeoSAM2")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(run=run_segment)


def choose_segmenter(name: str | None, checkpoint: str | None, settings: Settings, point_cloud: bool = False):
    """The segmenter of `geosam2 segment`; without a name, GeoSAM2 if it loads (its batches
    within ``settings.network_mb``), else geometry (for a mesh; a point cloud needs GeoSAM2:
    the geometry segmenter reads faces)."""
    from ..segmenters.geometry import GeometrySegmenter

    if name == "geometry" and point_cloud:
        raise GeoSAM2Error(f"The input is a point cloud and {POINT_CLOUD_NEEDS_WEIGHTS}.")
    if name == "geometry":
        return GeometrySegmenter()
    try:
        from ..io.weights import resolve_checkpoint

        path = resolve_checkpoint(checkpoint)  # in a second, before torch and SAM2 load (~10 s)
        from ..segmenters.geosam2 import GeoSAM2Segmenter, load_geosam2

        from ..segmenters.batching import NetworkMemory

        return GeoSAM2Segmenter(load_geosam2(path), memory=NetworkMemory.of(settings))
    except (ImportError, GeoSAM2Error) as exc:
        if point_cloud:
            raise GeoSAM2Error(f"The GeoSAM2 segmenter cannot run ({exc}), and {POINT_CLOUD_NEEDS_WEIGHTS}.") from exc
        if name == "geosam2":
            raise GeoSAM2Error(f"The GeoSAM2 segmenter cannot run ({exc}): give --checkpoint, or use --segmenter geometry.") from exc
        print(f"note: GeoSAM2 is not available ({exc}); using the geometry segmenter (parts split at sharp concave creases).", file=sys.stderr)
        return GeometrySegmenter()


def segment_prompts(args, resolution: int) -> list[tuple[str, object]]:
    """The prompts of `geosam2 segment`, each with a name for messages ("click 2 at
    (5, 7)", "the box"), checked against the rig's views of `resolution` px before
    anything is loaded."""
    from ..render.rig import official_rig
    from ..segmenters.prompts import Prompt

    negatives = [list(xy) for xy in args.negative]
    named = [
        (f"click {k + 1} at ({x:g}, {y:g})", Prompt(args.view, points=[[x, y]] + negatives, labels=[1] + [0] * len(negatives)))
        for k, (x, y) in enumerate(args.click)
    ]
    if args.box is not None:
        named.append(("the box", Prompt(args.view, points=negatives or None, labels=[0] * len(negatives) or None, box=args.box)))
    if not named and not args.auto and not args.prompts:
        raise GeoSAM2Error("Nothing to segment: give --click X,Y, --box X0,Y0,X1,Y1, --prompts FILE.json or --auto.")
    rig = official_rig(resolution=resolution)
    for name, prompt in named:
        try:
            prompt.check_image(rig.num_views, rig.resolution, rig.resolution)
        except PromptError as exc:
            raise PromptError(f"{name}: {exc}") from None
    return named


def _prompt_parts(session, named, bar) -> list[str]:
    """Add one part per prompt; a bad prompt costs its own part only (a warning). The names dropped."""
    dropped = []
    for k, (name, prompt) in enumerate(named):
        bar.set_postfix_str(f"part {k + 1}/{len(named)}")
        try:
            session.add_part(prompt)
        except PromptError as exc:
            dropped.append(name)
            bar.write(f"warning: {name} dropped: {exc}", file=sys.stderr)
        bar.update()
    return dropped


def prompt_levels(args, resolution: int) -> list:
    """The `--prompts` files as `geosam2.io.prompt_files.PromptLevel`, coarsest first, for
    the rig's views of `resolution` px, read and checked before anything is loaded."""
    from ..io.prompt_files import read_prompt_levels
    from ..render.rig import official_rig

    return read_prompt_levels(args.prompts, resolution, official_rig(resolution=resolution).num_views)


def _level_parts(workspace, levels, bar) -> list[str]:
    """Add the prompt files' parts tree; every note (clicks or objects left out, objects
    not nested) is a warning. The notes returned."""
    bar.set_postfix_str("prompt files")
    notes = [note for level in workspace.add_prompt_levels(levels) for note in level.notes]
    for note in notes:
        bar.write(f"warning: {note}", file=sys.stderr)
    bar.update(len(levels))
    return notes


def _levels_file(workspace, folder) -> str:
    """Write the hierarchy's levels beside the exports (`Workspace.export_levels`)."""
    path = workspace.export_levels(folder)
    if path is None:
        raise GeoSAM2Error(f"The {workspace.session.segmenter.name} segmenter has no levels of parts: --levels needs --segmenter geometry.")
    return path


def _automatic(session, prompted: bool, bar) -> None:
    """Auto-complete the prompted parts, or segment everything, its views and batches on
    `bar`. A first Ctrl-C stops it at its next batch and keeps the parts found (a second
    one interrupts at once); no part at all is an error saying so."""
    from ..segmenters.steps import Steps

    bar.set_postfix_str("auto-complete" if prompted else "segment everything")
    steps = Steps(lambda share, text: bar.set_postfix_str(text))

    def stop(signum, frame):
        if steps.cancelled:
            raise KeyboardInterrupt
        steps.cancel()
        bar.write("stopping at the next batch, keeping the parts found (Ctrl-C again to stop at once)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, stop) if threading.current_thread() is threading.main_thread() else None
    try:
        session.auto_complete(steps=steps) if prompted else session.segment_everything(steps)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if not session.parts:
        when = "before it was stopped" if steps.cancelled else f"(the {session.segmenter.name} segmenter proposed none that was kept)"
        raise GeoSAM2Error(f"Segment everything found no part {when}: give clicks (--click) or try another segmenter or profile.")


def run_segment(args) -> None:
    from tqdm import tqdm

    from ..pipeline.workspace import Workpiece, Workspace
    from ..render import describe_backend

    settings = settings_of(args)
    named = segment_prompts(args, settings.resolution)
    levels = prompt_levels(args, settings.resolution)
    workpiece = Workpiece.load(args.mesh, settings)
    segmenter = choose_segmenter(args.segmenter, args.checkpoint, settings, workpiece.is_point_cloud)
    if workpiece.on_proxy:
        print(
            f"note: {workpiece.full.num_faces:,} faces is above the face budget of {settings.face_budget:,}: segmenting a proxy of "
            f"{workpiece.segmented.num_faces:,} faces, exporting the full mesh.",
            file=sys.stderr,
        )
    with tqdm(total=2 + len(levels) + len(named) + args.auto, desc="segment", unit="step", file=sys.stderr) as bar:
        bar.set_postfix_str("rendering")
        bar.write(f"{segmenter.name} segmenter; views by {describe_backend(point_cloud=workpiece.is_point_cloud)}", file=sys.stderr)
        workspace = Workspace(workpiece, segmenter, settings)
        session = workspace.session
        bar.update()
        notes = _level_parts(workspace, levels, bar) if levels else []
        dropped = _prompt_parts(session, named, bar)
        if not session.parts and not args.auto:
            raise PromptError("Nothing segmented: every prompt was dropped (see the warnings); correct them and run again.")
        if args.auto:  # with prompts: complete them; without: the release's fully automatic mode
            _automatic(session, bool(named or levels), bar)
            bar.update()
        bar.set_postfix_str("exporting")
        paths = workspace.export(args.out)
        if args.levels:
            paths["levels"] = _levels_file(workspace, args.out)
        bar.update()
    labels = workspace.labels()
    elements = "points" if workpiece.is_point_cloud else "faces"
    problems = f" ({len(dropped)} of {len(named)} prompts dropped: see the warnings)" if dropped else ""
    problems += f" ({len(notes)} warnings on the prompt files)" if notes else ""
    print(
        f"{len(session.parts)} parts, {int((labels < 0).sum())} of {len(labels)} {elements} unlabelled{problems}; "
        f"wrote {', '.join(Path(p).name for p in paths.values())} to {args.out}"
    )


def add_segment_many(sub) -> None:
    p = sub.add_parser("segment-many", help="segment every mesh of a folder automatically; re-running resumes; shards for several processes or GPUs")
    p.add_argument("mesh_dir", help="folder searched recursively for meshes (GLB/GLTF/OBJ/PLY/STL/OFF)")
    p.add_argument("--auto", action="store_true", required=True, help="give every face a part (the only mode, required)")
    _add_segmenting(p, "")
    p.add_argument("--shard", type=parse_shard, help="do shard i of n only (e.g. 0/4); default under torchrun: RANK/WORLD_SIZE")
    add_resumable_out(p, "meshes", " (meshes/, records/, summary_<i>_of_<n>.json; never searched for input meshes)")
    p.set_defaults(run=run_segment_many)


def _weights_of(segmenter, checkpoint: str | None):
    """The checkpoint file `segmenter` runs with (None for the geometry segmenter)."""
    from ..segmenters.geometry import GeometrySegmenter

    if isinstance(segmenter, GeometrySegmenter):
        return None
    from ..io.weights import resolve_checkpoint

    return resolve_checkpoint(checkpoint)


def run_segment_many(args) -> None:
    from ..pipeline.batch import input_files, print_record, run_settings, segment_many, torchrun_shard

    shard = args.shard or torchrun_shard()
    settings = settings_of(args)
    input_files(Path(args.mesh_dir), Path(args.out))  # a missing or empty folder: refused before a network loads
    segmenter = choose_segmenter(args.segmenter, args.checkpoint, settings)
    recorded = run_settings(settings, segmenter.name, _weights_of(segmenter, args.checkpoint))
    summary = segment_many(args.mesh_dir, args.out, segmenter, settings, shard, print_record, recorded, args.restart)
    failed, kept = summary["failed"], len(summary["ok"]) + len(summary["failed"]) - len(summary["segmented"])
    print(
        f"shard {shard[0]}/{shard[1]}: {len(summary['ok'])} meshes segmented ({kept} kept from an earlier run), "
        f"{len(failed)} failed; exports in {Path(args.out) / 'meshes'}"
    )
    for entry in failed:
        print(f"failed: {entry['file']}: {entry['error']}")
    if failed:
        raise GeoSAM2Error(f"{len(failed)} meshes failed (listed above and in the summary): fix or remove them, then run the same command again to resume.")
