"""The release's prompts-to-faces step and automatic completion: the ``prompting`` and
``completion`` strategies of the official profile (the project's:
`geosam2.pipeline.prompting`, `geosam2.pipeline.completion`).

The release lifts every prompt's masks as they are (no 3-D answers, "seen, in no
mask" a label of its own) and keeps the masks of the top-level parts. Its automatic
completion runs its generator on the view opposite the prompt (or, without a prompt,
on view 0 then its opposite), keeps the parts passing its filters
(`geosam2.profiles.official.partfilters`), and lifts every part's masks at once;
inside a part it prompts views, as the project does, never completing in 3-D.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...pipeline.completion import ViewCompletion, automatic_parts
from ...pipeline.parts import Part, part_color
from ...pipeline.prompting import selection_of
from ...segmenters.prompts import Prompt
from ...segmenters.steps import Steps
from .constants import SEEN_UNCOVERED
from .partfilters import keep_automatic_parts


class ReleasePrompting:
    """The segmenter's masks of all prompts lifted together (prompts over automatic
    parts; faces seen outside every mask vote "seen, in no mask"), cleaned up."""

    def select(self, session, prompts: Sequence[Prompt]) -> tuple[np.ndarray, np.ndarray]:
        masks = np.asarray(session.segmenter.segment(session.views, prompts).masks, bool)  # (P, V, H, W)
        lifted = session.surface.lift(masks, priorities=[1] * len(prompts))
        return selection_of(session.surface, lifted, len(prompts), session.pa), masks

    def kept_masks(self, state, made: list, masks: np.ndarray, parent: int | None) -> tuple:
        """`state.masks` and, for new top-level parts, their masks: the release lifts every
        part's masks again at the end of its completion."""
        if parent is not None:
            return state.masks
        return state.masks + tuple((state.next_id + k, masks[p]) for k, p in enumerate(made))


class ReleaseCompletion:
    """The release's automatic completion (module docstring)."""

    inside = ViewCompletion(in_3d=False)  # inside a part: views prompted, never 3-D
    relabels_everything = True
    """`everything` relabels every face, labelled or not."""

    def complete(self, session, parent: int | None, steps: Steps):
        if parent is not None:
            return self.inside.complete(session, parent, steps)
        state = session.history.state
        return self.run(session, [session.views.rig.opposite(state.last_view)] if state.masks else None, steps)

    def everything(self, session, steps: Steps):
        """Its generator on view 0, then on the view opposite it for what the kept parts
        leave, and one lifting of every kept part (every face is relabelled)."""
        return self.run(session, None, steps)

    def run(self, session, passes: list[int] | None, steps: Steps):
        """One run of the release's completion.

        For each pass view (`passes`; None = no prompt: view 0, then its opposite),
        the segmenter proposes prompts in the silhouette minus every kept part's
        mask there, segments them, and keeps those passing the release's filters
        (`keep_automatic_parts`). Then every part with masks (the prompted ones
        painted over the automatic ones) is lifted at once and cleaned up; faces
        seen in no mask become one more part. Parts made otherwise (refined,
        merged) keep their faces. The segmenter is bound afresh first: each run
        of the release starts its random stream anew. Each pass is reported to `steps`;
        cancelled, no pass starts any more and the parts finished are kept.
        """
        history, views, segmenter = session.history, session.views, session.segmenter
        state = history.state
        passes = [0, views.rig.opposite(0)] if passes is None else passes
        prompted_ids = [part_id for part_id, _ in state.masks]
        kept = [masks for _, masks in state.masks]
        segmenter.bind(session.geometry, session.profile)
        for index, view in enumerate(passes):
            if steps.cancelled:
                break
            region = views.silhouette[view] & ~np.any([masks[view] for masks in kept], axis=0) if kept else views.silhouette[view]
            prompts, found = automatic_parts(segmenter, views, view, region, steps.stage(index, len(passes), f"view {view}"))
            if not prompts:
                continue
            stability = np.ones(found.scores.shape) if found.stability is None else found.stability
            earlier = np.stack([masks[view] for masks in kept]) if kept else None
            keep = keep_automatic_parts(np.asarray(found.masks, bool), stability, view, earlier)
            kept += [np.asarray(found.masks[p], bool) for p in np.flatnonzero(keep)]
        if not kept:
            return history.commit(state.labels, state.parts, state.next_id)
        return _commit_lifted(session, prompted_ids, kept)


def _commit_lifted(session, prompted_ids: list[int], kept: list[np.ndarray]):
    """Lift the masks of the prompted parts (`prompted_ids`, the first of `kept`) and of
    the automatic ones (the rest) at once, clean up, commit: prompted parts keep their
    ids, automatic parts and "seen, in no mask" get new ones."""
    history, surface = session.history, session.surface
    state = history.state
    automatic = len(kept) - len(prompted_ids)
    lifted = surface.lift(np.stack(kept), priorities=[1] * len(prompted_ids) + [0] * automatic)
    cleaned = surface.clean(lifted, session.pa)
    ids = prompted_ids + list(range(state.next_id, state.next_id + automatic))
    seen_id = state.next_id + automatic
    relabelled = np.where(cleaned == SEEN_UNCOVERED, seen_id, np.append(ids, -1)[np.where(cleaned >= 0, cleaned, -1)])
    others = ~np.isin(state.labels, prompted_ids) & (state.labels >= 0)
    labels = np.where(others, state.labels, relabelled)
    parts = state.parts + tuple(Part(i, f"part_{i}", part_color(i)) for i in range(state.next_id, seen_id + 1))
    masks = state.masks + tuple(zip(ids[len(prompted_ids) :], kept[len(prompted_ids) :]))
    return history.commit(labels, parts, seen_id + 1, masks=masks)
