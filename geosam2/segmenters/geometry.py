"""An offline segmenter that needs no weights: parts are the mesh's own geometry.

A geometric part is a set of faces connected through shared edges (after welding
coincident vertices, since artist meshes are built piece by piece) that does not
cross a sharp concave crease (a dihedral angle above a threshold, the surface
folding inwards), so that fused single-surface meshes still split into sensible
pieces: parts meet along concave creases (a leg welded under a seat), while the
convex edges of a box or a cylinder's rim belong to one part. A click selects the part
of the face under it; the segmenter answers in 3-D, with all the part's faces (seen
or not) and, for every view, the pixels showing them. Clicks of several prompts in
one part split it between them by random walks on the part boundaries
(`geosam2.geometry.boundaries`: concave valleys of smoothed normals, so that one
smooth generated surface splits too; `geosam2.geometry.seeded`), a single click on a
piece without creases competes with the regions of the hierarchy of parts around
it (`GeometrySegmenter.hierarchy`: levels of parts for segmenting everything), and
the automatic completion labels the remaining faces directly
(`GeometrySegmenter.complete`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import GeoSAM2Error, PromptError
from ..geometry.facegraph import FaceGraph
from ..geometry.scales import DEFAULT_CREASE_ANGLE_DEG, GeometricScales, geometric_parts, geometric_scales, overlapping_groups  # noqa: F401 (public here)
from ..io.mesh import Mesh
from .prompts import MAX_AUTO_PROMPTS, MIN_PROMPT_PIXELS, Prompt, interior_point
from ..geometry.boundaries import Boundaries, boundaries
from ..geometry.hierarchy import PartHierarchy, part_hierarchy, superface_graph
from ..geometry.regions import closest_parts, congruent_families, parts_of_copies, region_signatures
from ..geometry.levels import MOSTLY, default_level, matching_level, region_owners
from ..geometry.seeded import best_region, click_candidates, node_contrast, node_count, seeded_owners
from ..render import Views
from .base import PartMasks, Segmenter

MOSTLY_INSIDE = 0.5  # a box or mask prompt selects parts with more than this share of their pixels in it
SMALL_PART = 0.5  # completion: a detail is below this share of the smallest part made by the user
SMALL_SHARE = 0.01  # completion: a detail is below this share of the surface


class GeometrySegmenter(Segmenter):
    """A Segmenter without weights: each prompt selects whole geometric parts.

    - positive clicks select the part of the face under each click (a click on
      the background is a PromptError); a part clicked by several prompts of one
      call is divided between their clicks (`select_faces`);
    - a box selects the parts with more than half of their pixels on that view
      inside the box (the part with the largest share if none has half);
    - a mask prompt selects the parts more than half covered by it (likewise), at
      the level (crease parts, connected pieces or touching groups, see
      `candidates`) whose selection matches the mask best on its view, the
      coarsest of equals: a chosen candidate comes back whole, hidden faces too;
    - negative clicks remove the parts under them.

    The segmenter works on one mesh at a time: ``bind(mesh)`` (or the `mesh`
    argument) sets it, and its parts are computed once per mesh.

    Parameters
    ----------
    mesh : Mesh, optional
    crease_angle_deg : float
        Dihedral angle above which an edge separates two parts.
    concave_only : bool
        Split at concave creases only (default), or at convex ones too (every
        side of a box its own part).
    """

    name = "geometry"
    needs_faces = True

    def __init__(self, mesh: Mesh | None = None, crease_angle_deg: float = DEFAULT_CREASE_ANGLE_DEG, concave_only: bool = True):
        self.crease_angle_deg = crease_angle_deg
        self.concave_only = concave_only
        self.mesh: Mesh | None = None
        self.graph: FaceGraph | None = None
        self.scales: GeometricScales | None = None
        if mesh is not None:
            self.bind(mesh)

    def bind(self, mesh: Mesh, profile=None) -> "GeometrySegmenter":
        """Segment `mesh` from now on (parts are recomputed only for a new mesh; no network: `profile` is not used)."""
        if mesh is not self.mesh:
            graph = mesh.graph
            self.mesh, self.graph = mesh, graph
            self.scales = geometric_scales(mesh, self.crease_angle_deg, self.concave_only, graph)
            self.boundaries: Boundaries = boundaries(mesh, graph)
            self._hierarchy: PartHierarchy | None = None
            self._levels: np.ndarray | None = None
            self._signatures = (region_signatures(mesh, self.scales.crease), region_signatures(mesh, self.scales.connected))
        return self

    def hierarchy(self) -> PartHierarchy:
        """The bound mesh's `geosam2.geometry.hierarchy.PartHierarchy` (built once):
        ``hierarchy().levels()`` is (L, F) int32 part labels per level, coarse to fine."""
        self._scales()
        if self._hierarchy is None:
            self._hierarchy = part_hierarchy(self.mesh, self.graph, self.boundaries)
            patch, bounds = self._hierarchy.superface, self.boundaries
            self._superface_weights = (
                superface_graph(self.graph, bounds.conductance, patch),
                superface_graph(self.graph, bounds.uniform, patch),
            )
        return self._hierarchy

    def levels(self) -> np.ndarray:
        """(L, F) int32 part labels per level of the hierarchy of parts, coarse to fine
        (the first level: one region per connected piece; built once per mesh)."""
        if self._levels is None:
            self._levels = self.hierarchy().levels()
        return self._levels

    def level(self, labels: np.ndarray | None = None, faces: np.ndarray | None = None) -> int:
        """Index into `levels` of the level to show for (F,) bool `faces` (default: all):
        the one agreeing best with the parts of (F,) `labels` (-1 = none), the default
        level (every region standing apart) when there are none
        (`geosam2.geometry.levels`)."""
        hierarchy = self.hierarchy()
        within = np.zeros(hierarchy.num_superfaces, bool)
        within[hierarchy.superface if faces is None else hierarchy.superface[faces]] = True
        preferred = default_level(hierarchy, *self._superface_weights, within)
        if labels is None or not (np.asarray(labels) >= 0).any():
            return preferred
        return matching_level(self.levels(), np.asarray(labels, np.int64), self.mesh.face_areas, preferred)

    def _smooth_pieces(self) -> np.ndarray:
        """(P,) bool per connected piece: one crease region holds most of it (more than
        `geosam2.geometry.levels.MOSTLY` of its area), so that its creases do not make
        its parts (a generated surface)."""
        scales, areas = self._scales(), self.mesh.face_areas
        pieces = scales.connected
        largest = np.zeros(pieces.max() + 1)
        np.maximum.at(largest, pieces, np.bincount(scales.crease, areas)[scales.crease])
        return largest > MOSTLY * np.bincount(pieces, areas)

    def _contrast(self, nodes: np.ndarray) -> np.ndarray:
        """(N,) boundary strength around merge-tree nodes (`geosam2.geometry.seeded.node_contrast`)."""
        return node_contrast(self.hierarchy(), *self._superface_weights, nodes)

    def _uncreased(self, face: int) -> bool:
        """Whether the piece of `face` is smooth (`_smooth_pieces`): where the mesh's own
        creases make a piece's parts, they bound them; the soft boundaries of the
        hierarchy decide where they do not (one smooth generated surface, a few small
        crease regions aside)."""
        return bool(self._smooth_pieces()[self._scales().connected[face]])

    def _best_node(self, face: int) -> int:
        """The merge-tree node a click on `face` means among its candidates
        (`geosam2.geometry.seeded.best_region`)."""
        hierarchy = self.hierarchy()
        nodes, contrast = click_candidates(hierarchy, self._contrast, int(hierarchy.superface[face]))
        piece = hierarchy.area[hierarchy.chain(hierarchy.superface[face])[-1]]
        return int(nodes[best_region(hierarchy.area[nodes], contrast, piece)])

    @property
    def parts(self) -> np.ndarray:
        """(F,) int32 geometric part per face of the bound mesh."""
        return self._scales().crease

    def _scales(self) -> GeometricScales:
        if self.scales is None:
            raise GeoSAM2Error("The geometry segmenter has no mesh: call bind(mesh) before segmenting.")
        return self.scales

    def _check(self, views: Views, prompt: Prompt) -> None:
        if views.face_ids.max(initial=-1) >= self.mesh.num_faces:
            raise GeoSAM2Error("These views were rendered from another mesh than the one bound to the geometry segmenter.")
        prompt.check_image(views.num_views, *views.face_ids.shape[1:])

    def _clicked(self, views: Views, prompt: Prompt, ids: np.ndarray, positive: bool) -> set[int]:
        """Part ids (in `ids`) under the positive or negative clicks of `prompt`."""
        faces = prompt.under_clicks(views.face_ids[prompt.view], positive)
        if positive and (faces < 0).any():
            points = prompt.points[prompt.labels == 1]
            x, y = points[np.argmax(faces < 0)]
            raise PromptError(f"The click at ({x:.0f}, {y:.0f}) on view {prompt.view} is on the background: click on the object.")
        return {int(ids[f]) for f in faces if f >= 0}

    @staticmethod
    def _mostly_inside(ids_image: np.ndarray, region: np.ndarray) -> set[int]:
        """Part ids with more than MOSTLY_INSIDE of their pixels in the (H, W) bool region
        (the best-covered part if none); `ids_image` is (H, W) part ids, -1 background."""
        shown = ids_image >= 0
        parts, pixels = np.unique(ids_image[shown], return_counts=True)
        inside = np.zeros(len(parts))
        hit_parts, hit_pixels = np.unique(ids_image[shown & region], return_counts=True)
        inside[np.searchsorted(parts, hit_parts)] = hit_pixels
        share = inside / np.maximum(pixels, 1)
        chosen = parts[share > MOSTLY_INSIDE]
        if len(chosen) == 0 and share.max(initial=0) > 0:
            chosen = parts[[np.argmax(share)]]
        return {int(p) for p in chosen}

    def select(self, views: Views, prompt: Prompt, ids: np.ndarray | None = None) -> np.ndarray:
        """Sorted (K,) int64 part ids (of `ids`, default the crease parts) one prompt selects."""
        ids = self.parts if ids is None else ids
        self._check(views, prompt)
        ids_image = np.where(views.face_ids[prompt.view] >= 0, ids[views.face_ids[prompt.view]], -1)
        chosen = self._clicked(views, prompt, ids, positive=True)
        if prompt.box is not None:
            height, width = ids_image.shape
            rows, columns = np.arange(height)[:, None] + 0.5, np.arange(width)[None] + 0.5
            x0, y0, x1, y1 = prompt.box
            chosen |= self._mostly_inside(ids_image, (columns >= x0) & (columns <= x1) & (rows >= y0) & (rows <= y1))
        if prompt.mask is not None:
            chosen |= self._mostly_inside(ids_image, prompt.mask)
        positive, negative = (prompt.under_clicks(views.face_ids[prompt.view], sign) for sign in (True, False))
        kept = {int(ids[f]) for f in np.setdiff1d(positive, negative)}  # clicked both ways, on other faces: divided later
        chosen -= self._clicked(views, prompt, ids, positive=False) - kept
        return np.array(sorted(chosen), np.int64)

    @staticmethod
    def _masks(face_ids: np.ndarray, ids: np.ndarray, selected: np.ndarray) -> np.ndarray:
        """Bool pixels of the face-id image(s) `face_ids` ((..., H, W), -1 background)
        showing a face whose part in `ids` is selected."""
        lookup = np.zeros(int(ids.max(initial=-1)) + 2, bool)  # last entry: background
        lookup[selected] = True
        face_part = np.append(ids, len(lookup) - 1)
        return lookup[face_part[face_ids]]

    def _selection(self, views: Views, prompt: Prompt) -> tuple[np.ndarray, np.ndarray]:
        """(ids, selected part ids) of one prompt: crease parts, or for a mask-only
        prompt the level matching the mask best (see the class docstring)."""
        if prompt.mask is None or len(prompt.points) or prompt.box is not None:
            return self.parts, self.select(views, prompt)
        scales, best = self._scales(), None
        for ids in (scales.touching, scales.connected, scales.crease):  # coarse to fine
            selected = self.select(views, prompt, ids)
            shown = self._masks(views.face_ids[prompt.view], ids, selected)
            iou = (shown & prompt.mask).sum() / max((shown | prompt.mask).sum(), 1)
            if best is None or iou > best[0]:
                best = (iou, ids, selected)
        return best[1], best[2]

    def select_faces(self, views: Views, prompts: Sequence[Prompt]) -> np.ndarray:
        """(P, F) bool faces each prompt selects, the prompts answered together.

        Each prompt selects whole regions (`_selection`: crease parts under its
        clicks, or the regions its box or mask covers), seen or not; a crease part
        holding clicks is divided between them by a random walk on the boundary
        weights (`_divide`: boundaries settle in the valleys between the clicks).
        """
        self._scales()
        selected = np.zeros((len(prompts), self.mesh.num_faces), bool)
        seeds, owners = [], []
        for p, prompt in enumerate(prompts):
            ids, chosen = self._selection(views, prompt)
            selected[p] = np.isin(ids, chosen)
            clicked = prompt.under_clicks(views.face_ids[prompt.view]).astype(np.int64)  # on the object: checked
            seeds.append(clicked)
            owners.append(np.full(len(clicked), p))
        seeds, owners = np.concatenate(seeds), np.concatenate(owners)
        kept = selected[owners, seeds]  # a click whose part its own negative click removed seeds nothing
        refused = np.concatenate([p.under_clicks(views.face_ids[p.view], positive=False) for p in prompts]).astype(np.int64)
        self._divide(selected, seeds[kept], owners[kept], refused[refused >= 0])
        return selected

    def _divide(self, selected: np.ndarray, seeds: np.ndarray, owners: np.ndarray, refused: np.ndarray) -> None:
        """Divide in place each crease region holding clicks between their prompts
        (`geosam2.geometry.seeded.seeded_owners`); the clicks of one prompt alone, in a
        piece without creases (one smooth surface), compete with the parts around them
        too, at the scale of their best candidate."""
        if len(seeds) == 0:
            return
        hierarchy = self.hierarchy()
        prompted = len(np.unique(owners))
        # one prompt: the parts around compete at its best candidate's scale; several: they compete with each other only
        count = node_count(hierarchy, self._best_node(int(seeds[0]))) if prompted == 1 else hierarchy.roots
        crease, pieces = self.parts, self._scales().connected
        for k in np.unique(crease[seeds]):
            region = crease == k
            inside = crease[seeds] == k
            level = count if self._uncreased(int(seeds[inside][0])) else hierarchy.roots
            owner = seeded_owners(self.graph, self.boundaries.conductance, hierarchy, level, seeds[inside], owners[inside], refused[crease[refused] == k], region)
            selected[:, region] = owner[region][None] == np.arange(len(selected))[:, None]

    def segment(self, views: Views, prompts: Sequence[Prompt]) -> PartMasks:
        """One answer per prompt (see `select_faces`): its faces, and on every view the
        pixels showing them.

        Returns PartMasks with masks (P, V, H, W) bool, scores (P, V) float32, 1
        where the mask is non-empty (the masks are exact), else 0, and faces (P, F) bool.
        """
        if not prompts:
            return PartMasks.none(views)
        faces = self.select_faces(views, prompts)
        shown = np.concatenate([faces, np.zeros((len(faces), 1), bool)], axis=1)  # last column: background
        masks = shown[:, views.face_ids]
        scores = masks.reshape(len(masks), views.num_views, -1).any(-1).astype(np.float32)
        return PartMasks(masks, scores, faces=faces)

    def complete(self, labels: np.ndarray, free: np.ndarray) -> np.ndarray:
        """Label the `free` faces in 3-D (the session's automatic completion).

        - a free face in a connected piece where one part of `labels` has faces
          joins that part when the piece's creases make its parts (nothing said to
          split the piece further); in a smooth piece (one crease region holds most
          of it: a generated surface) the hierarchy decides, as below;
        - the other free faces are labelled by their region at the level of the
          hierarchy of parts agreeing best with `labels` (`level`; without parts, the
          default level): a region lying mostly in one part joins it;
        - the rest is cut into units: the free faces of a region in a piece with no
          part, or of a region in one crease part of a piece shared by several parts
          (or of the one piece all the rest lies in);
        - a unit congruent to regions (crease parts or pieces) lying in one part
          each (with the faces joined above) joins that part when they all lie in
          the same one: a hidden wheel joins the wheels, a stud welded on a panel
          (a crease part of the panel's piece) the clicked studs; copies in several
          parts are instances;
        - a unit smaller than SMALL_SHARE of the surface and than SMALL_PART times
          the smallest part of `labels` (the user's scale), the largest unit
          excepted, is a detail: it joins the part closest to it (touching it, or
          nearest across a gap), the new parts included, when it is also below
          SMALL_PART times that part (a piece beside others of its size, a brick
          among bricks, is a part of its own);
        - every other unit is a new part (unclicked copies of one another too: a
          wrong merge of instances costs more than a wrong split of one part).

        Parameters and returns as `Segmenter.complete`.
        """
        scales = self._scales()
        labels, free = np.asarray(labels, np.int64), np.asarray(free, bool)
        result = np.full(len(labels), -1, np.int64)
        if not free.any():
            return result
        pieces, crease, areas = scales.connected, scales.crease, self.mesh.face_areas
        piece_parts = np.unique(np.stack([pieces[labels >= 0], labels[labels >= 0]], axis=1), axis=0)
        parts_in_piece = np.bincount(piece_parts[:, 0], minlength=pieces.max() + 1)
        only_part = np.full(len(parts_in_piece), -1, np.int64)
        only_part[piece_parts[:, 0]] = piece_parts[:, 1]
        joins_piece = free & (parts_in_piece[pieces] == 1) & ~self._smooth_pieces()[pieces]
        result[joins_piece] = only_part[pieces[joins_piece]]
        rest = free & ~joins_piece
        if not rest.any():
            return result
        region = self.levels()[self.level(labels, rest)]
        joins_region = rest & (region_owners(region, labels, areas)[region] >= 0)
        result[joins_region] = region_owners(region, labels, areas)[region[joins_region]]
        rest &= ~joins_region
        if not rest.any():
            return result
        one_piece = len(np.unique(pieces[rest])) == 1  # then its crease parts are the finest split
        key = np.where((parts_in_piece[pieces] == 0) & ~one_piece, pieces, len(parts_in_piece) + crease)
        units = np.full(len(labels), -1, np.int64)
        units[rest] = np.unique(np.stack([key[rest], region[rest]], axis=1), axis=0, return_inverse=True)[1].ravel()
        known = np.where(result >= 0, result, labels)  # the parts with the faces joined above
        result[rest] = self._label_units(units, known)[units[rest]]
        return result

    def _label_units(self, units: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """(U,) int64 part per unit 0..U-1 of (F,) `units` (-1 = no unit) given the parts of
        (F,) `labels`: the part it is a copy of, a new part (ids above every id of
        `labels`) or, for a detail, the part closest to it (see `complete`)."""
        areas = self.mesh.face_areas
        unit_signatures = region_signatures(self.mesh, units)
        unit_areas = unit_signatures[:, 0]
        count = len(unit_areas)
        reference_signatures, reference_parts = self._regions_in_one_part(labels)
        families = congruent_families(np.concatenate([unit_signatures, reference_signatures]))
        unit_label = parts_of_copies(families[:count], families[count:], reference_parts)
        threshold = min(SMALL_SHARE * areas.sum(), unit_areas.max())  # the largest unit is never a detail
        owned = labels >= 0
        if owned.any():
            part_areas = np.bincount(labels[owned], areas[owned])
            threshold = min(threshold, SMALL_PART * part_areas[part_areas > 0].min())
        small = (unit_label < 0) & (unit_areas < threshold)
        first_new = int(labels.max(initial=-1)) + 1
        unit_label[(unit_label < 0) & ~small] = first_new + np.arange(((unit_label < 0) & ~small).sum())
        if not small.any():
            return unit_label

        def with_units() -> np.ndarray:
            return np.where(units >= 0, unit_label[np.maximum(units, 0)], labels)

        context, closest = closest_parts(self.mesh, units, small, with_units())
        # a unit as large as half the part it would join is a part of its own (a brick among bricks)
        context_areas = np.bincount(context[context >= 0], areas[context >= 0], minlength=closest.max() + 1)
        alone = small & (closest >= 0) & (unit_areas >= SMALL_PART * context_areas[np.maximum(closest, 0)])
        if alone.any():
            unit_label[alone] = max(first_new, int(unit_label.max()) + 1) + np.arange(alone.sum())
            small &= ~alone
            _, closest = closest_parts(self.mesh, units, small, with_units())
        unit_label[small] = closest[small]
        return unit_label

    def _regions_in_one_part(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The crease parts and pieces whose faces all lie in one part of (F,) `labels`:
        their (R, 4) `region_signatures` and (R,) part."""
        signatures, parts = [], []
        for ids, level_signatures in zip((self.parts, self._scales().connected), self._signatures):
            lowest = np.full(ids.max() + 1, np.iinfo(np.int64).max)
            highest = np.full(ids.max() + 1, -1, np.int64)
            np.minimum.at(lowest, ids, labels)
            np.maximum.at(highest, ids, labels)
            chosen = np.flatnonzero((lowest == highest) & (lowest >= 0))
            signatures.append(level_signatures[chosen])
            parts.append(lowest[chosen])
        return np.concatenate(signatures), np.concatenate(parts)

    def propose_prompts(
        self, views: Views, view: int, region: np.ndarray, min_pixels: int = MIN_PROMPT_PIXELS, max_prompts: int = MAX_AUTO_PROMPTS
    ) -> list:
        """Automatic prompts in `region` ((H, W) bool) of `view`: a click on each
        geometric part showing at least `min_pixels` pixels there, the `max_prompts`
        largest, each at the most interior pixel of the part inside the region."""
        self._check(views, Prompt(view, mask=region))
        face_ids = views.face_ids[view]
        ids = np.where(region & (face_ids >= 0), self.parts[face_ids], -1)
        parts, pixels = np.unique(ids[ids >= 0], return_counts=True)
        order = np.argsort(-pixels, kind="stable")
        chosen = [parts[i] for i in order if pixels[i] >= min_pixels][:max_prompts]
        return [Prompt(view, points=interior_point(ids == part)[None]) for part in chosen]

    def candidates(self, views: Views, prompt: Prompt) -> PartMasks:
        """Up to three nested answers to one prompt, small to large.

        A click: regions of the hierarchy around its face with the strongest
        boundaries at three scales (`geosam2.geometry.seeded.click_candidates`), each
        scored by its boundary contrast (1 - the share of a boundary-free surface's
        conductance crossing its border: 1 for a separate piece or a sharp valley all
        around, 0 for no boundary), then the group of pieces touching the clicked one
        (score 1) when it is larger, when the clicked piece has no crease. Otherwise
        (and without a click): the crease parts, connected pieces and groups of
        touching pieces the prompt selects, scored 1.

        Returns PartMasks with masks (K, V, H, W) bool and scores (K, V) float32.
        """
        self._check(views, prompt)
        faces = prompt.under_clicks(views.face_ids[prompt.view])
        if len(faces) == 0 or faces[0] < 0 or not self._uncreased(int(faces[0])):
            scales = self._scales()
            levels = (scales.crease, scales.connected, scales.touching)
            masks = np.stack([self._masks(views.face_ids, ids, self.select(views, prompt, ids)) for ids in levels])
            return PartMasks(masks, masks.reshape(3, views.num_views, -1).any(-1).astype(np.float32))
        self._clicked(views, prompt, self.parts, positive=True)  # a click on the background is a PromptError
        hierarchy, touching = self.hierarchy(), self._scales().touching
        nodes, contrast = click_candidates(hierarchy, self._contrast, int(hierarchy.superface[faces[0]]))
        inside = np.stack([hierarchy.members(int(node))[hierarchy.superface] for node in nodes])
        group = touching == touching[faces[0]]
        if group.sum() > inside[-1].sum():  # the large scale: the clicked piece with the pieces it touches
            inside, contrast = np.concatenate([inside, group[None]])[-3:], np.append(contrast, 1.0)[-3:]
        masks = np.concatenate([inside, np.zeros((len(inside), 1), bool)], axis=1)[:, views.face_ids]
        shown = masks.reshape(len(inside), views.num_views, -1).any(-1)
        return PartMasks(masks, (shown * contrast[:, None]).astype(np.float32), faces=inside)
