"""Segment everything without any prompt, scored by its best level and by its default level.

The geometry segmenter's hierarchy of parts offers levels from coarse to fine
(`GeometrySegmenter.levels`); PartField's protocol scores such a method by the level
that fits each object best (`geosam2.evaluation.metrics.protocol_miou`, "partfield"),
an oracle's choice. What a user sees is the default level (`GeometrySegmenter.level`,
the one rule `segment --auto` and the demo read), scored beside it (DEFAULT_LEVEL).
:class:`HierarchyLevels` is a method for `geosam2.evaluation.runner.run_evaluation`
(run it with ``protocol="partfield"``); `best_level_score` scores given levels.
"""

from __future__ import annotations

import numpy as np

from ..errors import GeoSAM2Error
from .readers import GroundTruth
from .runner import score

BEST_LEVEL = "partfield"  # the protocol that scores the best of several levels
DEFAULT_LEVEL = "default level (segment everything shows)"  # the name of its score in the reports


def best_level_score(gt: GroundTruth, levels: np.ndarray, weighting: str = "area") -> float:
    """Score in [0, 1] of (L, E) `levels` (part labels per level of gt's elements, -1 =
    none) on `gt`: the best level's class-agnostic mIoU under PartField's protocol."""
    return score(gt, np.atleast_2d(levels), weighting, BEST_LEVEL)


class HierarchyLevels:
    """Segment everything with a segmenter's hierarchy of parts, no prompt: predicts the
    (L, F) levels of each ground-truth mesh (``segmenter.levels()`` after binding it).

    Parameters
    ----------
    segmenter : a segmenter with ``bind(mesh)`` and ``levels()``, e.g. `GeometrySegmenter`
        (the default).
    """

    def __init__(self, segmenter=None):
        if segmenter is None:
            from ..segmenters.geometry import GeometrySegmenter

            segmenter = GeometrySegmenter()
        self.segmenter = segmenter
        self.name = f"{segmenter.name}-levels"

    def predict(self, gt: GroundTruth) -> np.ndarray:
        """(L, F) int32 part labels per level of gt's mesh, coarse to fine."""
        if gt.mesh is None:
            raise GeoSAM2Error(f"'{gt.uid}' is a point cloud: segmenting everything by levels needs a mesh.")
        return self.segmenter.bind(gt.mesh).levels()

    def extra_scores(self, gt: GroundTruth, levels: np.ndarray, weighting: str = "area") -> dict[str, float]:
        """{DEFAULT_LEVEL: score in [0, 1]} of the default level among (L, F) `levels`
        (`predict`'s of `gt`), by the same protocol as the best level's."""
        shown = self.segmenter.bind(gt.mesh).level()
        return {DEFAULT_LEVEL: best_level_score(gt, levels[shown][None], weighting)}
