"""An interactive part session over one mesh or point cloud: add, refine, undo,
redo, rename, merge and automatically complete a per-face (per-point) part labelling.

The session is the only place where prompts become parts: the demo, the CLI, the
Python API and the evaluation (whose simulated user and oracle are prompt
policies driving sessions) all call its operations.

Each part has a stable integer id; ``labels[f]`` is the id of the part owning
face f (-1 = not labelled yet). On a point cloud the elements are points (see
:mod:`geosam2.lifting.surface`, the seam between the two kinds of geometry). Refining
inside a part (``add_part(prompt, parent=p)``) carves a child part out of p's
faces, so the parts form a tree: a hierarchical segmentation. A part owns only the
faces not given to its children.

Prompts become faces in three steps: the segmenter's masks on every view, the
lift of the masks to faces (against the complement of the masks on the
silhouette, so that faces seen outside every mask vote "none of these parts"),
and the clean-up on the face graph (stray fragments cleared, unseen faces filled
from their neighbours). A segmenter that answers in 3-D (`PartMasks.faces`, e.g.
the geometry segmenter) gives the faces itself, and may complete in 3-D too
(`Segmenter.complete`); the official profile lifts its masks all the same and
completes by prompting views, as the release.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from ..errors import GeoSAM2Error, PromptError
from ..io.mesh import Mesh
from .parts import Part, part_color, parts_with_stats
from ..segmenters.partfilters import keep_automatic_parts
from ..io.pointcloud import PointCloud
from ..profiles import IMPROVED, OFFICIAL, SEEN_UNCOVERED, check_profile
from ..segmenters.prompts import MAX_AUTO_PROMPTS, Prompt, completion_prompts
from ..segmenters.base import Segmenter, as_segmenter
from ..lifting.surface import Surface, surface_of


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
class _State:
    labels: np.ndarray
    parts: tuple
    next_id: int
    last_view: int  # view of the latest prompt; automatic completion works on its opposite
    masks: tuple = ()  # official profile: (part id, (V, H, W) bool masks) of the top-level parts made from masks


class Session:
    """A part labelling of one mesh or point cloud built prompt by prompt.

    Parameters
    ----------
    geometry : Mesh or PointCloud
        The labelled elements are its faces, or its points.
    segmenter : Segmenter
        E.g. GeometrySegmenter or GeoSAM2Segmenter, bound to the geometry with
        ``segmenter.bind`` (and used as given; a duck-typed object with a
        ``segment`` method is wrapped by ``as_segmenter``); one that needs faces is
        refused for a point cloud.
    resolution : int
        Rendered (splatted) view size in pixels.
    pa : float
        Relative size threshold of the clean-up (see ``Surface.clean``).
    samples_per_face : int
        The official profile's random samples per face (its lifting,
        ``geosam2.lifting.lift.official_visible_samples``); the improved profile votes with
        every pixel of the face-id maps (``geosam2.lifting.lift.visible_pixels``) and a
        point cloud with its points (``geosam2.lifting.pointlift.visible_points``).
    views : Views, optional
        Already rendered views of a mesh, or ``splat_views`` of a point cloud
        (then `resolution` is not used).
    surface : Surface, optional
        An already built ``surface_of(geometry, ...)`` (views, visibility, graph),
        shared by several sessions over the same geometry; then `resolution`,
        `samples_per_face` and `views` are not used (its profile must be
        the session's).
    profile : "official", "improved" or None
        The inference profile (`geosam2.profiles`). Given, it sets everything: the
        segmenter's own work (GeoSAM2's propagation and proposals), the lifting and
        clean-up, and the automatic completion. "official" runs the release's (its
        generator on the view opposite the prompt, or on view 0 then its opposite
        without a prompt; the filters of automatic parts; one lifting of every
        part's masks, "seen, in no mask" becoming a part of its own), "improved" the
        project's (see `auto_complete`). None (default): the segmenter keeps its
        own profile (GeoSAM2: "official", the release's masks for its weights) and
        the session lifts, cleans up and completes with "improved", which measures
        better (README, "Compatibility with the official release"). On a point
        cloud (the release has none) only the segmenter takes the profile.

    Attributes
    ----------
    geometry : Mesh or PointCloud
    mesh : Mesh, or None for a point cloud
    surface : Surface
    views : Views
    """

    def __init__(
        self,
        geometry: Mesh | PointCloud,
        segmenter: Segmenter,
        resolution: int = 1024,
        pa: float = 0.02,
        samples_per_face: int = 5,
        views=None,
        surface: Surface | None = None,
        profile: str | None = None,
    ):
        segmenter = as_segmenter(segmenter)
        if segmenter.needs_faces and isinstance(geometry, PointCloud):
            raise GeoSAM2Error(
                f"The {segmenter.name} segmenter needs a mesh (it reads the faces): segmenting a point cloud "
                "needs the GeoSAM2 weights (set GEOSAM2_CHECKPOINT or give a checkpoint)."
            )
        self.geometry = geometry
        self.mesh = None if isinstance(geometry, PointCloud) else geometry
        self.pa = pa
        segmenter.bind(geometry)
        if profile:
            segmenter.profile = check_profile(profile)
        self.segmenter = segmenter
        # the session's own stages: the release has no point-cloud path, so points always use the project's
        self.profile = profile if profile and self.mesh is not None else IMPROVED
        if surface is None:
            surface = surface_of(geometry, resolution, samples_per_face, views, self.profile)
        elif surface.profile != self.profile:
            raise GeoSAM2Error(f"The surface lifts with the {surface.profile} profile, the session runs {self.profile}: build one of it.")
        self.surface = surface
        self.views = self.surface.views
        self._history = [_State(np.full(self.surface.num_elements, -1, np.int32), (), 0, 0)]
        self._position = 0

    # ----------------------------------------------------------------- state
    @property
    def _state(self) -> _State:
        return self._history[self._position]

    @property
    def labels(self) -> np.ndarray:
        """(F,) int32 part id per face, -1 = unlabelled."""
        return self._state.labels

    @property
    def parts(self) -> tuple:
        """The parts tree: tuple of Part by increasing id."""
        return self._state.parts

    def part(self, part_id: int) -> Part:
        for p in self.parts:
            if p.id == part_id:
                return p
        raise GeoSAM2Error(f"There is no part {part_id}: choose one of {[p.id for p in self.parts]}.")

    def children(self, part_id: int | None) -> tuple:
        """The parts refined directly from `part_id` (None: the top-level parts)."""
        return tuple(p for p in self.parts if p.parent == part_id)

    def _update(self, before: _State, skipped: tuple = ()) -> Update:
        state = self._state
        changed = self.views.pixel_labels(before.labels != state.labels, background=False)
        views = changed.reshape(self.views.num_views, -1).any(1)
        return Update(state.labels, state.parts, tuple(int(v) for v in np.flatnonzero(views)), skipped)

    def _commit(
        self, labels: np.ndarray, parts, next_id: int, last_view: int | None = None, skipped: tuple = (), masks: tuple | None = None
    ) -> Update:
        before = self._state
        parts = parts_with_stats(sorted(parts, key=lambda p: p.id), labels, self.surface.weights)
        last_view = before.last_view if last_view is None else last_view
        ids = {p.id for p in parts}
        masks = tuple(m for m in (before.masks if masks is None else masks) if m[0] in ids)  # of parts still there
        del self._history[self._position + 1 :]  # a new operation forgets the redo branch
        self._history.append(_State(labels.astype(np.int32), parts, next_id, last_view, masks))
        self._position += 1
        return self._update(before, skipped)

    # ------------------------------------------------------------ operations
    def _selections(self, prompts: Sequence[Prompt]) -> tuple[np.ndarray, np.ndarray]:
        """(P, E) bool elements each prompt selects, and the (P, V, H, W) bool masks
        they come from: the segmenter's masks of all prompts at once, lifted
        together against the silhouette outside every mask (a label of lower
        priority; the official lifting's "seen, in no mask"), cleaned up; an
        element goes to at most one prompt. A segmenter answering with faces (in
        3-D) is taken at its word (improved profile): nothing to lift or clean up."""
        found = self.segmenter.segment(self.views, prompts)
        masks = np.asarray(found.masks, bool)  # (P, V, H, W)
        if found.faces is not None and self.profile != OFFICIAL:
            return _one_owner(np.asarray(found.faces, bool)), masks
        if self.profile == OFFICIAL:
            lifted = self.surface.lift(masks, priorities=[1] * len(prompts))
        else:
            outside = self.views.silhouette & ~masks.any(0)
            lifted = self.surface.lift(np.concatenate([masks, outside[None]]), priorities=[1] * len(prompts) + [0])
        if not ((lifted >= 0) & (lifted < len(prompts))).any():
            return np.zeros((len(prompts), self.surface.num_elements), bool), masks
        cleaned = self.surface.clean(lifted, self.pa)
        return cleaned[None] == np.arange(len(prompts))[:, None], masks

    def selected_faces(self, prompt: Prompt) -> np.ndarray:
        """(F,) bool faces (points) one prompt selects: segment, lift against the
        mask's complement on the silhouette, clean up."""
        return self._selections([prompt])[0][0]

    def candidates(self, prompt: Prompt, parent: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The segmenter's alternative answers to `prompt` on its own view.

        Each candidate can become a part with ``add_part(Prompt(prompt.view,
        mask=masks[k]), parent)``. With `parent`, candidates are cut to the pixels
        showing the parent's faces.

        Returns
        -------
        masks : (K, H, W) bool, distinct and non-empty, in the segmenter's order
            (none when the segmenter offers no candidates);
        scores : (K,) float32, the segmenter's score of each on the prompt view.
        """
        view, size = prompt.view, self.views.resolution
        prompt.check_image(self.views.num_views, size, size)
        found = self.segmenter.candidates(self.views, prompt)
        masks = np.asarray(found.masks, bool)[:, view]
        scores = np.asarray(found.scores, np.float32)[:, view]
        if parent is not None:
            self.part(parent)
            masks = masks & (self.views.pixel_labels(self.labels, view) == parent)
        kept = [k for k in range(len(masks)) if masks[k].any() and not any((masks[k] == masks[j]).all() for j in range(k))]
        return masks[kept], scores[kept]

    def add_part(self, prompt: Prompt, parent: int | None = None, name: str | None = None) -> Update:
        """Add a part from one prompt on any view.

        Without `parent` the new part takes every face the prompt selects (from
        whichever part had it). With `parent`, only the selected faces the parent
        owns: the new part is the parent's child. Raises PromptError when the
        prompt selects no face.
        """
        return self.add_parts([prompt], parent, None if name is None else [name])

    def add_parts(self, prompts: Sequence[Prompt], parent: int | None = None, names: Sequence[str] | None = None) -> Update:
        """Add one part per prompt in one operation (one undo step).

        The prompts are segmented together and their masks lifted together, so
        where two prompts claim the same faces the smaller mask wins (see
        ``geosam2.lifting.lift.vote_labels``). Without `parent` the new parts take every
        face they select; with `parent`, only the faces the parent owns (children
        of `parent`). Prompts that select no face make no part and are listed in
        ``Update.skipped``; PromptError when none selects a face.
        """
        prompts = list(prompts)
        if not prompts:
            raise PromptError("No prompt given: click on a part of a view, draw a box or give a mask.")
        if names is not None and len(names) != len(prompts):
            raise GeoSAM2Error(f"{len(names)} names for {len(prompts)} prompts: give one name per prompt.")
        if parent is not None:
            self.part(parent)
        selected, masks = self._selections(prompts)
        if parent is not None:
            selected &= self.labels == parent
        made = [p for p in range(len(prompts)) if selected[p].any()]
        if not made:
            where = f" inside part {parent}" if parent is not None else ""
            views = sorted({p.view for p in prompts})
            raise PromptError(f"The prompt on view {', '.join(map(str, views))} selected no faces{where}: click on the part itself.")
        state = self._state
        labels, parts = state.labels.copy(), list(state.parts)
        for k, p in enumerate(made):
            part_id = state.next_id + k
            labels[selected[p]] = part_id
            name = names[p] if names is not None and names[p] else f"part_{part_id}"
            parts.append(Part(part_id, name, part_color(part_id), parent))
        skipped = tuple(p for p in range(len(prompts)) if p not in made)
        official = parent is None and self.profile == OFFICIAL  # the release lifts every part's masks again at the end
        kept_masks = state.masks + (tuple((state.next_id + k, masks[p]) for k, p in enumerate(made)) if official else ())
        last_view = prompts[made[-1]].view
        return self._commit(labels, parts, state.next_id + len(made), last_view, skipped, kept_masks)

    def rename(self, part_id: int, name: str) -> Update:
        """Give part `part_id` a new name."""
        self.part(part_id)
        parts = tuple(replace(p, name=name) if p.id == part_id else p for p in self.parts)
        return self._commit(self.labels, parts, self._state.next_id)

    def merge(self, part_ids) -> Update:
        """Merge the listed parts into the first one; children of the others move to it."""
        part_ids = [int(p) for p in part_ids]
        if len(part_ids) < 2:
            raise GeoSAM2Error("Merging needs at least two parts.")
        for p in part_ids:
            self.part(p)
        keep, gone = part_ids[0], set(part_ids[1:])
        labels = np.where(np.isin(self.labels, list(gone)), keep, self.labels)
        parts = tuple(replace(p, parent=keep if p.parent in gone else p.parent) for p in self.parts if p.id not in gone)
        return self._commit(labels, parts, self._state.next_id)

    def auto_complete(self, parent: int | None = None) -> Update:
        """Give every unlabelled face a new top-level part, or, with `parent`, split
        the faces part `parent` owns into new children of it ("segment everything
        inside the selected part"): the release's automatic completion.

        The region showing those faces on one view is prompted automatically: the
        view opposite the last prompted one (``Rig.opposite``), or inside a part the
        view showing most of it. The prompts are the segmenter's own proposals
        (``Segmenter.propose_prompts``; GeoSAM2: SAM2's automatic mask generator),
        or, for a segmenter without proposals, clicks in the region's largest
        pieces, clicking again where the answers leave some of it uncovered. Each
        answer becomes a part; the clean-up then gives the faces left over (e.g.
        unseen from that view) to neighbouring parts (inside a part: to its new
        children, or the part keeps them). Faces outside the region never change.
        With the improved profile, a segmenter that completes in 3-D
        (``Segmenter.complete``, e.g. the geometry segmenter) labels those faces
        directly instead, no view prompted.
        """
        state, views = self._state, self.views
        if parent is None:
            if self.profile == OFFICIAL:
                return self._release_completion([views.rig.opposite(state.last_view)] if state.masks else None)
            return self._complete(None, views.rig.opposite(state.last_view))
        self.part(parent)
        shown = views.pixel_labels(state.labels == parent, background=False).reshape(views.num_views, -1).sum(1)
        return self._complete(parent, int(shown.argmax()))

    def _complete(self, parent: int | None, view: int) -> Update:
        """`auto_complete` (improved profile) of the unlabelled faces, or of `parent`'s,
        prompted on `view`."""
        state = self._state
        free = state.labels == (-1 if parent is None else parent)
        if not free.any():
            return self._commit(state.labels, state.parts, state.next_id)
        joinable = state.labels if parent is None else np.where(np.isin(state.labels, self._descendants(parent)), state.labels, -1)
        in_3d = self.mesh is not None and self.profile != OFFICIAL  # the release prompts views
        completed = self.segmenter.complete(joinable, free) if in_3d else None
        if completed is not None:
            return self._commit_completion(parent, free, np.where(free, completed, -1), int(joinable.max(initial=-1)) + 1)
        proposed = np.where(free, self._proposed_labels(free, view), -1)
        pieces = np.unique(proposed[proposed >= 0])
        if len(pieces) == 0 and parent is not None:
            raise PromptError(f"No part was found inside part {parent}: click on the sub-parts you want instead.")
        if len(pieces) == 0:  # nothing proposed: the unlabelled faces become one part
            proposed, pieces = np.where(free, 0, -1), np.array([0])
        # new parts numbered from next_id; labelled faces keep their parts and vote in the fill
        offset = state.next_id - pieces.min()
        combined = np.where(free, np.where(proposed >= 0, proposed + offset, -1), state.labels)
        labels = np.where(free, self.surface.clean(combined, self.pa), state.labels)
        if parent is not None:  # a face of the part that no child took stays the part's
            labels = np.where(free & (labels < state.next_id), parent, labels)
        return self._commit_new_parts(labels, parent)

    def _commit_new_parts(self, labels: np.ndarray, parent: int | None) -> Update:
        """Commit (F,) `labels` in which the ids from ``next_id`` on are new parts
        (children of `parent`), numbered consecutively from ``next_id`` in their order."""
        state = self._state
        new_ids = np.unique(labels[labels >= state.next_id])
        renumber = np.full(int(new_ids.max(initial=state.next_id)) + 1, -1)
        renumber[new_ids] = state.next_id + np.arange(len(new_ids))
        labels = np.where(labels >= state.next_id, renumber[np.maximum(labels, 0)], labels)
        ids = range(state.next_id, state.next_id + len(new_ids))
        new_parts = tuple(Part(i, f"part_{i}", part_color(i), parent) for i in ids)
        return self._commit(labels, state.parts + new_parts, state.next_id + len(new_ids))

    def _descendants(self, part_id: int) -> list[int]:
        """Ids of the parts refined from `part_id`, at any depth."""
        found, frontier = [], [part_id]
        while frontier:
            frontier = [p.id for p in self.parts if p.parent in frontier]
            found += frontier
        return found

    def _commit_completion(self, parent: int | None, free: np.ndarray, completed: np.ndarray, first_new: int) -> Update:
        """Commit the segmenter's 3-D completion (`Segmenter.complete`) of the `free` faces:
        (F,) `completed` ids below `first_new` join those parts, ids from `first_new` on
        become new parts (children of `parent`), -1 leaves a face as it was."""
        state = self._state
        joins = (completed >= 0) & (completed < first_new)
        if parent is not None and len(np.unique(completed[completed >= first_new])) < 2 and not (free & joins).any():
            raise PromptError(f"No part was found inside part {parent}: click on the sub-parts you want instead.")
        labels = np.where(joins, completed, state.labels)
        labels = np.where(completed >= first_new, completed - first_new + state.next_id, labels)
        return self._commit_new_parts(labels, parent)

    def segment_everything(self) -> Update:
        """Parts for the whole geometry without any prompt: the release's fully automatic
        mode. "official": its generator on view 0, then on the view opposite it for
        what the kept parts leave, and one lifting of every kept part (every face
        is relabelled); "improved": the session's automatic completion of the
        unlabelled faces prompted on view 0 (see `auto_complete`)."""
        if self.profile == OFFICIAL:
            return self._release_completion(None)
        return self._complete(None, 0)

    def _release_completion(self, passes: list[int] | None) -> Update:
        """The release's automatic completion (official profile).

        For each pass view (`passes`; None = no prompt: view 0, then its opposite),
        the segmenter proposes prompts in the silhouette minus every kept part's
        mask there, segments them, and keeps those passing the release's filters
        (`keep_automatic_parts`). Then every part with masks (the prompted ones
        painted over the automatic ones) is lifted at once and cleaned up; faces
        seen in no mask become one more part. Parts made otherwise (refined,
        merged) keep their faces.
        """
        state, views = self._state, self.views
        if passes is None:
            passes = [0, views.rig.opposite(0)]
        prompted_ids = [part_id for part_id, _ in state.masks]
        prompted = [masks for _, masks in state.masks]
        kept = list(prompted)
        self.segmenter.reset_sampling(self.surface.num_elements)
        for view in passes:
            region = views.silhouette[view] & ~np.any([masks[view] for masks in kept], axis=0) if kept else views.silhouette[view]
            prompts = self.segmenter.propose_prompts(views, view, region)
            if not prompts:
                continue
            found = self.segmenter.segment(views, prompts)
            stability = np.ones(found.scores.shape) if found.stability is None else found.stability
            earlier = np.stack([masks[view] for masks in kept]) if kept else None
            keep = keep_automatic_parts(np.asarray(found.masks, bool), stability, view, earlier)
            kept += [np.asarray(found.masks[p], bool) for p in np.flatnonzero(keep)]
        automatic = len(kept) - len(prompted)
        if not kept:
            return self._commit(state.labels, state.parts, state.next_id)
        lifted = self.surface.lift(np.stack(kept), priorities=[1] * len(prompted) + [0] * automatic)
        cleaned = self.surface.clean(lifted, self.pa)
        # prompted parts keep their ids; automatic parts and "seen, in no mask" get new ones
        ids = prompted_ids + list(range(state.next_id, state.next_id + automatic))
        seen_id = state.next_id + automatic
        relabelled = np.where(cleaned == SEEN_UNCOVERED, seen_id, np.append(ids, -1)[np.where(cleaned >= 0, cleaned, -1)])
        others = ~np.isin(state.labels, prompted_ids) & (state.labels >= 0)
        labels = np.where(others, state.labels, relabelled)
        new_ids = range(state.next_id, seen_id + 1)
        parts = state.parts + tuple(Part(i, f"part_{i}", part_color(i)) for i in new_ids)
        masks = state.masks + tuple(zip(ids[len(prompted) :], kept[len(prompted) :]))
        return self._commit(labels, parts, seen_id + 1, masks=masks)

    def _proposed_labels(self, free: np.ndarray, view: int) -> np.ndarray:
        """(F,) lifted labels of the automatic prompts on `view`, inside the region
        showing `free` faces; -1 elsewhere."""
        views = self.views
        shown = views.pixel_labels(free, view, background=False)
        prompts = self.segmenter.propose_prompts(views, view, shown)
        if prompts is None:
            masks = self._completion_masks(shown, view)
        else:
            masks = np.asarray(self.segmenter.segment(views, prompts).masks, bool) if prompts else []
        if len(masks) == 0:
            return np.full(self.surface.num_elements, -1, np.int32)
        return self.surface.lift(np.asarray(masks))

    def _completion_masks(self, region: np.ndarray, view: int) -> list:
        """(V, H, W) masks of clicks in the uncovered pieces of `region` on `view`
        (`completion_prompts`), clicking again in what the answers leave uncovered
        (two parts overlapping in the image make one piece), at most MAX_AUTO_PROMPTS."""
        masks: list = []
        while len(masks) < MAX_AUTO_PROMPTS:
            prompts = completion_prompts(region, view, max_prompts=MAX_AUTO_PROMPTS - len(masks))
            if not prompts:
                break
            found = np.asarray(self.segmenter.segment(self.views, prompts).masks, bool)
            masks.extend(found)
            covered = found[:, view].any(0)
            if not (region & covered).any():  # no progress: stop
                break
            region = region & ~covered
        return masks

    def reset(self) -> Update:
        """Remove every part (undoable)."""
        return self._commit(np.full(self.surface.num_elements, -1, np.int32), (), self._state.next_id)

    def undo(self) -> Update:
        """Go back one operation (nothing changes at the start of the history)."""
        before = self._state
        self._position = max(self._position - 1, 0)
        return self._update(before)

    def redo(self) -> Update:
        """Redo the last undone operation (nothing changes if there is none)."""
        before = self._state
        self._position = min(self._position + 1, len(self._history) - 1)
        return self._update(before)

    @property
    def can_undo(self) -> bool:
        return self._position > 0

    @property
    def can_redo(self) -> bool:
        return self._position < len(self._history) - 1


def _one_owner(faces: np.ndarray) -> np.ndarray:
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
