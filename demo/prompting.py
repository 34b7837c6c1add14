"""The pending prompt as the page keeps it (a small dict in gr.State) and as the session takes it."""

from __future__ import annotations

import math

import numpy as np

from geosam2.errors import PromptError
from geosam2.segmenters.prompts import Prompt

POSITIVE, NEGATIVE, BOX = "Positive click", "Negative click", "Box (two clicks)"
MODES = (POSITIVE, NEGATIVE, BOX)


def empty_prompt(view: int = 0) -> dict:
    """The pending prompt kept in gr.State: its view, clicks [x, y, positive] and box corners [x, y]."""
    return {"view": view, "clicks": [], "box": []}


def with_click(prompt: dict, views, xy, mode: str) -> dict:
    """`prompt` with a click at pixel `xy` = (column, row) of its view (clipped to the
    image), or a box corner in box mode. Raises PromptError for a click on the background."""
    x, y = (int(np.clip(c, 0, views.resolution - 1)) for c in xy)
    prompt = {"view": prompt["view"], "clicks": [list(c) for c in prompt["clicks"]], "box": [list(c) for c in prompt["box"]]}
    if mode == BOX:
        prompt["box"] = (prompt["box"] if len(prompt["box"]) == 1 else []) + [[x + 0.5, y + 0.5]]
    else:
        if views.face_ids[prompt["view"], y, x] < 0:
            raise PromptError("That click is on the background: click on the object itself.")
        prompt["clicks"].append([x + 0.5, y + 0.5, mode == POSITIVE])
    return prompt


def to_prompt(prompt: dict) -> Prompt | None:
    """The session's Prompt of the pending prompt, or None without a positive click or a whole box."""
    clicks = prompt["clicks"]
    box = None
    if len(prompt["box"]) == 2:
        (x0, y0), (x1, y1) = prompt["box"]
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    if not any(positive for _, _, positive in clicks) and box is None:
        return None
    return Prompt(
        prompt["view"],
        points=[c[:2] for c in clicks] or None,
        labels=[int(c[2]) for c in clicks] or None,
        box=box,
    )


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def api_prompt(view, clicks, box) -> dict:
    """The pending prompt (as `empty_prompt` gives) of an API client's numbers: `view` an
    integer, `clicks` [[x, y, positive], ...] (pixels, positive 1 or 0), `box` [] or
    [x0, y0, x1, y1]. Raises PromptError saying what is malformed."""
    if not _is_number(view) or view != int(view):
        raise PromptError(f"The view must be a view number (an integer such as 0), not {view!r}.")
    if not isinstance(clicks, (list, tuple)) or not all(isinstance(c, (list, tuple)) and len(c) == 3 for c in clicks):
        raise PromptError(f"Clicks must be a list of [x, y, positive] (pixels; positive 1 or 0), e.g. [[120, 80, 1]], not {clicks!r}.")
    if not isinstance(box, (list, tuple)) or len(box) not in (0, 4):
        raise PromptError(f"The box must be [x0, y0, x1, y1] in pixels, or [] for none, not {box!r}.")
    if not all(_is_number(v) for c in clicks for v in c[:2]) or not all(_is_number(v) for v in box):
        raise PromptError("Clicks and box corners must be finite numbers of pixels (no NaN or infinity).")
    if not all(c[2] in (0, 1) for c in clicks):
        raise PromptError("The third number of a click says whether it is positive: 1 (part) or 0 (not the part).")
    corners = [list(box[:2]), list(box[2:])] if box else []
    return {"view": int(view), "clicks": [[c[0], c[1], bool(c[2])] for c in clicks], "box": corners}
