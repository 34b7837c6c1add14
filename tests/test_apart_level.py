"""The level of the hierarchy of parts split as far as both halves stand apart, and the
boundary strength of every node of the merge tree it reads."""

from __future__ import annotations

import numpy as np

from geosam2.geometry.hierarchy import PartHierarchy
from geosam2.geometry.levels import STANDS_APART, region_contrast
from geosam2.segmenters.geometry import GeometrySegmenter
from tests.test_boundaries import dumbbell


def test_node_contrast_is_the_contrast_of_the_region_it_makes():
    mesh, _ = dumbbell(sections=32, rings=80)
    segmenter = GeometrySegmenter(mesh)
    hierarchy = segmenter.hierarchy()
    conductance, uniform = segmenter._superface_weights
    nodes = np.linspace(0, len(hierarchy.parent) - 2, 25).astype(int)  # leaves to near the root
    for node in nodes:
        region = hierarchy.members(int(node)).astype(np.int64)
        expected = region_contrast(conductance, uniform, region, hierarchy.roots)[1]
        assert abs(hierarchy.contrast[node] - expected) < 1e-9


def _four_superfaces(contrast) -> PartHierarchy:
    """Superfaces 0..3, one face each: node 4 = (0, 1) made first, 5 = (2, 3), 6 = (4, 5)."""
    parent = np.array([4, 4, 5, 5, 6, 6, -1])
    return PartHierarchy(np.arange(4, dtype=np.int32), parent, np.ones(7), np.arange(7.0), 1, np.zeros((0, 2), np.int64), np.array(contrast, float))


def test_regions_split_while_both_halves_stand_apart_which_no_count_of_regions_gives():
    strong, weak = (1.0 + STANDS_APART) / 2, STANDS_APART / 2
    hierarchy = _four_superfaces([strong, strong, strong, weak, strong, strong, 0.0])
    apart = hierarchy.apart_labels()
    assert apart.tolist() == [0, 1, 5, 5]  # node 5 stays whole: superface 3 does not stand apart
    assert [len(np.unique(hierarchy.node_labels(3)[:2])), len(np.unique(hierarchy.node_labels(3)[2:]))] == [1, 2]
    assert hierarchy.apart_level().tolist() == [0, 1, 2, 2]  # faces: one per superface
    assert hierarchy.apart_labels(threshold=weak).tolist() == [0, 1, 2, 3]
    assert _four_superfaces([strong] * 4 + [weak, strong, 0.0]).apart_labels().tolist() == [6, 6, 6, 6]
