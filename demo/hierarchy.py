"""Levels of the hierarchy of parts on the page: after Segment everything, step to coarser
and finer levels; and prompt files of several granularities nested into a parts tree.

`LevelBrowse` remembers what Segment everything made (its parts' faces and the
segmenter's levels); each step replaces those parts with the regions of another level
on the same faces, one undoable step (the parts the user made stay). The steps are
remembered by history state, so Undo and Redo land on a level again; any other edit
ends the browsing until the next Segment everything.

`HierarchyEvents` is a part of `demo.callbacks.DemoApp` (its `_user` finds the user's
state, its `_screen` gives every output).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr
import numpy as np

from geosam2.errors import PromptError
from geosam2.io.prompt_files import read_prompt_levels
from geosam2.pipeline.parts import Part, part_color
from geosam2.segmenters.steps import Steps

from .screen import user_errors
from .state import UserState, edited, holding_user

COARSER, FINER = -1, 1
NO_LEVELS = "Levels: after **Segment everything**, step to coarser or finer levels of the hierarchy of parts."
NOT_BROWSING = (
    "Press Segment everything first: the levels replace its parts (an edit made since then ends the "
    "browsing: Undo it, or press Segment everything again)."
)
NO_HIERARCHY = "This segmenter has no hierarchy of parts to step through: the offline geometry segmenter has one (see Settings)."


@dataclass(eq=False)
class LevelBrowse:
    """Segment everything's parts as levels of the segmenter's hierarchy.

    Attributes
    ----------
    levels : (L, F) int32 region per face per level, coarse to fine (`Segmenter.levels`)
    faces : (F,) bool, the faces Segment everything's parts cover (the levels' parts go there)
    first_id : int, the id of the first of those parts (a level's parts are numbered from it)
    shown : dict, history state -> index of the level it shows (states of this browsing only)
    """

    levels: np.ndarray
    faces: np.ndarray
    first_id: int
    shown: dict = field(default_factory=dict)


def region_counts(browse: LevelBrowse) -> np.ndarray:
    """(L,) int number of regions of each level on the browsed faces."""
    return np.array([len(np.unique(level[browse.faces])) for level in browse.levels])


def start_browsing(session, first_id: int) -> LevelBrowse | None:
    """The browsing of the parts with ids from `first_id` on (those Segment everything just
    made) in `session`'s current state, shown as the level whose number of regions on their
    faces is nearest to theirs (the coarser of two); None when the segmenter has no levels
    or no such part exists."""
    levels = session.segmenter.levels()
    faces = session.labels >= first_id
    if levels is None or not faces.any():
        return None
    browse = LevelBrowse(np.asarray(levels, np.int32), faces, first_id)
    made = len(np.unique(session.labels[faces]))
    browse.shown[session.history.state] = int(np.argmin(np.abs(region_counts(browse) - made)))
    return browse


def segment_everything_in_levels(user: UserState, steps: Steps | None = None):
    """Segment everything in the user's session (`Session.segment_everything`, reporting
    to and cancelled by `steps`) and start browsing the levels of its parts
    (`start_browsing`); returns the session's Update."""
    session = user.session
    first_id = session.history.state.next_id
    update = session.segment_everything(steps)
    user.browse = start_browsing(session, first_id)
    return update


def automatic_parts(user: UserState) -> int:
    """How many of the user's parts the browsed levels made (0 when not browsing)."""
    return 0 if user.browse is None else sum(part.id >= user.browse.first_id for part in user.session.parts)


def shown_level(user: UserState) -> int | None:
    """Index of the level the user's current labelling shows, None when it is not a browsed one."""
    browse = user.browse
    return None if browse is None else browse.shown.get(user.session.history.state)


def level_line(user: UserState) -> str:
    """The line above the level buttons: which level is shown and how many parts it has."""
    level = shown_level(user)
    if level is None:
        return NO_LEVELS
    count = automatic_parts(user)
    return (
        f"**Level {level + 1} of {len(user.browse.levels)}** of the hierarchy of parts: {count} automatic part{'s' * (count != 1)}. "
        "Coarser merges them, Finer splits them (Undo goes back)."
    )


def level_labels(browse: LevelBrowse, labels: np.ndarray, level: int) -> np.ndarray:
    """(F,) int32 `labels` with the browsed faces relabelled by their region at `level`:
    parts numbered from ``browse.first_id``, the region of most faces first."""
    regions = browse.levels[level][browse.faces]
    ids, inverse, sizes = np.unique(regions, return_inverse=True, return_counts=True)
    rank = np.empty(len(ids), np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(ids))
    relabelled = np.array(labels, np.int32)
    relabelled[browse.faces] = browse.first_id + rank[inverse]
    return relabelled


def show_level(session, browse: LevelBrowse, level: int):
    """Commit `level`'s parts in place of the browsed ones (one undo step; the other parts
    stay); returns the session's Update."""
    state = session.history.state
    labels = level_labels(browse, state.labels, level)
    kept = [p for p in state.parts if p.id < browse.first_id]
    new_ids = np.unique(labels[browse.faces])
    parts = kept + [Part(int(i), f"part_{i}", part_color(int(i))) for i in new_ids]
    update = session.history.commit(labels, parts, max(state.next_id, int(new_ids.max()) + 1))
    browse.shown[session.history.state] = level
    return update


def prompt_notes(made) -> str:
    """What the prompt files made, in words: parts per file, then every note."""
    counts = ", ".join(f"{len(level.parts)} from {level.source}" for level in made)
    notes = [note for level in made for note in level.notes]
    return f"Parts made: {counts}." + ("" if not notes else " Not used: " + "; ".join(notes) + ".")


class HierarchyEvents:
    """The level and prompt-file events of DemoApp (see the module's docstring)."""

    @holding_user
    @user_errors
    def step_level(self, step: int, prompt: dict, request: gr.Request):
        """Show the next coarser (`step` COARSER) or finer (FINER) level of the hierarchy."""
        user = self._user(request)
        level = shown_level(user)
        if level is None:
            raise PromptError(NO_HIERARCHY if user.session.segmenter.levels() is None else NOT_BROWSING)
        target = level + step
        if not 0 <= target < len(user.browse.levels):
            raise PromptError(f"This is the {'coarsest' if step == COARSER else 'finest'} level already.")
        update = show_level(user.session, user.browse, target)
        edited(user)
        return self._screen(user, prompt, None, update.changed_views)

    @holding_user
    @user_errors
    def add_prompt_files(self, paths, prompt: dict, request: gr.Request, progress=gr.Progress()):
        """Add the parts of prompt files in the release's format (one file per level of
        detail, nested coarsest first: `Workspace.add_prompt_levels`); says what was made."""
        user = self._user(request)
        if not paths:
            raise PromptError("Choose one or more prompt files (the release's JSON point prompts).")
        session = user.session
        levels = read_prompt_levels(paths, session.views.resolution, session.views.num_views)
        progress(0.1, desc=f"segmenting the prompts of {len(levels)} file(s)")
        made = user.workspace.add_prompt_levels(levels)
        if not any(level.parts for level in made):
            raise PromptError("The prompt files made no part. " + prompt_notes(made))
        edited(user)
        gr.Info(prompt_notes(made))
        return self._screen(user, prompt, None, None)
