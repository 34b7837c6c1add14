"""Command line: `geosam2 render|segment|segment-many|evaluate|merge|curate|train ...`.

One module per command group (`render`, `segment`, `evaluate`, `training`), each
with an `add_<name>` function declaring a sub-command's arguments and a
`run_<name>` function doing the work; shared options are in `options`, their
defaults and ranges in `geosam2.settings`. `main` wires them together.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from ..errors import GeoSAM2Error
from .evaluate import add_evaluate, add_merge
from .render import add_render
from .segment import add_segment, add_segment_many
from .training import add_curate, add_train

NUMBER_LIST_OPTIONS = ("--click", "--negative", "--box")  # their values may start with "-"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geosam2", description="GeoSAM2: prompt-controllable 3D part segmentation")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (add_render, add_segment, add_segment_many, add_evaluate, add_merge, add_curate, add_train):
        add(sub)
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


class OutputFolderError(GeoSAM2Error):
    """The `--out` of a command cannot be a folder or cannot be written."""


def _prepare_out(args) -> list[Path]:
    """Make sure `--out` is a folder this process can write, before any work: refuse
    an existing file, a path under one, or a place where no folder or file can be
    made (the operating system's reason given). Returns the folders made here,
    deepest first (a command failing before it writes anything leaves none behind)."""
    out = getattr(args, "out", None)
    if not out:
        return []
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise OutputFolderError(f"--out '{out}' is an existing file, not a folder: give the path of a new or existing folder.")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise OutputFolderError(f"--out '{out}' lies under '{blocking}', an existing file: give the path of a folder.")
    made = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise OutputFolderError(f"--out '{out}' cannot be written ({exc.strerror or exc}): give a folder you can write to.") from None
    return made


def _drop_if_empty(made: list[Path]) -> None:
    """Remove the folders `_prepare_out` made, deepest first, while they are empty."""
    for folder in made:
        if not folder.is_dir() or any(folder.iterdir()):
            return
        folder.rmdir()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_attach_negative_values(sys.argv[1:] if argv is None else argv))
    made: list[Path] = []
    try:
        made = _prepare_out(args)
        args.run(args)
    except GeoSAM2Error as exc:
        _drop_if_empty(made)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # one line, no traceback; the sub-command may say how to resume
        resume = getattr(args, "on_interrupt", None)
        print("\nstopped (Ctrl-C)" + (f": {resume.format(out=args.out)}" if resume else "."), file=sys.stderr)
        return 130
    return 0
