"""The pending prompt as the page keeps it (a small dict in gr.State) and as the session takes it."""

from __future__ import annotations

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
