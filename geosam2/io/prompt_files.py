"""Point-prompt files in the official release's format: one part per object id.

The release (``single_view_point_prompt_infer.py``) reads a JSON list of clicks::

    [{"frame_idx": 0, "obj_id": 1, "point": [512.0, 400.0], "label": 1}, ...]

``frame_idx`` is the view, ``point`` is (x, y) in pixels of the release's
1024-px renders (`RELEASE_VIEW_SIZE`), ``label`` is 1 (positive, the default) or
0 (negative). All clicks of one ``obj_id`` make one part. Its example ships one
file per granularity (``point_prompts_scale1.json`` ... ``scale4.json``: 20, 16,
10 and 8 parts), read here as the levels of a parts tree.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GeoSAM2Error
from ..segmenters.prompts import Prompt

RELEASE_VIEW_SIZE = 1024
"""Pixel size of the release's rendered views: its prompt files' clicks are in these pixels."""

MAX_CLICKS = 100_000
"""Most clicks one prompt file may hold (the release's files hold under 100)."""


class PromptFileError(GeoSAM2Error):
    """A prompt file that is not in the release's format."""


@dataclass(frozen=True)
class PromptLevel:
    """The parts of one prompt file.

    Attributes
    ----------
    source : str
        The file's name, for messages.
    object_ids : tuple of int
        The release's ``obj_id`` of each part, increasing.
    prompts : tuple of Prompt
        One prompt per object, same order, clicks scaled to the session's views.
    ignored : tuple of str
        Clicks not used, each said in a sentence (an object's clicks on a second view:
        one part is prompted on one view, the view holding most of its clicks).
    """

    source: str
    object_ids: tuple
    prompts: tuple
    ignored: tuple = ()


def _item_click(item, index: int, source: str) -> tuple[int, int, float, float, int]:
    """(obj_id, frame, x, y, label) of one entry, checked."""
    where = f"{source}: entry {index}"
    if not isinstance(item, dict):
        raise PromptFileError(f"{where} is not an object: each click is {{'frame_idx', 'obj_id', 'point', 'label'}}.")
    missing = [key for key in ("frame_idx", "obj_id", "point") if key not in item]
    if missing:
        raise PromptFileError(f"{where} lacks {', '.join(missing)}: each click needs frame_idx, obj_id and point.")
    point, label = item["point"], item.get("label", 1)
    if not (isinstance(point, (list, tuple)) and len(point) == 2 and all(_is_number(v) for v in point)):
        raise PromptFileError(f"{where}: point must be [x, y] in pixels, got {point!r}.")
    if not all(math.isfinite(float(v)) for v in point):
        raise PromptFileError(f"{where}: point {point!r} is not a finite position.")
    if label not in (0, 1) or isinstance(label, bool):
        raise PromptFileError(f"{where}: label must be 1 (positive) or 0 (negative), got {label!r}.")
    for key in ("frame_idx", "obj_id"):
        if not (_is_number(item[key]) and float(item[key]).is_integer()):
            raise PromptFileError(f"{where}: {key} must be a whole number, got {item[key]!r}.")
    return int(item["obj_id"]), int(item["frame_idx"]), float(point[0]), float(point[1]), int(label)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_prompt_file(path: str | os.PathLike, resolution: int, num_views: int) -> PromptLevel:
    """The parts prompted by one release prompt file, for views of `resolution` pixels.

    Raises PromptFileError for anything but a JSON list of well-formed clicks on
    existing views inside the release's 1024-px image.
    """
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PromptFileError(f"Cannot read the prompt file {path.name}: {exc}. Give a JSON list of clicks.") from exc
    if not isinstance(entries, list) or not entries:
        raise PromptFileError(f"{path.name} is not a non-empty JSON list of clicks (the release's point-prompt format).")
    if len(entries) > MAX_CLICKS:
        raise PromptFileError(f"{path.name} holds {len(entries)} clicks; at most {MAX_CLICKS} are read.")
    clicks = [_item_click(item, i, path.name) for i, item in enumerate(entries)]
    for obj, frame, x, y, _ in clicks:
        if not 0 <= frame < num_views:
            raise PromptFileError(f"{path.name}: object {obj} is clicked on view {frame}; views are 0 to {num_views - 1}.")
        if not (0 <= x <= RELEASE_VIEW_SIZE and 0 <= y <= RELEASE_VIEW_SIZE):
            raise PromptFileError(f"{path.name}: click ({x}, {y}) of object {obj} lies outside the release's {RELEASE_VIEW_SIZE}-px view.")
    scale = resolution / RELEASE_VIEW_SIZE
    ids, prompts, ignored = [], [], []
    for obj in sorted({c[0] for c in clicks}):
        own = [c for c in clicks if c[0] == obj]
        frames = Counter(c[1] for c in own if c[4] == 1) or Counter(c[1] for c in own)
        view = min(frames, key=lambda f: (-frames[f], f))
        on_view = [c for c in own if c[1] == view]
        if len(on_view) < len(own):
            ignored.append(f"object {obj}: {len(own) - len(on_view)} click(s) off view {view} not used")
        if not any(c[4] == 1 for c in on_view):
            ignored.append(f"object {obj}: only negative clicks, no part made")
            continue
        points = np.array([[c[2], c[3]] for c in on_view], np.float32) * scale
        prompts.append(Prompt(view, points=points, labels=[c[4] for c in on_view]))
        ids.append(obj)
    return PromptLevel(path.name, tuple(ids), tuple(prompts), tuple(ignored))


def read_prompt_levels(paths, resolution: int, num_views: int) -> list[PromptLevel]:
    """One `PromptLevel` per file, coarsest first: ordered by their number of parts
    (fewest first), files with as many parts in the order given."""
    levels = [read_prompt_file(path, resolution, num_views) for path in paths]
    return sorted(levels, key=lambda level: len(level.prompts))
