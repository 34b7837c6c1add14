"""The page's events that change the labelling: thin calls into the user's Session.

`EditingEvents` is a part of `demo.callbacks.DemoApp` (its `_user` finds the
user's state, its `_screen` gives every output). Each event says what it did
when that is not plain to see: a new part that took faces of existing parts, a
refinement that would equal its parent (refused), an operation with nothing to do.
"""

from __future__ import annotations

import gradio as gr
import numpy as np

from geosam2.errors import PromptError
from geosam2.pipeline.workspace import Workspace
from geosam2.segmenters.prompts import Prompt

from .hierarchy import segment_everything_in_levels
from .prompting import empty_prompt, to_prompt
from .screen import only, user_errors
from .state import UserState, edited, holding_user


def taken_from_parts(before_labels: np.ndarray, before_parts, session) -> str:
    """Which existing parts lost faces to the newest part, in words ("" when none did):
    each with the share of its faces taken."""
    after = session.labels
    lost = []
    for part in before_parts:
        had = before_labels == part.id
        taken = had & (after != part.id) & (after >= 0)
        if taken.any():
            share = taken.sum() / had.sum()
            lost.append(f"{part.name} ({'all of it' if share == 1 else f'{100 * share:.0f} %'})")
    return ", ".join(lost)


def nothing_found(message: str, from_page: bool) -> tuple:
    """An automatic step that found nothing: on the page a warning and nothing changed;
    for an API client (`from_page` False) gr.Error, as a warning would not reach it."""
    if not from_page:
        raise gr.Error(message)
    gr.Warning(message)
    return only()


