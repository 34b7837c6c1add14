"""Levels of the hierarchy of parts in use: the default level of segment everything, the
level matching the user's parts in the automatic completion, and the best-level score
of segment everything (PartField's protocol)."""

from __future__ import annotations

import numpy as np

from geosam2.evaluation.everything import HierarchyLevels, best_level_score
from geosam2.evaluation.readers import GroundTruth
from geosam2.geometry.levels import level_agreement, matching_level, region_owners
from geosam2.pipeline.session import Session
from geosam2.segmenters.geometry import GeometrySegmenter
from tests.test_boundaries import dumbbell, iou
from tests.helpers import pixel_of_face
from geosam2.segmenters.prompts import Prompt

RESOLUTION = 128


def best_ious(found: np.ndarray, parts: np.ndarray, areas: np.ndarray) -> list[float]:
    """Best IoU of each true part of (F,) `parts` with a part of (F,) `found`."""
    return [max(iou(parts == p, found == q, areas) for q in np.unique(found)) for p in np.unique(parts)]


def test_levels_run_coarse_to_fine_and_the_default_level_finds_the_three_parts():
    mesh, parts = dumbbell()
    segmenter = GeometrySegmenter(mesh)
    levels = segmenter.levels()
    counts = [len(np.unique(level)) for level in levels]
    assert levels.shape == (len(counts), mesh.num_faces) and counts[0] == 1 and (np.diff(counts) > 0).all()
    everything = Session(mesh, segmenter, resolution=RESOLUTION).segment_everything().labels
    assert len(np.unique(everything)) == 3  # the two balls and the neck: finer regions stand apart no more
    assert min(best_ious(everything, parts, mesh.face_areas)) > 0.8


def test_a_level_whose_regions_stand_apart_is_the_default_even_below_a_weak_coarser_cut():
    """Four superfaces in a row, joined by strong valleys (0 conductance) at the ends and a
    weak one (half conducting) in the middle: the 2-region level is cut at the weak one
    (contrast 0.5), the 4-region level stands apart (>= 0.875): it is the default."""
    import types

    import scipy.sparse as sp

    from geosam2.geometry.levels import STANDS_APART, default_level, region_contrast

    def chain(values):
        weights = sp.lil_matrix((4, 4))
        for k, value in enumerate(values):
            weights[k, k + 1] = weights[k + 1, k] = value
        return weights.tocsr()

    conductance, uniform = chain([0.0, 0.5, 0.0]), chain([3.0, 1.0, 3.0])
    levels = np.array([[0, 0, 0, 0], [0, 0, 1, 1], [0, 1, 2, 3]])
    hierarchy = types.SimpleNamespace(superface_levels=lambda: levels, roots=1)
    assert region_contrast(conductance, uniform, levels[1], 1).max() < STANDS_APART
    assert region_contrast(conductance, uniform, levels[2], 1).min() >= STANDS_APART
    assert default_level(hierarchy, conductance, uniform, np.ones(4, bool)) == 2
    assert default_level(hierarchy, uniform, uniform, np.ones(4, bool)) == 0  # no valley anywhere: whole


def test_the_generated_dragon_shows_its_parts_by_default():
    """The demo's generated example (one piece and a crumb; its body's first cut is weak):
    segment everything's default level has several parts, none half the surface."""
    from geosam2.io.mesh import load_mesh
    from tests.factories import REPO

    mesh = load_mesh(REPO / "assets" / "examples" / "generated" / "dragon.glb")
    segmenter = GeometrySegmenter(mesh)
    shown = segmenter.levels()[segmenter.level()]
    areas = np.bincount(shown, mesh.face_areas)
    assert len(areas) >= 5 and areas.max() < 0.5 * areas.sum()


def test_completion_after_one_click_labels_the_rest_at_the_clicked_scale():
    # the bug it replaces: on one smooth surface the whole rest joined the clicked part
    mesh, parts = dumbbell()
    session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
    view, x, y = pixel_of_face(session.views, np.flatnonzero(parts == 2))
    session.add_part(Prompt(view, points=[[x, y]]))
    labels = session.auto_complete().labels
    assert (labels >= 0).all() and len(np.unique(labels)) == 3
    assert min(best_ious(labels, parts, mesh.face_areas)) > 0.8


def test_the_level_matching_the_parts_is_chosen_and_regions_join_the_part_they_mostly_lie_in():
    areas = np.ones(6)
    levels = np.array([[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1], [0, 0, 1, 2, 3, 3]])
    labels = np.array([0, 0, 0, -1, 5, -1])  # part 0 is the first half; part 5 a sliver of the second
    agreement = level_agreement(levels, labels, areas)
    assert agreement[1] == agreement.max() and agreement[0] < agreement[1]
    assert matching_level(levels, labels, areas, preferred=2) == 1
    # exact ties: the level nearest the preferred one
    assert matching_level(np.array([levels[1], levels[1], levels[1]]), labels, areas, preferred=2) == 2
    assert region_owners(levels[1], labels, areas).tolist() == [0, -1]  # part 5 holds a third of region 1


def test_best_level_score_is_the_score_of_the_best_level():
    mesh, parts = dumbbell()
    gt = GroundTruth("dumbbell", mesh, parts.astype(np.int32))
    whole = np.zeros(mesh.num_faces, np.int64)
    assert best_level_score(gt, np.stack([whole, parts])) == 1.0
    assert best_level_score(gt, whole[None]) < 0.5
    levels = HierarchyLevels().predict(gt)
    assert levels.shape[1] == mesh.num_faces and best_level_score(gt, levels) > 0.8
