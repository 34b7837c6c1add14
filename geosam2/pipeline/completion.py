"""Automatic completion, the project's way: a profile's ``completion`` strategy (the
release's: `geosam2.profiles.official.completion.ReleaseCompletion`).

A completion strategy answers, for a `geosam2.pipeline.session.Session`:

- ``complete(session, parent, steps) -> Update``: give every unlabelled face a new
  top-level part, or split the faces part `parent` owns into new children of it;
- ``everything(session, steps) -> Update``: parts for the whole geometry without a prompt.

Both report their views and batches to `steps` (`geosam2.segmenters.steps.Steps`) and,
once it is cancelled, stop and keep the parts finished (nothing found: nothing changes).
"""

from __future__ import annotations

import numpy as np

from ..errors import PromptError
from ..segmenters.base import PartMasks
from ..segmenters.prompts import MAX_AUTO_PROMPTS, completion_prompts
from ..segmenters.steps import Cancelled, Steps


class ViewCompletion:
    """The region showing the faces to label on one view is prompted automatically:
    the view opposite the last prompted one, or inside a part the view showing most
    of it. The prompts are the segmenter's own proposals (``propose_prompts``), or,
    for a segmenter without proposals, clicks in the region's largest pieces,
    clicking again where the answers leave some of it uncovered. Each answer becomes
    a part; the clean-up then gives the faces left over to neighbouring parts (inside
    a part: to its new children, or the part keeps them). Faces outside the region
    never change.

    Parameters
    ----------
    in_3d : bool
        Let a segmenter that completes in 3-D (``Segmenter.complete``, e.g. the
        geometry segmenter) label the faces directly on a mesh, no view prompted
        (the project's); False: always prompt views (the release's, inside a part).
    """

    relabels_everything = False
    """`everything` labels only the faces without a part (a labelled mesh has nothing left)."""

    def __init__(self, in_3d: bool = True):
        self.in_3d = in_3d

    def complete(self, session, parent: int | None, steps: Steps):
        state, views = session.history.state, session.views
        if parent is None:
            return self.complete_on(session, None, views.rig.opposite(state.last_view), steps)
        shown = views.pixel_labels(state.labels == parent, background=False).reshape(views.num_views, -1).sum(1)
        return self.complete_on(session, parent, int(shown.argmax()), steps)

    def everything(self, session, steps: Steps):
        return self.complete_on(session, None, 0, steps)

    def complete_on(self, session, parent: int | None, view: int, steps: Steps):
        """The completion of the unlabelled faces, or of `parent`'s, prompted on `view`
        (reported to `steps`; cancelled, the parts finished are kept)."""
        history = session.history
        state = history.state
        free = state.labels == (-1 if parent is None else parent)
        if not free.any():
            return history.commit(state.labels, state.parts, state.next_id)
        joinable = state.labels if parent is None else np.where(np.isin(state.labels, history.descendants(parent)), state.labels, -1)
        steps.done(0, 1, f"view {view}")
        completed = session.segmenter.complete(joinable, free) if self.in_3d and session.mesh is not None else None
        if completed is not None:
            return _commit_completion(history, parent, free, np.where(free, completed, -1), int(joinable.max(initial=-1)) + 1)
        proposed = np.where(free, _proposed_labels(session, free, view, steps.stage(0, 1, f"view {view}")), -1)
        pieces = np.unique(proposed[proposed >= 0])
        if len(pieces) == 0 and steps.cancelled:  # stopped before any part was finished
            return history.commit(state.labels, state.parts, state.next_id)
        if len(pieces) == 0 and parent is not None:
            raise PromptError(f"No part was found inside part {parent}: click on the sub-parts you want instead.")
        if len(pieces) == 0:  # nothing proposed: the unlabelled faces become one part
            proposed, pieces = np.where(free, 0, -1), np.array([0])
        # new parts numbered from next_id; labelled faces keep their parts and vote in the fill
        offset = state.next_id - pieces.min()
        combined = np.where(free, np.where(proposed >= 0, proposed + offset, -1), state.labels)
        labels = np.where(free, session.surface.clean(combined, session.pa), state.labels)
        if parent is not None:  # a face of the part that no child took stays the part's
            labels = np.where(free & (labels < state.next_id), parent, labels)
        return history.commit_new_parts(labels, parent)


