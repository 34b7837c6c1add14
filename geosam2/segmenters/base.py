"""The Segmenter protocol: prompts on one view -> masks of each part on every view.

:class:`Segmenter` says everything a segmenter can do, with the defaults of a
segmenter that can only segment. The session (the one place where prompts become
parts) calls these methods and nothing else; no capability is discovered by
looking for attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .prompts import Prompt
from .steps import Steps
from ..render import Views


@dataclass(frozen=True)
class PartMasks:
    """Per-view masks of P parts over V views.

    Attributes
    ----------
    masks : (P, V, H, W) bool
        masks[p, v] is part p's mask on view v.
    scores : (P, V) float32
        Confidence of each mask in [0, 1] (predicted IoU, or 1 for exact masks).
    stability : (P, V) float32 or None
        The release's stability score of each mask (`geosam2.profiles.official.partfilters`),
        read by the release's filters of automatic parts; None when the segmenter
        does not score it (its masks then count as stable).
    faces : (P, F) bool or None
        The faces of each part, seen or not, when the segmenter answers in 3-D (the
        masks then show them); None when it answers with masks only (the session
        lifts them).
    """

    masks: np.ndarray
    scores: np.ndarray
    stability: np.ndarray | None = None
    faces: np.ndarray | None = None

    @staticmethod
    def none(views: Views) -> "PartMasks":
        """No part: (0, V, H, W) masks and (0, V) scores."""
        return PartMasks(np.zeros((0,) + views.face_ids.shape, bool), np.zeros((0, views.num_views), np.float32))


class Segmenter:
    """Anything that turns one prompt per part into per-view masks.

    Attributes
    ----------
    name : str
        Short name for reports and status lines.
    needs_faces : bool
        True when the segmenter reads the mesh's faces (it cannot segment a point
        cloud); such a segmenter is given the mesh with :meth:`bind`.
    """

    name: str = "segmenter"
    needs_faces: bool = False

    def bind(self, geometry, profile=None) -> "Segmenter":
        """Work on `geometry` (a Mesh or a PointCloud) from now on, as `profile` (a
        `geosam2.profiles.Profile`; None: the segmenter's own) says; returns itself.
        Everything a segmenter keeps about a geometry starts afresh here (a session
        binds once, and again where the release starts a new run). Nothing to do by
        default; a segmenter that reads the geometry (`needs_faces`) reads it here,
        GeoSAM2 takes the profile's ``network``."""
        return self

    def segment(self, views: Views, prompts: Sequence[Prompt]) -> PartMasks:
        """Segment one part per prompt on all views of `views`."""
        raise NotImplementedError

    def report_to(self, steps: Steps) -> None:
        """Report the batches of the next calls to `steps` (`geosam2.segmenters.steps`) and
        stop between them once it is cancelled, raising `Cancelled` with what is finished;
        the automatic completion sets it around its calls. Nothing by default (a segmenter
        without batches of its own: the completion checks `steps` between its calls)."""

    def candidates(self, views: Views, prompt: Prompt) -> PartMasks:
        """Alternative answers to one prompt, best first (default: none)."""
        return PartMasks.none(views)

    def propose_prompts(self, views: Views, view: int, region: np.ndarray) -> list[Prompt] | None:
        """Automatic prompts for new parts inside the (H, W) bool `region` of `view`,
        or None when the segmenter has no proposals of its own (the default: the
        session then clicks in the region's uncovered pieces)."""
        return None

    def levels(self) -> np.ndarray | None:
        """(L, E) int32 part labels of the bound geometry per level of a hierarchy of parts,
        coarse to fine, or None when the segmenter has no hierarchy (the default)."""
        return None

    def complete(self, labels: np.ndarray, free: np.ndarray) -> np.ndarray | None:
        """Label the `free` faces directly in 3-D (automatic completion), or None when the
        segmenter cannot (the default: the session prompts views instead).

        Parameters
        ----------
        labels : (F,) int, the parts the free faces may join (-1 = none).
        free : (F,) bool, the faces to label.

        Returns
        -------
        (F,) int64: for each free face, the id of the part of `labels` it joins, or a
        new part id above every id of `labels` (faces sharing one make one new part),
        or -1 to leave it as it is; -1 outside `free`.
        """
        return None


class _Forwarding(Segmenter):
    """A Segmenter around a duck-typed one (any object with ``segment``, e.g. a wrapper
    that records calls): what it has of the protocol is forwarded, the rest takes the
    defaults above."""

    def __init__(self, inner):
        self.inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        self.needs_faces = getattr(inner, "needs_faces", False)

    def _forward(self, method: str, default, *args):
        own = getattr(self.inner, method, None)
        return default(*args) if own is None else own(*args)

    def bind(self, geometry, profile=None) -> "Segmenter":
        self._forward("bind", super().bind, geometry, profile)
        return self

    def segment(self, views: Views, prompts: Sequence[Prompt]) -> PartMasks:
        return self.inner.segment(views, prompts)

    def report_to(self, steps: Steps) -> None:
        self._forward("report_to", super().report_to, steps)

    def candidates(self, views: Views, prompt: Prompt) -> PartMasks:
        return self._forward("candidates", super().candidates, views, prompt)

    def propose_prompts(self, views: Views, view: int, region: np.ndarray) -> list[Prompt] | None:
        return self._forward("propose_prompts", super().propose_prompts, views, view, region)

    def complete(self, labels: np.ndarray, free: np.ndarray) -> np.ndarray | None:
        return self._forward("complete", super().complete, labels, free)


def as_segmenter(segmenter) -> Segmenter:
    """`segmenter` itself when it is a :class:`Segmenter`, else a Segmenter forwarding to
    it (a duck-typed object with a ``segment`` method): the one place where what a
    segmenter can do is looked up rather than declared."""
    return segmenter if isinstance(segmenter, Segmenter) else _Forwarding(segmenter)
