"""Segment everything without any prompt, scored by its best level.

The geometry segmenter's hierarchy of parts offers levels from coarse to fine
(`GeometrySegmenter.levels`, nested) and the level split as far as both halves of a
region stand apart (`geosam2.geometry.hierarchy.PartHierarchy.apart_level`);
PartField's protocol scores such a method by the level that fits each object best (`geosam2.evaluation.metrics.protocol_miou`, "partfield").
:class:`HierarchyLevels` is a method for `geosam2.evaluation.runner.run_evaluation`
(run it with ``protocol="partfield"``); `best_level_score` scores given levels.
"""

from __future__ import annotations

import numpy as np

from ..errors import GeoSAM2Error
from .readers import GroundTruth
from .runner import score

BEST_LEVEL = "partfield"  # the protocol that scores the best of several levels


def best_level_score(gt: GroundTruth, levels: np.ndarray, weighting: str = "area") -> float:
    """Score in [0, 1] of (L, E) `levels` (part labels per level of gt's elements, -1 =
    none) on `gt`: the best level's class-agnostic mIoU under PartField's protocol."""
    return score(gt, np.atleast_2d(levels), weighting, BEST_LEVEL)


class HierarchyLevels:
    """Segment everything with a segmenter's hierarchy of parts, no prompt: predicts the
    (L, F) levels of each ground-truth mesh (``segmenter.levels()`` after binding it,
    then ``segmenter.hierarchy().apart_level()``).

    Parameters
    ----------
    segmenter : a segmenter with ``bind(mesh)``, ``levels()`` and ``hierarchy()``,
        e.g. `GeometrySegmenter` (the default).
    """

    def __init__(self, segmenter=None):
        if segmenter is None:
            from ..segmenters.geometry import GeometrySegmenter

            segmenter = GeometrySegmenter()
        self.segmenter = segmenter
        self.name = f"{segmenter.name}-levels"

    def predict(self, gt: GroundTruth) -> np.ndarray:
        """(L + 1, F) int32 part labels per level of gt's mesh, coarse to fine, then
        the level whose regions all stand apart."""
        if gt.mesh is None:
            raise GeoSAM2Error(f"'{gt.uid}' is a point cloud: segmenting everything by levels needs a mesh.")
        segmenter = self.segmenter.bind(gt.mesh)
        return np.vstack([segmenter.levels(), segmenter.hierarchy().apart_level()[None]])