def _commit_completion(history, parent: int | None, free: np.ndarray, completed: np.ndarray, first_new: int):
    """Commit the segmenter's 3-D completion (`Segmenter.complete`) of the `free` faces:
    (F,) `completed` ids below `first_new` join those parts, ids from `first_new` on
    become new parts (children of `parent`), -1 leaves a face as it was."""
    state = history.state
    joins = (completed >= 0) & (completed < first_new)
    if parent is not None and len(np.unique(completed[completed >= first_new])) < 2 and not (free & joins).any():
        raise PromptError(f"No part was found inside part {parent}: click on the sub-parts you want instead.")
    labels = np.where(joins, completed, state.labels)
    labels = np.where(completed >= first_new, completed - first_new + state.next_id, labels)
    return history.commit_new_parts(labels, parent)


def automatic_parts(segmenter, views, view: int, region: np.ndarray, steps: Steps) -> tuple[list | None, PartMasks | None]:
    """The segmenter's automatic prompts in the (H, W) bool `region` of `view` and their
    PartMasks (None when there is no prompt; prompts None: the segmenter has no proposals
    of its own), reported to `steps`: its first half the proposals, its second the
    tracking. Cancelled meanwhile: the prompts whose parts were finished and their masks
    (none during the proposals)."""
    try:
        segmenter.report_to(steps.stage(0, 2, "proposing parts"))
        try:
            prompts = segmenter.propose_prompts(views, view, region)
        except Cancelled:
            return [], None
        if not prompts:
            return prompts, None
        segmenter.report_to(steps.stage(1, 2, f"tracking {len(prompts)} parts"))
        try:
            return prompts, segmenter.segment(views, prompts)
        except Cancelled as stop:
            kept = np.flatnonzero(stop.finished)
            found = stop.found
            stability = None if found.stability is None else found.stability[kept]
            return [prompts[i] for i in kept], PartMasks(found.masks[kept], found.scores[kept], stability)
    finally:
        segmenter.report_to(Steps())


def _proposed_labels(session, free: np.ndarray, view: int, steps: Steps) -> np.ndarray:
    """(E,) lifted labels of the automatic prompts on `view`, inside the region
    showing `free` faces; -1 elsewhere."""
    views = session.views
    shown = views.pixel_labels(free, view, background=False)
    prompts, found = automatic_parts(session.segmenter, views, view, shown, steps)
    if prompts is None:
        masks = _completion_masks(session, shown, view, steps)
    else:
        masks = [] if found is None else np.asarray(found.masks, bool)
    if len(masks) == 0:
        return np.full(session.surface.num_elements, -1, np.int32)
    return session.surface.lift(np.asarray(masks))


def _completion_masks(session, region: np.ndarray, view: int, steps: Steps) -> list:
    """(V, H, W) masks of clicks in the uncovered pieces of `region` on `view`
    (`completion_prompts`), clicking again in what the answers leave uncovered
    (two parts overlapping in the image make one piece), at most MAX_AUTO_PROMPTS;
    each round reported to `steps`, none after it is cancelled."""
    masks: list = []
    while len(masks) < MAX_AUTO_PROMPTS and not steps.cancelled:
        prompts = completion_prompts(region, view, max_prompts=MAX_AUTO_PROMPTS - len(masks))
        if not prompts:
            break
        found = np.asarray(session.segmenter.segment(session.views, prompts).masks, bool)
        masks.extend(found)
        steps.done(len(masks), MAX_AUTO_PROMPTS, f"{len(masks)} parts found by clicks")
        covered = found[:, view].any(0)
        if not (region & covered).any():  # no progress: stop
            break
        region = region & ~covered
    return masks