class EditingEvents:
    """The labelling events of DemoApp (see the module's docstring)."""

    @holding_user
    @user_errors
    def segment(self, prompt: dict, part, pa, auto_complete, refine: bool, request: gr.Request, progress=gr.Progress()):
        """Make a new part from the pending prompt; with `refine`, inside the selected part `part`."""
        user = self._user(request)
        query = to_prompt(prompt)
        if query is None:
            raise PromptError("Click on a part first (a positive click), or draw a box in box mode.")
        if refine and part is None:
            raise PromptError("Select the part to refine in 'Selected part' first.")
        return self._add(user, query, int(part) if refine else None, pa, auto_complete, progress)

    def _add(self, user: UserState, query: Prompt, parent: int | None, pa, auto_complete, progress) -> tuple:
        """Add the part `query` selects (inside `parent` if given), then complete the rest if
        asked. A refinement keeps its parent selected (the next one refines it too); one
        taking the whole parent is refused; a part taking faces of others says so."""
        session = user.session
        before_labels, before_parts = session.labels, session.parts
        user.workspace.set_pa(pa)
        progress(0.1, desc=f"segmenting {session.views.num_views} views")
        update = session.add_part(query, parent=parent)
        new_part = max(p.id for p in update.parts)
        if parent is not None and session.part(parent).faces == 0 and len(session.children(parent)) == 1:
            session.undo()
            name = session.part(parent).name
            raise PromptError(
                f"That prompt selects all of {name}: the child would be {name} itself. Click on a smaller region "
                "inside it (negative clicks leave areas out), or press 'Segment everything inside the selected part'."
            )
        taken = "" if parent is not None else taken_from_parts(before_labels, before_parts, session)
        if taken:
            gr.Warning(f"The new part took faces of {taken}. Undo brings them back.")
        changed = set(update.changed_views)
        if auto_complete:
            progress(0.6, desc="completing the rest")
            changed |= set(session.auto_complete().changed_views)
        edited(user)
        progress(0.9, desc="drawing")
        return self._screen(user, empty_prompt(query.view), new_part if parent is None else parent, sorted(changed))

    @holding_user
    @user_errors
    def pick_candidate(self, index: int, pa, auto_complete, request: gr.Request, progress=gr.Progress()):
        """Make a new part from candidate `index`, given to the segmenter as a mask prompt.
        A top-level candidate takes only pixels showing faces no part has yet."""
        user = self._user(request)
        found = user.candidates
        if found is None or not 0 <= index < len(found.masks):
            raise PromptError("These candidates are out of date: click on the part again.")
        mask = found.masks[index]
        if found.parent is None:
            mask = mask & (user.session.views.pixel_labels(user.session.labels, found.view) < 0)
            if not mask.any():
                raise PromptError(
                    "This candidate covers only parts you already have: select one of them and tick "
                    "'Candidates refine inside the selected part' to split it, or Reset to start again."
                )
        return self._add(user, Prompt(found.view, mask=mask), found.parent, pa, auto_complete, progress)

    @holding_user
    @user_errors
    def auto_complete(self, prompt: dict, request: gr.Request, progress=gr.Progress(), from_page: bool = True):
        """Give every unlabelled face a new part (finding none is said: `nothing_found`)."""
        user = self._user(request)
        if not (user.session.labels < 0).any():
            return nothing_found("Every face already has a part: nothing to complete.", from_page)
        progress(0.1, desc="completing the rest")
        before = user.session.labels
        with self.stoppable(request, progress) as steps:
            update = user.session.auto_complete(steps=steps)
        return self._changed(user, prompt, before, update, None, from_page)

    @holding_user
    @user_errors
    def complete_inside(self, prompt: dict, part, request: gr.Request, progress=gr.Progress()):
        """Split the selected part `part` into new children (Session.auto_complete(parent=part))."""
        user = self._user(request)
        if part is None:
            raise PromptError("Select the part to split in 'Selected part' first.")
        progress(0.1, desc="segmenting inside the part")
        before = user.session.labels
        return self._changed(user, prompt, before, user.session.auto_complete(parent=int(part)), int(part))

    @holding_user
    @user_errors
    def segment_everything(self, prompt: dict, request: gr.Request, progress=gr.Progress(), from_page: bool = True):
        """Parts for the whole mesh without a prompt (the release's automatic mode: it
        relabels every face with the official profile, the unlabelled ones otherwise)."""
        user = self._user(request)
        if not user.session.profile.completion.relabels_everything and not (user.session.labels < 0).any():
            return nothing_found("Every face already has a part: nothing left to segment. Reset to start again.", from_page)
        progress(0.1, desc="segmenting everything")
        before = user.session.labels
        with self.stoppable(request, progress) as steps:
            update = segment_everything_in_levels(user, steps)
        return self._changed(user, prompt, before, update, None, from_page)

    def _changed(self, user: UserState, prompt: dict, before: np.ndarray, update, selected: int | None, from_page: bool = True) -> tuple:
        """The screen after an automatic operation from (F,) labels `before`; one that changed
        nothing is taken back, with a message (`nothing_found`)."""
        if np.array_equal(before, update.labels):
            user.session.undo()
            return nothing_found("The segmenter found no new part there.", from_page)
        edited(user)
        return self._screen(user, prompt, selected, update.changed_views)

    @holding_user
    @user_errors
    def undo(self, prompt: dict, request: gr.Request):
        """Go back one step (past a Reset: to the parts it set aside)."""
        return self._step(self._user(request), prompt, backwards=True)

    @holding_user
    @user_errors
    def redo(self, prompt: dict, request: gr.Request):
        """Redo the last undone step."""
        return self._step(self._user(request), prompt, backwards=False)

    def _step(self, user: UserState, prompt: dict, backwards: bool) -> tuple:
        """Undo (`backwards`) or redo one step of the session, or across a Reset: back to the
        labelling it set aside (`user.earlier`), or forward to the one it started (`user.later`)."""
        session = user.session
        across, other = (user.earlier, user.later) if backwards else (user.later, user.earlier)
        if session.can_undo if backwards else session.can_redo:
            changed = (session.undo() if backwards else session.redo()).changed_views
        elif across:
            other.append(user.workspace)
            user.workspace, changed = across.pop(), None
        else:
            gr.Warning(f"Nothing to {'undo' if backwards else 'redo'}.")
            return only()
        user.version += 1
        return self._screen(user, prompt, None, changed)

    @holding_user
    @user_errors
    def reset(self, prompt: dict, request: gr.Request):
        """Start a new labelling (parts numbered from 0 again); Undo brings the parts back."""
        user = self._user(request)
        old = user.workspace
        if not old.session.parts:
            gr.Warning("There are no parts to reset.")
            return only()
        user.workspace = Workspace(old.workpiece, old.session.segmenter, old.settings, views=old.session.views)
        edited(user)
        user.earlier.append(old)
        return self._screen(user, empty_prompt(prompt["view"]), None, None)

    @holding_user
    @user_errors
    def rename(self, part, name: str, prompt: dict, request: gr.Request):
        """Give the selected part `part` the name `name`."""
        user = self._user(request)
        name = (name or "").strip()
        if part is None:
            raise PromptError("Select the part to rename in 'Selected part' first.")
        if not name:
            raise PromptError("Type the part's new name first.")
        user.session.rename(int(part), name)
        edited(user)
        return self._screen(user, prompt, int(part), ())
