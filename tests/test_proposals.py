"""Automatic proposals on one view (opposite-view completion) with a tiny random GeoSAM2."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from geosam2.io.mesh import load_mesh
from geosam2.model import build_geosam2
from geosam2.segmenters.geosam2 import encode_views
from geosam2.segmenters.proposals import ProposalSettings, propose_masks, proposed_prompts, remove_small_regions
from geosam2.render import render_views
from tests.factories import REPO

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see conftest

# Random weights give logits near 0 and predicted IoUs near 0.5: thresholds that keep them.
PERMISSIVE = ProposalSettings(max_points=96, pred_iou_thresh=0.0, stability_thresh=0.0, stability_offset=0.0, box_nms_thresh=1.0, dedup_iou=1.01, min_region=4)


@pytest.fixture(scope="module")
def network():
    """Tiny random GeoSAM2 whose object-score head always says "present"
    (random weights otherwise blank every mask)."""
    torch.manual_seed(0)
    model = build_geosam2("tiny", 128)
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(10.0)
    views = render_views(load_mesh(REPO / "assets" / "examples" / "chair.glb"), resolution=128)
    return model, views, encode_views(model, views)


def test_remove_small_regions_clears_small_islands_and_fills_small_holes():
    mask = np.zeros((40, 40), bool)
    mask[5:25, 5:25] = True  # a 400-pixel blob
    mask[10:12, 10:12] = False  # with a 4-pixel hole
    mask[30:33, 30:33] = True  # a 9-pixel island
    mask[30:34, 2:6] = True  # a 16-pixel island
    cleaned = remove_small_regions(mask, 10)
    expected = mask.copy()
    expected[10:12, 10:12] = True
    expected[30:33, 30:33] = False
    np.testing.assert_array_equal(cleaned, expected)


def test_proposals_are_distinct_clean_masks_by_decreasing_score(network):
    model, views, features = network
    region = views.silhouette[6]
    settings = replace(PERMISSIVE, dedup_iou=0.5, box_nms_thresh=0.9, min_region=25)
    masks, scores, _ = propose_masks(model, features, 6, region, settings)
    assert masks.dtype == bool and masks.shape[1:] == region.shape and len(masks) == len(scores) > 1
    assert np.all(np.diff(scores) <= 1e-6)
    flat = masks.reshape(len(masks), -1).astype(np.float64)
    inter = flat @ flat.T
    iou = inter / (flat.sum(1)[:, None] + flat.sum(1)[None] - inter)
    np.fill_diagonal(iou, 0)
    # dedup runs on the low-res masks: at the view's resolution IoUs may drift a little
    assert iou.max() < 0.6, iou.max()
    for mask in masks:
        np.testing.assert_array_equal(remove_small_regions(mask, 25), mask)


def test_thresholds_filter_and_empty_regions_propose_nothing(network):
    model, views, features = network
    assert len(propose_masks(model, features, 6, np.zeros_like(views.silhouette[6]), PERMISSIVE)[0]) == 0
    strict = replace(PERMISSIVE, pred_iou_thresh=1.01)
    assert len(propose_masks(model, features, 6, views.silhouette[6], strict)[0]) == 0
    loose = propose_masks(model, features, 6, views.silhouette[6], PERMISSIVE)[0]
    fewer = propose_masks(model, features, 6, views.silhouette[6], replace(PERMISSIVE, dedup_iou=0.3))[0]
    assert 0 < len(fewer) < len(loose)


def test_proposed_prompts_click_inside_their_masks(network):
    model, views, features = network
    masks, _, _ = propose_masks(model, features, 3, views.silhouette[3], PERMISSIVE)
    prompts = proposed_prompts(model, features, 3, views.silhouette[3], PERMISSIVE)
    assert len(prompts) == len(masks) > 0
    for prompt, mask in zip(prompts, masks):
        assert prompt.view == 3 and prompt.labels.tolist() == [1]
        x, y = prompt.points[0]
        assert mask[int(y), int(x)]


def test_session_auto_complete_with_the_network_labels_every_face(network):
    from geosam2.segmenters.geosam2 import GeoSAM2Segmenter
    from geosam2.pipeline.session import Session

    model, views, _ = network
    mesh = load_mesh(REPO / "assets" / "examples" / "chair.glb")
    segmenter = GeoSAM2Segmenter(model, profile="improved")
    settings = replace(PERMISSIVE, max_points=4, dedup_iou=0.5)
    asked = []

    def propose(views, view, region):
        asked.append(view)
        return GeoSAM2Segmenter.propose_prompts(segmenter, views, view, region, settings)

    segmenter.propose_prompts = propose
    session = Session(mesh, segmenter, views=views)
    update = session.auto_complete()
    assert asked == [6]  # the view opposite view 0 (nothing prompted yet)
    assert (update.labels >= 0).all() and len(update.parts) >= 2
    assert {p.id for p in update.parts} == set(np.unique(update.labels).tolist())
