"""From prompts to faces, the project's way: a profile's ``prompting`` strategy (the
release's: `geosam2.profiles.official.completion.ReleasePrompting`).

A prompting strategy answers, for a `geosam2.pipeline.session.Session`:

- ``select(session, prompts) -> (selected, masks)``: (P, E) bool elements each
  prompt selects (an element goes to at most one prompt) and the (P, V, H, W) bool
  masks they come from;
- ``kept_masks(state, made, masks, parent) -> tuple``: given the indices `made` of the
  prompts that became parts (ids from ``state.next_id`` on), the (part id, masks) pairs
  the next step of the history keeps (the release lifts its prompted parts' masks
  again in its automatic completion; the project keeps none).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..segmenters.prompts import Prompt


def selection_of(surface, lifted: np.ndarray, count: int, pa: float) -> np.ndarray:
    """(count, E) bool elements of each of `count` prompts after the clean-up of (E,)
    `lifted` labels on `surface` (labels from `count` on are not prompts' parts)."""
    if not ((lifted >= 0) & (lifted < count)).any():
        return np.zeros((count, surface.num_elements), bool)
    cleaned = surface.clean(lifted, pa)
    return cleaned[None] == np.arange(count)[:, None]


def one_owner(faces: np.ndarray) -> np.ndarray:
    """(P, F) bool `faces` with each face kept only in the smallest of the answers
    claiming it (as the lifting's vote, where the smaller mask wins)."""
    sizes = faces.sum(1)
    order = np.argsort(sizes, kind="stable")
    taken = np.zeros(faces.shape[1], bool)
    kept = np.zeros_like(faces)
    for p in order:
        kept[p] = faces[p] & ~taken
        taken |= faces[p]
    return kept


class ProjectPrompting:
    """The segmenter's masks of all prompts at once, lifted together against the
    silhouette outside every mask (a label of lower priority, so that faces seen
    outside every mask vote "none of these parts"), cleaned up; a segmenter answering
    with faces (in 3-D, `PartMasks.faces`) is taken at its word."""

    def select(self, session, prompts: Sequence[Prompt]) -> tuple[np.ndarray, np.ndarray]:
        found = session.segmenter.segment(session.views, prompts)
        masks = np.asarray(found.masks, bool)  # (P, V, H, W)
        if found.faces is not None:
            return one_owner(np.asarray(found.faces, bool)), masks
        outside = session.views.silhouette & ~masks.any(0)
        lifted = session.surface.lift(np.concatenate([masks, outside[None]]), priorities=[1] * len(prompts) + [0])
        return selection_of(session.surface, lifted, len(prompts), session.pa), masks

    def kept_masks(self, state, made: list, masks: np.ndarray, parent: int | None) -> tuple:
        """`state.masks` as they are: the project's completion does not read them."""
        return state.masks
