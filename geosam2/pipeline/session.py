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

The session's parts: the undo history and parts tree (`geosam2.pipeline.history`),
the step from prompts to faces (the profile's ``prompting``,
`geosam2.pipeline.prompting`) and the automatic completion (the profile's
``completion``, `geosam2.pipeline.completion`); the profile (`geosam2.profiles`) is
resolved once, here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from ..errors import GeoSAM2Error, PromptError
from ..io.mesh import Mesh
from ..io.pointcloud import PointCloud
from ..lifting.surface import Surface, surface_of
from ..profiles import Profile, resolve
from ..segmenters.base import Segmenter, as_segmenter
from ..segmenters.prompts import Prompt
from ..segmenters.steps import Steps
from .history import History, Update
from .parts import Part, part_color

__all__ = ["Session", "Update"]


class Session:
    """A part labelling of one mesh or point cloud built prompt by prompt.

    Parameters
    ----------
    geometry : Mesh or PointCloud
        The labelled elements are its faces, or its points.
    segmenter : Segmenter
        E.g. GeometrySegmenter or GeoSAM2Segmenter, bound to the geometry and the
        profile with ``segmenter.bind(geometry, profile)`` (and otherwise used as
        given: no attribute of it is set; a duck-typed object with a ``segment``
        method is wrapped by ``as_segmenter``); one that needs faces is refused for
        a point cloud.
    resolution : int, optional
        Rendered (splatted) view size in pixels; default: the size of the given
        `views` or `surface`, else 1024 (`surface_of`). Given with `views` or a
        `surface` of another size, a GeoSAM2Error.
    pa : float
        Relative size threshold of the clean-up (see ``Surface.clean``).
    samples_per_face : int
        The release's random samples per face (its lifting,
        ``geosam2.profiles.official.lifting.official_visible_samples``); the project's
        lifting votes with every pixel of the face-id maps and a point cloud with
        its points. Not used with a `surface` (it has its visibility already).
    views : Views, optional
        Already rendered views of a mesh, or ``splat_views`` of a point cloud.
    surface : Surface, optional
        An already built ``surface_of(geometry, ...)`` (views, visibility, graph),
        shared by several sessions over the same geometry; it must lift and clean
        up as the profile does (else a GeoSAM2Error), and `views`, if given, must
        be its views.
    profile : Profile, its name, or None (`geosam2.profiles.resolve`: None is
        `geosam2.profiles.DEFAULT`)
        Everything the session and its segmenter do: the segmenter's network
        (GeoSAM2's propagation and proposals, through ``bind``), the lifting and
        clean-up, the prompting and the automatic completion. On a point cloud
        (the release has none) the prompting and completion are the project's
        (``Profile.on_point_cloud``).

    Attributes
    ----------
    geometry : Mesh or PointCloud
    mesh : Mesh, or None for a point cloud
    profile : Profile, as the session runs it
    surface : Surface
    views : Views
    history : History, the undo history and parts tree
    """

    def __init__(
        self,
        geometry: Mesh | PointCloud,
        segmenter: Segmenter,
        resolution: int | None = None,
        pa: float = 0.02,
        samples_per_face: int = 5,
        views=None,
        surface: Surface | None = None,
        profile: Profile | str | None = None,
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
        profile = resolve(profile)
        self.profile = profile if self.mesh is not None else profile.on_point_cloud()
        segmenter.bind(geometry, self.profile)
        self.segmenter = segmenter
        self.surface = _surface(geometry, self.profile, resolution, samples_per_face, views, surface)
        self.views = self.surface.views
        self.history = History(self.surface.num_elements, self.surface.weights, self.views)

    # ----------------------------------------------------------------- state
    @property
    def labels(self) -> np.ndarray:
        """(F,) int32 part id per face, -1 = unlabelled."""
        return self.history.state.labels

    @property
    def parts(self) -> tuple:
        """The parts tree: tuple of Part by increasing id."""
        return self.history.state.parts

    def part(self, part_id: int) -> Part:
        return self.history.part(part_id)

    def children(self, part_id: int | None) -> tuple:
        """The parts refined directly from `part_id` (None: the top-level parts)."""
        return tuple(p for p in self.parts if p.parent == part_id)

    # ------------------------------------------------------------ operations
    def selected_faces(self, prompt: Prompt) -> np.ndarray:
        """(F,) bool faces (points) one prompt selects: segment, lift, clean up (the
        profile's ``prompting``). The official-parity tool reads it."""
        return self.profile.prompting.select(self, [prompt])[0][0]

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

    def add_parts(
        self,
        prompts: Sequence[Prompt],
        parent: int | None = None,
        names: Sequence[str] | None = None,
        selection: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Update:
        """Add one part per prompt in one operation (one undo step).

        The prompts are segmented together and their masks lifted together, so
        where two prompts claim the same faces the smaller mask wins (see
        the profile's lifting). Without `parent` the new parts take every
        face they select; with `parent`, only the faces the parent owns (children
        of `parent`). Prompts that select no face make no part and are listed in
        ``Update.skipped``; PromptError when none selects a face. `selection`, when
        the prompts were already segmented: ((P, E) bool elements each selects,
        (P, V, H, W) bool masks), as ``profile.prompting.select(session, prompts)``
        gave them.
        """
        prompts = list(prompts)
        if not prompts:
            raise PromptError("No prompt given: click on a part of a view, draw a box or give a mask.")
        if names is not None and len(names) != len(prompts):
            raise GeoSAM2Error(f"{len(names)} names for {len(prompts)} prompts: give one name per prompt.")
        if parent is not None:
            self.part(parent)
        selected, masks = self.profile.prompting.select(self, prompts) if selection is None else selection
        if parent is not None:
            selected = selected & (self.labels == parent)
        made = [p for p in range(len(prompts)) if selected[p].any()]
        if not made:
            where = f" inside part {parent}" if parent is not None else ""
            views = sorted({p.view for p in prompts})
            raise PromptError(f"The prompt on view {', '.join(map(str, views))} selected no faces{where}: click on the part itself.")
        state = self.history.state
        labels, parts = state.labels.copy(), list(state.parts)
        for k, p in enumerate(made):
            part_id = state.next_id + k
            labels[selected[p]] = part_id
            name = names[p] if names is not None and names[p] else f"part_{part_id}"
            parts.append(Part(part_id, name, part_color(part_id), parent))
        skipped = tuple(p for p in range(len(prompts)) if p not in made)
        kept_masks = self.profile.prompting.kept_masks(state, made, masks, parent)
        last_view = prompts[made[-1]].view
        return self.history.commit(labels, parts, state.next_id + len(made), last_view, skipped, kept_masks)

    def rename(self, part_id: int, name: str) -> Update:
        """Give part `part_id` a new name."""
        self.part(part_id)
        parts = tuple(replace(p, name=name) if p.id == part_id else p for p in self.parts)
        return self.history.commit(self.labels, parts, self.history.state.next_id)

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
        return self.history.commit(labels, parts, self.history.state.next_id)

    def auto_complete(self, parent: int | None = None, steps: Steps | None = None) -> Update:
        """Give every unlabelled face a new top-level part, or, with `parent`, split
        the faces part `parent` owns into new children of it ("segment everything
        inside the selected part"), as the profile's ``completion`` does
        (`geosam2.pipeline.completion.ViewCompletion`: the region showing those faces
        on the view opposite the last prompt, or inside a part on the view showing
        most of it, prompted automatically, or the segmenter's own 3-D completion;
        the release's: `geosam2.profiles.official.completion.ReleaseCompletion`).

        `steps` (`geosam2.segmenters.steps.Steps`, None: silent) hears of each view and
        batch; cancelled from another thread, the run stops at its next batch and
        commits the parts it finished (nothing finished: nothing changes).
        """
        if parent is not None:
            self.part(parent)
        return self.profile.completion.complete(self, parent, Steps() if steps is None else steps)

    def segment_everything(self, steps: Steps | None = None) -> Update:
        """Parts for the whole geometry without any prompt: the release's fully automatic
        mode. The release's completion: its generator on view 0, then on the view
        opposite it for what the kept parts leave, and one lifting of every kept part
        (every face is relabelled); the project's: the automatic completion of the
        unlabelled faces prompted on view 0 (see `auto_complete`, and there `steps`)."""
        return self.profile.completion.everything(self, Steps() if steps is None else steps)

    def reset(self) -> Update:
        """Remove every part (undoable)."""
        return self.history.commit(np.full(self.surface.num_elements, -1, np.int32), (), self.history.state.next_id)

    def undo(self) -> Update:
        """Go back one operation (nothing changes at the start of the history)."""
        return self.history.undo()

    def redo(self) -> Update:
        """Redo the last undone operation (nothing changes if there is none)."""
        return self.history.redo()

    @property
    def can_undo(self) -> bool:
        return self.history.can_undo

    @property
    def can_redo(self) -> bool:
        return self.history.can_redo


def _surface(geometry, profile: Profile, resolution: int | None, samples_per_face: int, views, surface: Surface | None) -> Surface:
    """The session's surface from its overlapping inputs (see `Session`): a given
    surface checked against the profile and the other inputs, else a new one."""
    given = surface.views if surface is not None else views
    if surface is not None and views is not None and views is not surface.views:
        raise GeoSAM2Error("Both views and a surface were given, and they differ: give the surface alone (it holds its views).")
    if given is not None and resolution is not None and resolution != given.resolution:
        raise GeoSAM2Error(
            f"The views are {given.resolution} px but resolution={resolution} was asked: leave the resolution out, or render the views at it."
        )
    if surface is None:
        sizes = {} if resolution is None else {"resolution": resolution}
        return surface_of(geometry, samples_per_face=samples_per_face, views=views, profile=profile, **sizes)
    if not surface.lifts_as(profile):
        raise GeoSAM2Error(f"The surface lifts and cleans up otherwise than the {profile.name} profile: build one with it (surface_of).")
    return surface
