"""Multi-view propagation with a tiny random GeoSAM2: ring order, feature cache, batching, prompts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests.factories import make_box_mesh
from geosam2.errors import PromptError
from geosam2.io.mesh import from_arrays
from geosam2.model import build_geosam2
from geosam2.segmenters.geosam2 import GeoSAM2Segmenter, ViewFeatures, network_inputs, prompt_inputs, propagate, ring_order, seed_candidates
from geosam2.segmenters.prompts import Prompt
from geosam2.render import render_views
from geosam2.render.rig import official_rig

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see conftest

SIZE = 64  # view resolution and network input size (a multiple of 32)


@pytest.fixture(scope="module")
def model():
    """Hiera-T GeoSAM2 at 64 px with random weights; the object-score head always says
    "present" so that masks are the decoder's, not blanked as absent objects."""
    torch.manual_seed(0)
    model = build_geosam2("tiny", SIZE)
    head = model.sam_mask_decoder.pred_obj_score_head.layers[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(10.0)
    return model


@pytest.fixture(scope="module")
def views():
    """A slab with a cube on top, seen by the official 12-view rig at 64 px."""
    slab, cube = make_box_mesh((1.0, 0.8, 0.3)), make_box_mesh((0.4, 0.4, 0.4))
    vertices = np.concatenate([slab.vertices, cube.vertices + (0.0, 0.0, 0.35)])
    mesh = from_arrays(vertices, np.concatenate([slab.faces, cube.faces + len(slab.vertices)]))
    return render_views(mesh, official_rig(mesh.bbox_size, resolution=SIZE))


@pytest.fixture(scope="module")
def segmenter(model):
    return GeoSAM2Segmenter(model, profile="improved")  # the official profile: test_official_profile.py


def click(views, view: int, nth: int = 0) -> Prompt:
    """A positive click on the `nth` object pixel (row-major) of `view`."""
    row, column = np.argwhere(views.face_ids[view] >= 0)[nth]
    return Prompt(view, points=[[column + 0.5, row + 0.5]])


def upsampled(logits: torch.Tensor) -> np.ndarray:
    """(P, SIZE, SIZE) bool masks of (P, 1, h, w) low-res logits, as the segmenter upsamples."""
    return (torch.nn.functional.interpolate(logits, size=(SIZE, SIZE), mode="bilinear", align_corners=False)[:, 0] > 0).numpy()


# --------------------------------------------------------------------------- inputs


def test_ring_order_duplicates_the_seed_and_wraps():
    assert ring_order(4, 12) == [4, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3]
    assert ring_order(0, 12) == [0] + list(range(12))
    assert ring_order(11, 12) == [11, 11] + list(range(11))


def test_prompt_inputs_scale_points_put_box_corners_first_and_resize_masks():
    prompt = Prompt(2, points=[[10, 20], [30, 5]], labels=[1, 0], box=[4, 8, 12, 16])
    point_inputs, mask_inputs = prompt_inputs(prompt, resolution=64, image_size=128, device="cpu")
    assert point_inputs["point_coords"].tolist() == [[[8, 16], [24, 32], [20, 40], [60, 10]]]
    assert point_inputs["point_labels"].tolist() == [[2, 3, 1, 0]]
    assert mask_inputs is None
    mask = np.zeros((64, 64), bool)
    mask[8:24, 16:48] = True
    point_inputs, mask_inputs = prompt_inputs(Prompt(2, mask=mask), resolution=64, image_size=128, device="cpu")
    assert point_inputs is None and mask_inputs.shape == (1, 1, 128, 128)
    assert torch.equal(mask_inputs[0, 0].bool(), torch.from_numpy(mask.repeat(2, 0).repeat(2, 1)))


def test_network_inputs_resize_normals_smoothly_and_points_by_nearest_pixel(views):
    inputs = network_inputs(views, 2 * SIZE)
    assert inputs.shape == (12, 6, 2 * SIZE, 2 * SIZE) and inputs.dtype == torch.float32
    same = network_inputs(views, SIZE)
    assert torch.equal(inputs[:, 3:, ::2, ::2], same[:, 3:])  # every point is a rendered point
    assert torch.allclose(inputs[:, :3].mean(dim=(2, 3)), same[:, :3].mean(dim=(2, 3)), atol=1e-3)


# --------------------------------------------------------------------------- propagation


def test_click_gives_a_mask_on_every_view_with_the_seed_frame_processed_twice(model, views, segmenter, monkeypatch):
    seen_views, steps = [], []
    frame = ViewFeatures.frame
    track_step = model._track_step

    def spy_frame(self, model, view, batch):
        seen_views.append(view)
        return frame(self, model, view, batch)

    def spy_track_step(frame_idx, is_init_cond_frame, *args):
        steps.append((frame_idx, is_init_cond_frame, args[6]))  # args[6]: num_frames
        return track_step(frame_idx, is_init_cond_frame, *args)

    monkeypatch.setattr(ViewFeatures, "frame", spy_frame)
    monkeypatch.setattr(model, "_track_step", spy_track_step)
    prompt = click(views, 5, nth=40)
    result = segmenter.segment(views, [prompt])
    assert seen_views == [5, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4]
    assert steps == [(t, t == 0, 13) for t in range(13)]  # one conditioning frame, 13 logical frames
    assert result.masks.shape == (1, 12, SIZE, SIZE) and result.masks.dtype == bool
    assert result.scores.shape == (1, 12) and result.scores.dtype == np.float32
    assert ((result.scores > 0) & (result.scores <= 1)).all()  # every view got a tracked mask
    assert result.masks.any(axis=(2, 3)).sum() >= 6

    # the seed view's final mask is its re-prediction with memory (frame 1), not frame 0
    propagation = propagate(model, segmenter.features(views), [prompt], SIZE)
    assert propagation.frame_views == ring_order(5, 12)
    assert propagation.logits.shape == (13, 1, 1, SIZE // 4, SIZE // 4)
    assert not torch.equal(propagation.logits[0], propagation.logits[1])
    assert np.array_equal(result.masks[:, 5], upsampled(propagation.logits[1]))
    assert np.array_equal(result.masks[:, 6], upsampled(propagation.logits[2]))
    assert np.allclose(result.scores[:, 5], propagation.scores[1].numpy())


def test_features_are_encoded_once_per_views(model, views, monkeypatch):
    calls = {"image_encoder": 0, "pos_map_encoder": 0}
    for name in calls:
        encoder = getattr(model, name)

        def counted(x, forward=encoder.forward, name=name):
            calls[name] += len(x)
            return forward(x)

        monkeypatch.setattr(encoder, "forward", counted)
    segmenter = GeoSAM2Segmenter(model, encode_batch=5)
    segmenter.segment(views, [click(views, 0)])
    assert calls == {"image_encoder": 12, "pos_map_encoder": 12}
    second = segmenter.segment(views, [click(views, 3, nth=10), Prompt(8, box=[10, 10, 50, 40])])
    segmenter.candidates(views, click(views, 1))
    assert calls == {"image_encoder": 12, "pos_map_encoder": 12}  # the cache answered
    other = dataclasses.replace(views)  # new Views, same pixels: encoded anew, same answer
    again = segmenter.segment(other, [click(views, 3, nth=10), Prompt(8, box=[10, 10, 50, 40])])
    assert calls == {"image_encoder": 24, "pos_map_encoder": 24}
    assert np.array_equal(again.masks, second.masks) and np.allclose(again.scores, second.scores, atol=1e-6)


def test_parts_in_one_batch_match_each_part_alone(model, views, segmenter, monkeypatch):
    prompts = [click(views, 2, nth=30), Prompt(2, box=[8, 12, 40, 50]), click(views, 9, nth=5), click(views, 2, nth=200)]
    features = segmenter.features(views)
    together = propagate(model, features, [prompts[i] for i in (0, 1, 3)], SIZE)
    for k, i in enumerate((0, 1, 3)):
        alone = propagate(model, features, [prompts[i]], SIZE)
        assert torch.allclose(together.logits[:, k], alone.logits[:, 0], atol=1e-3), i
        assert torch.allclose(together.scores[:, k], alone.scores[:, 0], atol=1e-4), i
    # segment() groups by view and batches: the same masks as one call per prompt
    monkeypatch.setattr(segmenter, "max_batch", 2)
    result = segmenter.segment(views, prompts)  # view 2: a batch of 2, then 1; view 9: 1
    monkeypatch.setattr(segmenter, "max_batch", 1)
    for i, prompt in enumerate(prompts):
        single = segmenter.segment(views, [prompt])
        assert (result.masks[i] != single.masks[0]).mean() < 1e-3, i
        assert np.allclose(result.scores[i], single.scores[0], atol=1e-4), i


def test_mask_prompt_is_the_first_frame_and_negative_clicks_count(model, views, segmenter):
    features = segmenter.features(views)
    mask = np.zeros((SIZE, SIZE), bool)
    mask[16:40, 20:52] = True  # 4-pixel aligned: exactly cells 4:10 x 5:13 at 1/4 resolution
    propagation = propagate(model, features, [Prompt(7, mask=mask)], SIZE)
    expected = np.zeros((SIZE // 4, SIZE // 4), bool)
    expected[4:10, 5:13] = True
    assert np.array_equal(propagation.logits[0, 0, 0].numpy() > 0, expected)
    assert propagation.scores[0, 0] == 1.0
    result = segmenter.segment(views, [Prompt(7, mask=mask)])
    assert (result.scores > 0).all()

    positive = click(views, 7, nth=50)
    negative = Prompt(7, points=[positive.points[0], click(views, 7, nth=400).points[0]], labels=[1, 0])
    first = propagate(model, features, [positive], SIZE).logits[0]
    assert not torch.allclose(first, propagate(model, features, [negative], SIZE).logits[0])
    assert (segmenter.segment(views, [negative]).scores > 0).all()


@pytest.mark.parametrize(
    "prompt",
    [
        Prompt(12, points=[[10, 10]]),  # no view 12
        Prompt(-1, points=[[10, 10]]),
        Prompt(0, points=[[SIZE + 1, 10]]),  # right of the image
        Prompt(0, points=[[10, -0.5]]),  # above it
        Prompt(0, box=[10, 10, 20, SIZE + 3]),
        Prompt(0, mask=np.ones((SIZE, SIZE + 1), bool)),
    ],
)
def test_bad_prompts_are_prompt_errors(segmenter, views, prompt):
    with pytest.raises(PromptError):
        segmenter.segment(views, [click(views, 0), prompt])
    with pytest.raises(PromptError):
        segmenter.candidates(views, prompt)


# --------------------------------------------------------------------------- candidates


def test_a_click_gives_three_candidates_and_each_propagates_as_a_mask(model, views, segmenter):
    prompt = click(views, 4, nth=60)
    found = segmenter.candidates(views, prompt)
    assert found.masks.shape == (3, 12, SIZE, SIZE) and found.masks.dtype == bool
    assert found.scores.shape == (3, 12) and found.scores.dtype == np.float32
    seed_scores = found.scores[:, 4]
    assert np.isfinite(seed_scores).all() and ((seed_scores > 0) & (seed_scores <= 1)).all()
    others = np.arange(12) != 4
    assert not found.masks[:, others].any() and not found.scores[:, others].any()
    # the candidates are SAM2's multimask output: frame 0 of the propagation keeps the best
    logits, scores = seed_candidates(model, segmenter.features(views), prompt, SIZE)
    first = propagate(model, segmenter.features(views), [prompt], SIZE).logits[0]
    assert torch.allclose(logits[int(scores.argmax())], first[0], atol=1e-5)
    assert np.array_equal(found.masks[:, 4], upsampled(logits))
    for k in range(3):
        if found.masks[k, 4].any():
            result = segmenter.segment(views, [Prompt(4, mask=found.masks[k, 4])])
            assert result.masks.shape == (1, 12, SIZE, SIZE) and (result.scores > 0).all()
    box = segmenter.candidates(views, Prompt(4, box=[8, 8, 40, 40]))
    assert box.masks.shape == (1, 12, SIZE, SIZE)  # SAM2 answers a box with one mask
