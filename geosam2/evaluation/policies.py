"""Evaluated methods as prompt policies: simulated users that drive `Session`s.

Every prompted figure of `geosam2 evaluate` comes from the product's own pipeline:
a policy builds a :class:`~geosam2.pipeline.session.Session` on the ground-truth object,
gives it prompts through the session's operations (``add_parts``,
``auto_complete``) and scores the session's labels. The policies choose prompts;
they never lift or clean up masks themselves.

- :class:`SimulatedUser`: the paper's protocol with any segmenter (one click per
  visible ground-truth part on each of 4 candidate views, automatic completion,
  best view kept);
- :class:`Oracle`: the ground-truth masks themselves as the segmenter's answers
  (:class:`LabelSegmenter`), one prompt per part: the upper bound of lifting and
  clean-up;
- :class:`Pieces`: no prompt at all, the connected pieces as parts: the baseline any
  segmenter must beat.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import GeoSAM2Error, PromptError
from ..profiles import Profile, resolve
from ..segmenters.prompts import Prompt, interior_point
from ..render import Views
from ..segmenters.base import PartMasks, Segmenter
from ..pipeline.session import Session
from ..lifting.surface import Surface, surface_of
from .metrics import dense_labels
from .prompts import candidate_views, simulate_prompts, view_masks
from .readers import GroundTruth
from .runner import score


class LabelSegmenter(Segmenter):
    """A perfect segmenter from known element labels: each prompt's answer is the
    part under its first positive click (under most of its mask, for a mask
    prompt), on every view; an empty mask where the prompt shows no labelled element.

    Parameters
    ----------
    labels : (E,) int, part per element (face or point) of the geometry the views
        show, -1 = unlabelled.
    """

    name = "labels"

    def __init__(self, labels: np.ndarray):
        self.labels = np.asarray(labels)

    def _part(self, views: Views, prompt: Prompt) -> int:
        shown = views.pixel_labels(self.labels, prompt.view)  # (H, W), -1 background
        under = prompt.under_clicks(shown)
        if len(under):
            return int(under[0])
        if prompt.mask is None:
            raise PromptError("The label segmenter reads a positive click or a mask prompt.")
        inside = shown[prompt.mask & (shown >= 0)]
        return int(np.bincount(inside).argmax()) if len(inside) else -1

    def segment(self, views: Views, prompts: Sequence[Prompt]) -> PartMasks:
        shown = views.pixel_labels(self.labels)
        masks = np.stack([(shown == part) & (part >= 0) for part in (self._part(views, p) for p in prompts)])
        return PartMasks(masks, masks.reshape(len(prompts), views.num_views, -1).any(-1).astype(np.float32))


def _geometry(gt: GroundTruth):
    """The labelled geometry of a ground-truth object: its mesh, or its point cloud."""
    return gt.cloud if gt.mesh is None else gt.mesh


def _dense(gt: GroundTruth) -> tuple[np.ndarray, int]:
    labels, count = dense_labels(gt.labels)
    if count == 0:
        raise GeoSAM2Error(f"'{gt.uid}' has no labels on its faces or points: simulated prompts need them.")
    return labels, count


class Oracle:
    """Ground-truth masks on every view through a session: the upper bound of the
    lifting stage (`geosam2 evaluate --segmenter oracle`), on meshes or point clouds.

    Each ground-truth part gets one click, at the most interior pixel of its
    largest region on the view showing most of it; the :class:`LabelSegmenter`
    answers with the part's exact masks, and the session adds all parts in one
    operation (lifted together, then cleaned up: a part's largest piece is never
    cleared, disconnected pieces of one part stay one part).
    """

    name = "oracle"

    def __init__(self, resolution: int = 1024, pa: float = 0.02, samples_per_face: int = 5, profile: Profile | str | None = None):
        self.resolution, self.pa, self.samples_per_face = resolution, pa, samples_per_face
        self.profile = resolve(profile)

    def predict(self, gt: GroundTruth) -> np.ndarray:
        return self.predict_on(gt, surface_of(_geometry(gt), self.resolution, self.samples_per_face, profile=self.profile))

    def predict_on(self, gt: GroundTruth, surface: Surface) -> np.ndarray:
        """`predict` on an already built surface of the object (its views at any resolution)."""
        labels, count = _dense(gt)
        masks = view_masks(surface.views, labels, count)  # (P, V, H, W)
        pixels = masks.reshape(count, surface.views.num_views, -1).sum(-1)
        prompts = [
            Prompt(int(view), points=interior_point(masks[part, view])[None])
            for part, view in enumerate(pixels.argmax(1))
            if pixels[part, view] > 0
        ]
        if not prompts:
            raise GeoSAM2Error(f"No ground-truth part of '{gt.uid}' is visible in any view: nothing to prompt.")
        session = Session(_geometry(gt), LabelSegmenter(labels), pa=self.pa, surface=surface, profile=self.profile)
        session.add_parts(prompts)
        return session.labels


class SimulatedUser:
    """A segmenter driven by the simulated user, with the paper's protocol.

    On each of `candidates` prompt views (90 degrees apart for 4, starting at
    `first_view`) a new session gets one click in every visible ground-truth part
    (``Session.add_parts``; optional boxes and negative clicks), then, with
    `auto_complete`, the session's automatic completion on the opposite view
    (``Session.auto_complete``, exactly what a user of the product gets). The
    candidate view whose labels score best is kept.

    Parameters
    ----------
    segmenter : Segmenter
    resolution, pa, samples_per_face : the session's settings.
    candidates, first_view : the candidate prompt views (see `candidate_views`).
    box, negative_clicks : see `simulate_prompts`.
    auto_complete : complete automatically after the clicks.
    profile : the sessions' inference profile (`geosam2.profiles.resolve`; None: DEFAULT).
    """

    def __init__(
        self,
        segmenter: Segmenter,
        resolution: int = 1024,
        pa: float = 0.02,
        samples_per_face: int = 5,
        candidates: int = 4,
        box: bool = False,
        negative_clicks: int = 0,
        auto_complete: bool = True,
        first_view: int = 0,
        profile: Profile | str | None = None,
    ):
        self.segmenter = segmenter
        self.profile = resolve(profile)
        self.name = segmenter.name
        self.resolution, self.pa, self.samples_per_face = resolution, pa, samples_per_face
        self.candidates, self.box, self.negative_clicks = candidates, box, negative_clicks
        self.auto_complete, self.first_view = auto_complete, first_view

    def session_labels(self, gt: GroundTruth, surface: Surface, prompts: Sequence[Prompt]) -> np.ndarray:
        """(E,) int32 labels of a new session over `surface` given `prompts`, then
        completed automatically (with `auto_complete`); all -1 when no prompt selects anything."""
        session = Session(_geometry(gt), self.segmenter, pa=self.pa, surface=surface, profile=self.profile)
        try:
            session.add_parts(prompts)
        except PromptError:
            return session.labels
        if self.auto_complete:
            session.auto_complete()
        return session.labels

    def predict(self, gt: GroundTruth) -> np.ndarray:
        surface = surface_of(_geometry(gt), self.resolution, self.samples_per_face, profile=self.profile)
        return self.predict_on(gt, surface)

    def predict_on(self, gt: GroundTruth, surface: Surface) -> np.ndarray:
        """`predict` on an already built surface of the object (its views at any resolution)."""
        labels, count = _dense(gt)
        best, best_score = None, -1.0
        for view in candidate_views(surface.views, self.candidates, self.first_view):
            masks = view_masks(surface.views, labels, count, view)
            prompts, _ = simulate_prompts(masks, view, box=self.box, negative_clicks=self.negative_clicks)
            if not prompts:
                continue
            pred = self.session_labels(gt, surface, prompts)
            if (pred < 0).all():
                continue
            value = score(gt, pred)
            if value > best_score:
                best, best_score = pred, value
        if best is None:
            raise GeoSAM2Error(f"No candidate view of '{gt.uid}' gave a labelled face: nothing to score.")
        return best


class Pieces:
    """The baseline without any prompt: each connected piece of the welded mesh (each
    connected piece of the k-NN graph, on a point cloud) is a part
    (`geosam2 evaluate --segmenter pieces`)."""

    name = "pieces"

    def predict(self, gt: GroundTruth) -> np.ndarray:
        if gt.mesh is None:
            from ..lifting.pointlift import knn_graph

            return knn_graph(gt.cloud).components()
        return gt.mesh.graph.pieces


SEGMENTERS = ("oracle", "geometry", "geosam2", "pieces")


def make_method(name: str, resolution: int = 1024, pa: float = 0.02, checkpoint: str | None = None, profile: Profile | str | None = None, **kwargs):
    """The method of `geosam2 evaluate --segmenter NAME` (one of SEGMENTERS), with the
    inference `profile` (`geosam2.profiles.resolve`; None: DEFAULT).

    Other keyword arguments go to `SimulatedUser` (the oracle and the pieces ignore them).
    """
    if name == "oracle":
        return Oracle(resolution, pa, profile=profile)
    if name == "pieces":
        return Pieces()
    if name == "geometry":
        from ..segmenters.geometry import GeometrySegmenter

        return SimulatedUser(GeometrySegmenter(), resolution, pa, profile=profile, **kwargs)
    if name == "geosam2":
        try:
            from ..segmenters.geosam2 import GeoSAM2Segmenter, load_geosam2
        except ImportError as exc:
            raise GeoSAM2Error(f"The GeoSAM2 network is not available in this installation ({exc}).") from exc
        return SimulatedUser(GeoSAM2Segmenter(load_geosam2(checkpoint)), resolution, pa, profile=profile, **kwargs)
    raise GeoSAM2Error(f"Unknown segmenter '{name}': choose one of {', '.join(SEGMENTERS)}.")
