"""An interactive part session over one mesh or point cloud: add, refine, undo,
redo, rename, merge and automatically complete a per-face (per-point) part labelling.

Each part has a stable integer id; ``labels[f]`` is the id of the part owning
face f (-1 = not labelled yet). On a point cloud the elements are points: the
views are splatted, each point is its own sample, the clean-up runs on the k-NN
graphs (see :mod:`geosam2.pointlift`) and every point weighs the same. Refining inside a part (``add_part(prompt,
parent=p)``) carves a child part out of p's faces, so the parts form a tree: a
hierarchical segmentation. A part owns only the faces not given to its children.

A prompt becomes faces in three steps: the segmenter's masks on every view, the
lift of the masks to faces (against the complement of the mask on the
silhouette, so that faces seen outside the mask vote "not this part"), and the
clean-up on the face graph (stray fragments cleared, unseen faces filled from
their neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .errors import GeoSAM2Error, PromptError
from .facegraph import face_graph
from .lift import visible_samples, vote_labels
from .mesh import Mesh
from .pointcloud import PointCloud, part_palette
from .pointlift import clean_point_labels, knn_graph, surface_graph_of, visible_points
from .postprocess import clean_labels
from .prompts import Prompt, completion_prompts
from .render import render_views
from .render.splat import splat_views
from .segmenters import Segmenter


def part_color(part_id: int) -> tuple[int, int, int, int]:
    """RGBA uint8 colour of a part id (distinct for the first 500 ids)."""
    return tuple(int(c) for c in part_palette(part_id + 1)[part_id])


@dataclass(frozen=True)
class Part:
    """One node of the parts tree.

    Attributes
    ----------
    id : int
        Stable id, the value of ``labels`` on the part's faces.
    name : str
    color : (4,) tuple of int, RGBA 0-255
    parent : int or None
        Id of the part it was refined from.
    faces : int
        Number of faces (points, on a point cloud) it owns (not counting its children's).
    area_share : float
        Its faces' share of the mesh's surface area (its points' share of the
        points, on a point cloud), in [0, 1].
    """

    id: int
    name: str
    color: tuple
    parent: int | None = None
    faces: int = 0
    area_share: float = 0.0


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
    """

    labels: np.ndarray
    parts: tuple
    changed_views: tuple


@dataclass(frozen=True, eq=False)
class _State:
    labels: np.ndarray
    parts: tuple
    next_id: int


def parts_with_stats(parts, labels: np.ndarray, face_areas: np.ndarray) -> tuple:
    """`parts` with their face counts and area shares recomputed from (F,) `labels`
    and (F,) `face_areas` (any per-element weights: ones for points); parts owning
    no face and parenting no part are dropped."""
    ids = np.array([p.id for p in parts], np.int64)
    owned = labels >= 0
    counts = np.zeros(len(ids), np.int64)
    areas = np.zeros(len(ids))
    if len(ids):
        index = np.searchsorted(ids, labels[owned])
        counts = np.bincount(index, minlength=len(ids))
        areas = np.bincount(index, weights=face_areas[owned], minlength=len(ids))
    total = max(face_areas.sum(), np.finfo(float).tiny)
    parents = {p.parent for p in parts}
    updated = [replace(p, faces=int(n), area_share=float(a / total)) for p, n, a in zip(parts, counts, areas)]
    kept = [p for p in updated if p.faces > 0 or p.id in parents]
    if len(kept) < len(updated):  # a dropped leaf may leave its parent an empty leaf
        return parts_with_stats(kept, labels, face_areas)
    return tuple(kept)


class Session:
    """A part labelling of one mesh or point cloud built prompt by prompt.

    Parameters
    ----------
    mesh : Mesh or PointCloud
        The geometry; the labelled elements are its faces, or its points.
    segmenter : Segmenter
        E.g. GeometrySegmenter or GeoSAM2Segmenter; a segmenter with a
        ``bind(mesh)`` method is bound to a mesh (and refused for a point cloud:
        the geometry segmenter reads faces).
    resolution : int
        Rendered (splatted) view size in pixels.
    pa : float
        Relative size threshold of the clean-up (see ``clean_labels`` and
        ``clean_point_labels``).
    samples_per_face, seed : see ``geosam2.lift.visible_samples`` (meshes only:
        a point is its own single sample, see ``geosam2.pointlift.visible_points``).
    views : Views, optional
        Already rendered views of a mesh, or ``splat_views`` of a point cloud
        (then `resolution` is not used).

    Attributes
    ----------
    geometry : Mesh or PointCloud
    mesh : Mesh, or None for a point cloud
    """

    def __init__(
        self,
        mesh: Mesh | PointCloud,
        segmenter: Segmenter,
        resolution: int = 1024,
        pa: float = 0.02,
        samples_per_face: int = 5,
        seed: int = 0,
        views=None,
    ):
        self.geometry = mesh
        self.pa = pa
        if isinstance(mesh, PointCloud):
            self._init_points(mesh, segmenter, resolution, views)
        else:
            self._init_faces(mesh, segmenter, resolution, samples_per_face, seed, views)
        self._history = [_State(np.full(len(self._weights), -1, np.int32), (), 0)]
        self._position = 0
        self._last_view = 0

    def _init_faces(self, mesh: Mesh, segmenter, resolution, samples_per_face, seed, views) -> None:
        """The mesh seam: rendered views, sampled faces, face-graph clean-up, face areas."""
        self.mesh = mesh
        self.segmenter = segmenter.bind(mesh) if hasattr(segmenter, "bind") else segmenter
        self.views = render_views(mesh, resolution=resolution) if views is None else views
        self.graph = face_graph(mesh)
        self.visible = visible_samples(mesh, self.views, samples_per_face, seed)
        self._weights = mesh.face_areas  # (F,) share of each face in the parts' area_share

    def _init_points(self, cloud: PointCloud, segmenter, resolution, views) -> None:
        """The point-cloud seam: splatted views, one sample per point, k-NN-graph
        clean-up, the same weight for every point."""
        if hasattr(segmenter, "bind"):
            raise GeoSAM2Error(
                "The offline geometry segmenter needs a mesh (it splits parts at the faces' creases): segmenting "
                "a point cloud needs the GeoSAM2 weights (set GEOSAM2_CHECKPOINT or give a checkpoint)."
            )
        self.mesh = None
        self.segmenter = segmenter
        self.views = splat_views(cloud, resolution=resolution) if views is None else views
        self.graph = knn_graph(cloud)
        self.surface_graph = surface_graph_of(cloud)
        self.visible = visible_points(cloud, self.views)
        self._weights = np.ones(cloud.num_points)  # (N,)

    def _clean(self, labels: np.ndarray) -> np.ndarray:
        """(F,) or (N,) int32 `labels` cleaned up on the geometry's graph: stray
        pieces cleared (each label's largest piece kept), the rest filled, no split."""
        options = dict(split_disconnected=False, graph=self.graph, keep_largest_piece=True)
        if self.mesh is None:
            return clean_point_labels(self.geometry, labels, self.pa, surface_graph=self.surface_graph, **options)
        return clean_labels(self.mesh, labels, self.pa, **options)

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

    def _update(self, before: _State) -> Update:
        state = self._state
        changed = np.zeros(len(self._weights) + 1, bool)  # last entry: background
        changed[:-1] = before.labels != state.labels
        views = changed[self.views.face_ids].reshape(self.views.num_views, -1).any(1)
        return Update(state.labels, state.parts, tuple(int(v) for v in np.flatnonzero(views)))

    def _commit(self, labels: np.ndarray, parts, next_id: int) -> Update:
        before = self._state
        parts = parts_with_stats(sorted(parts, key=lambda p: p.id), labels, self._weights)
        del self._history[self._position + 1 :]  # a new operation forgets the redo branch
        self._history.append(_State(labels.astype(np.int32), parts, next_id))
        self._position += 1
        return self._update(before)

    # ------------------------------------------------------------ operations
    def selected_faces(self, prompt: Prompt) -> np.ndarray:
        """(F,) bool faces one prompt selects: segment, lift against the mask's
        complement on the silhouette, clean up."""
        masks = np.asarray(self.segmenter.segment(self.views, [prompt]).masks, bool)  # (1, V, H, W)
        outside = self.views.silhouette & ~masks[0]
        lifted = vote_labels(self.visible, np.stack([masks[0], outside]), priorities=[1, 0])
        if not (lifted == 0).any():
            return np.zeros(len(self._weights), bool)
        return self._clean(lifted) == 0

    def candidates(self, prompt: Prompt, parent: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The segmenter's alternative answers to `prompt` on its own view.

        Each candidate can become a part with ``add_part(Prompt(prompt.view,
        mask=masks[k]), parent)``. With `parent`, candidates are cut to the pixels
        showing the parent's faces.

        Returns
        -------
        masks : (K, H, W) bool, distinct and non-empty, in the segmenter's order
            (none when the segmenter offers no ``candidates``);
        scores : (K,) float32, the segmenter's score of each on the prompt view.
        """
        view, size = prompt.view, self.views.resolution
        prompt.check_image(self.views.num_views, size, size)
        if not hasattr(self.segmenter, "candidates"):
            return np.zeros((0, size, size), bool), np.zeros(0, np.float32)
        found = self.segmenter.candidates(self.views, prompt)
        masks = np.asarray(found.masks, bool)[:, view]
        scores = np.asarray(found.scores, np.float32)[:, view]
        if parent is not None:
            self.part(parent)
            masks = masks & (np.append(self.labels, -1)[self.views.face_ids[view]] == parent)
        kept = [k for k in range(len(masks)) if masks[k].any() and not any((masks[k] == masks[j]).all() for j in range(k))]
        return masks[kept], scores[kept]

    def add_part(self, prompt: Prompt, parent: int | None = None, name: str | None = None) -> Update:
        """Add a part from one prompt on any view.

        Without `parent` the new part takes every face the prompt selects (from
        whichever part had it). With `parent`, only the selected faces the parent
        owns: the new part is the parent's child.
        """
        selected = self.selected_faces(prompt)
        if parent is not None:
            self.part(parent)
            selected &= self.labels == parent
        if not selected.any():
            where = f" inside part {parent}" if parent is not None else ""
            raise PromptError(f"The prompt on view {prompt.view} selected no faces{where}: click on the part itself.")
        self._last_view = prompt.view
        state = self._state
        new = Part(state.next_id, name or f"part_{state.next_id}", part_color(state.next_id), parent)
        labels = np.where(selected, new.id, state.labels)
        return self._commit(labels, state.parts + (new,), state.next_id + 1)

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

    def auto_complete(self) -> Update:
        """Give every unlabelled face a new top-level part: the release's
        opposite-view scheme.

        On the view opposite the last prompted one, the region showing unlabelled
        faces is prompted automatically: by the segmenter's own proposals when it
        offers ``propose_prompts(views, view, region)`` (GeoSAM2: SAM2's automatic
        mask generator), otherwise by a click in each of the region's largest
        pieces (`completion_prompts`; the geometry segmenter answers each with the
        part under it). Each proposal becomes a part; the clean-up then gives the
        faces left over (e.g. unseen from that view) to neighbouring parts. Faces
        labelled before never change.
        """
        state = self._state
        free = state.labels < 0
        if not free.any():
            return self._commit(state.labels, state.parts, state.next_id)
        proposed = np.where(free, self._proposed_labels(free), -1)
        pieces = np.unique(proposed[proposed >= 0])
        if len(pieces) == 0:  # nothing proposed: the unlabelled faces become one part
            proposed, pieces = np.where(free, 0, -1), np.array([0])
        # new parts numbered from next_id; labelled faces keep their parts and vote in the fill
        offset = state.next_id - pieces.min()
        combined = np.where(free, np.where(proposed >= 0, proposed + offset, -1), state.labels)
        labels = np.where(free, self._clean(combined), state.labels)
        new_ids = np.unique(labels[free & (labels >= state.next_id)])
        renumber = np.full(int(new_ids.max(initial=state.next_id)) + 1, -1)
        renumber[new_ids] = state.next_id + np.arange(len(new_ids))
        labels = np.where(labels >= state.next_id, renumber[np.maximum(labels, 0)], labels)
        new_parts = tuple(Part(i, f"part_{i}", part_color(i)) for i in range(state.next_id, state.next_id + len(new_ids)))
        return self._commit(labels, state.parts + new_parts, state.next_id + len(new_ids))

    def _proposed_labels(self, free: np.ndarray) -> np.ndarray:
        """(F,) lifted labels of the automatic prompts on the view opposite the
        last prompted one, inside the region showing `free` faces; -1 elsewhere."""
        views = self.views
        opposite = (self._last_view + views.num_views // 2) % views.num_views
        shown = np.append(free, False)[views.face_ids[opposite]]  # background -> False
        if hasattr(self.segmenter, "propose_prompts"):
            prompts = list(self.segmenter.propose_prompts(views, opposite, shown))
            masks = np.asarray(self.segmenter.segment(views, prompts).masks, bool) if prompts else []
        else:
            masks = self._completion_masks(shown, opposite)
        if len(masks) == 0:
            return np.full(len(self._weights), -1, np.int32)
        return vote_labels(self.visible, np.asarray(masks))

    def _completion_masks(self, region: np.ndarray, view: int, max_prompts: int = 16) -> list:
        """(V, H, W) masks of clicks in the uncovered pieces of `region` on `view`
        (`completion_prompts`), clicking again in what the answers leave uncovered
        (two parts overlapping in the image make one piece), at most `max_prompts`."""
        masks: list = []
        while len(masks) < max_prompts:
            prompts = completion_prompts(region, view, max_prompts=max_prompts - len(masks))
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
        return self._commit(np.full(len(self._weights), -1, np.int32), (), self._state.next_id)

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
