"""Training: dataset sequences and prompts, SAM2 loss terms, trainable set, overfitting, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import trimesh

from geosam2.model import build_geosam2, load_geosam2, save_geosam2
from geosam2.training.curate import curate_directory
from geosam2.training.dataset import CuratedViews, frame_order, sample_prompt
from geosam2.training.loss import dice_loss, frame_loss, mask_iou, sigmoid_focal_loss
from geosam2.training.train import (
    TrainOptions, adapter_state, build_model, forward_sequence, freeze_for_finetuning, is_trainable_name, sequence_iou, split_objects, train,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see conftest

TINY = dict(variant="tiny", image_size=64)  # a small random configuration of the real architecture


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    """One curated object: a slab (part 0) with a ball on top (part 1)."""
    root = tmp_path_factory.mktemp("training")
    (root / "meshes").mkdir()
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box(extents=(1.0, 1.0, 0.3)), geom_name="slab")
    scene.add_geometry(trimesh.creation.icosphere(radius=0.3), geom_name="ball", transform=trimesh.transformations.translation_matrix((0, 0, 0.5)))
    scene.export(root / "meshes" / "slab_ball.glb")
    report = curate_directory(root / "meshes", root / "curated", preview_resolution=32)
    assert report["kept"] == ["slab_ball"]
    return root / "curated"


# --------------------------------------------------------------------------- dataset


def test_frame_order_duplicates_the_seed_and_goes_round_the_ring():
    assert frame_order(3, 5).tolist() == [3, 3, 4, 0, 1, 2]
    assert frame_order(0, 4).tolist() == [0, 0, 1, 2, 3]


def test_sequence_masks_are_the_part_on_each_frame_and_prompts_lie_inside(curated, tmp_path):
    data = CuratedViews(curated, resolution=48, num_views=4, cache_dir=tmp_path, samples_per_object=6, seed=1)
    for index in range(len(data)):
        sample = data[index]
        views, part_map = data.views("slab_ball")
        order = sample.views.numpy()
        assert order.tolist() == frame_order(order[0], 4).tolist()
        assert sample.normals.shape == sample.points.shape == (5, 3, 48, 48)
        assert np.array_equal(sample.masks.numpy(), part_map[order] == sample.part)
        assert torch.equal(sample.points[0], sample.points[1])  # the seed view twice
        prompt = sample.prompt
        assert prompt.view == order[0]
        seed_mask = sample.masks[0].numpy()
        if len(prompt.points):
            col, row = np.floor(prompt.points[0]).astype(int)
            assert seed_mask[row, col]
        if prompt.box is not None:
            rows, cols = np.nonzero(seed_mask)
            assert prompt.box.tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
    cached = list(tmp_path.glob("*.npz"))
    assert len(cached) == 1
    again = CuratedViews(curated, resolution=48, num_views=4, cache_dir=tmp_path, samples_per_object=6, seed=1)[2]
    first = data[2]
    assert torch.equal(again.normals, first.normals) and torch.equal(again.masks, first.masks)


def test_sample_prompt_kinds():
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:9] = True
    rng = np.random.default_rng(0)
    assert sample_prompt(mask, 1, "box", rng).box.tolist() == [3, 2, 9, 5]
    click = sample_prompt(mask, 1, "click", rng).points[0]
    assert 3 < click[0] < 9 and 2 < click[1] < 5 and (click % 1 == 0.5).all()
    assert np.array_equal(sample_prompt(mask, 1, "mask", rng).mask, mask)


def test_split_objects_is_a_partition():
    names = [f"o{i}" for i in range(10)]
    train, val = split_objects(names, 0.2, seed=3)
    assert len(val) == 2 and sorted(train + val) == names
    assert split_objects(names, 0.2, seed=3) == (train, val)
    assert [len(part) for part in split_objects(["a", "b"], 0.01)] == [1, 1]  # at least one held out
    assert split_objects(["a"], 0.5) == (["a"], [])


# --------------------------------------------------------------------------- loss


def test_focal_and_dice_against_hand_values():
    logits = torch.zeros(1, 1, 2, 2)
    targets = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    # p = 0.5 everywhere: ce = ln 2, (1 - p_t)^2 = 1/4, alpha_t = 0.25 (positive) or 0.75 (negative)
    expected = math.log(2) * 0.25 * (0.25 + 0.75) / 2
    assert sigmoid_focal_loss(logits, targets).item() == pytest.approx(expected, rel=1e-6)
    # dice: 2 * sum(p t) = 2, sum p + sum t = 4 -> 1 - 3 / 5
    assert dice_loss(logits, targets).item() == pytest.approx(0.4, rel=1e-6)
    assert mask_iou(torch.tensor([[[[5.0, -5.0], [5.0, -5.0]]]]), targets).item() == pytest.approx(1 / 3)


def test_frame_loss_supervises_the_best_candidate_and_ignores_absent_objects():
    target = torch.zeros(1, 8, 8, dtype=torch.bool)
    target[0, 2:6, 2:6] = True
    good = torch.where(target, 20.0, -20.0)
    bad = -good
    multimask = torch.stack([bad, good], dim=1)  # (1, 2, 8, 8)
    ious = torch.tensor([[0.0, 1.0]])
    terms = frame_loss(multimask, ious, torch.tensor([[10.0]]), target)
    assert terms["mask"].item() < 1e-6 and terms["dice"].item() < 1e-3
    assert terms["iou"].item() == pytest.approx(0.0, abs=1e-6)  # actual IoUs are 0 and 1
    wrong_ious = frame_loss(multimask, torch.tensor([[1.0, 0.0]]), torch.tensor([[10.0]]), target)["iou"]
    assert wrong_ious.item() == pytest.approx(1.0)
    empty = frame_loss(multimask, ious, torch.tensor([[10.0]]), torch.zeros_like(target))
    assert empty["mask"].item() == empty["dice"].item() == empty["iou"].item() == 0.0
    assert empty["object_score"].item() > 1.0  # a confident "present" is punished


def test_trainable_names_follow_the_official_key_layout():
    trained = [
        "image_encoder.trunk.blocks.3.attn.qkv.linear_a_q.weight",
        "pos_map_encoder.trunk.blocks.21.attn.qkv.linear_b_v.weight",
        "feature_fusion.fusion_high.weight",
        "feature_fusion.fusion_low.bias",
        "sam_mask_decoder.iou_prediction_head.layers.0.weight",
    ]
    frozen = [
        "image_encoder.trunk.blocks.3.attn.qkv.qkv.weight",
        "image_encoder.trunk.blocks.3.attn.proj.weight",
        "image_encoder.neck.convs.0.conv.weight",
        "sam_mask_decoder.pred_obj_score_head.layers.0.weight",
        "sam_mask_decoder.output_hypernetworks_mlps.0.layers.0.weight",
        "memory_attention.layers.0.linear1.weight",
    ]
    assert all(is_trainable_name(n) for n in trained)
    assert not any(is_trainable_name(n) for n in frozen)


# --------------------------------------------------------------------------- model


def test_trainable_set_is_exactly_lora_fusion_and_iou_head():
    model = build_geosam2(lora_rank=4, **TINY)
    counts = freeze_for_finetuning(model)
    lora = 0
    for encoder in (model.image_encoder, model.pos_map_encoder):
        for block in encoder.trunk.blocks:
            d_in = block.attn.qkv.qkv.in_features
            lora += 4 * 4 * d_in  # A_q, B_q, A_v, B_v: rank x d_in each
    fusion = 3 * (256 * 512 * 9 + 256)
    head = sum(p.numel() for p in model.sam_mask_decoder.iou_prediction_head.parameters())
    assert (counts["lora"], counts["fusion"], counts["iou_head"]) == (lora, fusion, head)
    assert counts["trainable"] == lora + fusion + head
    assert counts["trainable"] + counts["frozen"] == sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == counts["trainable"]


@pytest.fixture
def random_start(tmp_path):
    """A random tiny GeoSAM2 checkpoint whose (frozen) object-score head says "present":
    a random head calling the part absent would blank the masks, and their gradients."""
    torch.manual_seed(0)
    model = build_geosam2(**TINY)
    head = model.sam_mask_decoder.pred_obj_score_head.layers[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(10.0)
    save_geosam2(model, tmp_path / "start.pt")
    return tmp_path / "start.pt"


@pytest.mark.slow
def test_overfitting_raises_mask_iou_and_checkpoints_reload(curated, random_start, tmp_path):
    options = TrainOptions(
        epochs=1, batch_size=1, lr=1e-3, init="geosam2", init_checkpoint=str(random_start), val_split=0, num_views=1,
        prompt_types=("box",), samples_per_object=12, **TINY,
    )
    probe = CuratedViews(curated, resolution=TINY["image_size"], num_views=1, prompt_types=("box",), samples_per_object=4, seed=7, cache_dir=tmp_path / "probe")
    samples = [probe[i] for i in range(len(probe))]
    assert len({s.part for s in samples}) == 2  # both parts are probed

    def mean_iou(model) -> float:
        model.eval()
        return float(np.mean([sequence_iou(model, s, "cpu") for s in samples]))

    before = mean_iou(build_model(options, "cpu"))  # the same start as train()
    out = tmp_path / "run"
    history = train(curated, out, options, log=lambda *_: None)
    assert [h["epoch"] for h in history] == [0]
    reloaded = load_geosam2(out / "geosam2_last.pt", device="cpu")
    after = mean_iou(reloaded)
    assert after > before + 0.2, f"mask IoU before training {before:.3f}, after {after:.3f}"

    # the full checkpoint equals the start + the adapter file, output for output
    rebuilt = build_model(options, "cpu")
    state = torch.load(out / "adapter_last.pt", map_location="cpu", weights_only=False)
    rebuilt.load_state_dict(state["adapter"], strict=False)
    rebuilt.eval()
    with torch.no_grad():
        for a, b in zip(forward_sequence(reloaded, samples[0], "cpu"), forward_sequence(rebuilt, samples[0], "cpu")):
            for x, y in zip(a, b):
                assert torch.equal(x, y)

    # resuming continues at the next epoch with the stored options and optimizer
    resumed = train(curated, out, TrainOptions(epochs=2), resume=out / "adapter_last.pt", log=lambda *_: None)
    assert [h["epoch"] for h in resumed] == [0, 1]
    later = torch.load(out / "adapter_last.pt", map_location="cpu", weights_only=False)
    assert later["epoch"] == 1
    step_counts = {int(s["step"]) for s in later["optimizer"]["state"].values()}
    assert step_counts == {24}
    assert any(not torch.equal(later["adapter"][k], state["adapter"][k]) for k in state["adapter"])
    assert set(adapter_state(reloaded)) == set(state["adapter"])
