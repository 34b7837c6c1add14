"""The undo history of a session: each operation's labelling and parts tree, one step
each, with undo and redo."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GeoSAM2Error
from .parts import Part, part_color, parts_with_stats


@dataclass(frozen=True)
class Update:
    """What an operation did.

    Attributes
    ----------
    labels : (F,) int32
        Part id per face (per point, (N,), on a point cloud), -1 = unlabelled.
    parts : tuple of Part
        The parts tree, by increasing id.
    changed_views : tuple of int
        Views on which some visible face (point) changed its label.
    skipped : tuple of int
        Indices of the prompts given to ``add_parts`` that selected no face (no part
        was made for them).
    """

    labels: np.ndarray
    parts: tuple
    changed_views: tuple
    skipped: tuple = ()


@dataclass(frozen=True, eq=False)
class State:
    """One step of the history.

    Attributes
    ----------
    labels : (E,) int32 part id per element, -1 = unlabelled
    parts : tuple of Part, by increasing id
    next_id : int, the id the next new part gets
    last_view : int, view of the latest prompt (automatic completion works on its opposite)
    masks : tuple of (part id, (V, H, W) bool masks)
        The release's completion only: the masks of the top-level parts made from
        masks, which it lifts again with the automatic parts.
    """

    labels: np.ndarray
    parts: tuple
    next_id: int
    last_view: int
    masks: tuple = ()


class History:
    """The states of a labelling of `num_elements` elements over `views`, with
    per-element `weights` (area shares of the parts), and the position in them."""

    def __init__(self, num_elements: int, weights: np.ndarray, views):
        self.weights, self.views = weights, views
        self._states = [State(np.full(num_elements, -1, np.int32), (), 0, 0)]
        self._position = 0

    @property
    def state(self) -> State:
        return self._states[self._position]

    def part(self, part_id: int) -> Part:
        """The part `part_id` of the current state, or a GeoSAM2Error naming the parts."""
        for p in self.state.parts:
            if p.id == part_id:
                return p
        raise GeoSAM2Error(f"There is no part {part_id}: choose one of {[p.id for p in self.state.parts]}.")

    def descendants(self, part_id: int) -> list[int]:
        """Ids of the parts refined from `part_id`, at any depth."""
        found, frontier = [], [part_id]
        while frontier:
            frontier = [p.id for p in self.state.parts if p.parent in frontier]
            found += frontier
        return found

    def update_from(self, before: State, skipped: tuple = ()) -> Update:
        """The Update from `before` to the current state."""
        state = self.state
        changed = self.views.pixel_labels(before.labels != state.labels, background=False)
        views = changed.reshape(self.views.num_views, -1).any(1)
        return Update(state.labels, state.parts, tuple(int(v) for v in np.flatnonzero(views)), skipped)

    def commit(
        self, labels: np.ndarray, parts, next_id: int, last_view: int | None = None, skipped: tuple = (), masks: tuple | None = None
    ) -> Update:
        """A new step: (E,) `labels` and `parts` (their statistics recomputed, empty leaves
        dropped); `last_view` and `masks` default to the current step's (masks of parts
        no longer there are dropped). Forgets the redo branch."""
        before = self.state
        parts = parts_with_stats(sorted(parts, key=lambda p: p.id), labels, self.weights)
        last_view = before.last_view if last_view is None else last_view
        ids = {p.id for p in parts}
        masks = tuple(m for m in (before.masks if masks is None else masks) if m[0] in ids)  # of parts still there
        del self._states[self._position + 1 :]
        self._states.append(State(labels.astype(np.int32), parts, next_id, last_view, masks))
        self._position += 1
        return self.update_from(before, skipped)

    def commit_new_parts(self, labels: np.ndarray, parent: int | None) -> Update:
        """Commit (E,) `labels` in which the ids from ``next_id`` on are new parts
        (children of `parent`), numbered consecutively from ``next_id`` in their order."""
        state = self.state
        new_ids = np.unique(labels[labels >= state.next_id])
        renumber = np.full(int(new_ids.max(initial=state.next_id)) + 1, -1)
        renumber[new_ids] = state.next_id + np.arange(len(new_ids))
        labels = np.where(labels >= state.next_id, renumber[np.maximum(labels, 0)], labels)
        ids = range(state.next_id, state.next_id + len(new_ids))
        new_parts = tuple(Part(i, f"part_{i}", part_color(i), parent) for i in ids)
        return self.commit(labels, state.parts + new_parts, state.next_id + len(new_ids))

    def undo(self) -> Update:
        """Go back one step (nothing changes at the start)."""
        before = self.state
        self._position = max(self._position - 1, 0)
        return self.update_from(before)

    def redo(self) -> Update:
        """Redo the last undone step (nothing changes if there is none)."""
        before = self.state
        self._position = min(self._position + 1, len(self._states) - 1)
        return self.update_from(before)

    @property
    def can_undo(self) -> bool:
        return self._position > 0

    @property
    def can_redo(self) -> bool:
        return self._position < len(self._states) - 1
