"""GeoSAM2 network: official B+ layout, LoRA formula, fusion, checkpoints, SAM2.1 init."""

from __future__ import annotations

from pathlib import Path

import pytest
import sam2
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from geosam2.errors import GeoSAM2Error, WeightsNotFoundError
from geosam2.model import FeatureFusion, LoRAQKV, build_geosam2, init_from_sam2, load_geosam2, save_geosam2
from geosam2.model.checkpoint import infer_config, load_state_strict

ENCODERS = ("image_encoder", "pos_map_encoder")
SAM2_CONFIGS = Path(sam2.__file__).parent / "configs" / "sam2.1"


def plain_sam2(config: str, image_size: int | None = None):
    """Stock SAM2.1 (SAM2Base) from its packaged config, random weights."""
    cfg = OmegaConf.load(SAM2_CONFIGS / config).model
    if image_size is not None:
        cfg.image_size = image_size
    return instantiate(cfg, _recursive_=True).eval()


# --------------------------------------------------------------------------- official B+ layout


def official_shapes() -> dict[str, tuple]:
    """Encoder and fusion keys with the shapes the facts file gives, built from the facts:
    Hiera-B+ (embed 112, stages 2,3,16,3, transitions at blocks 2, 5, 21), rank-4 LoRA,
    neck convs 0..3, three 512->256 3x3 fusion convs."""
    d_in = [112] * 3 + [224] * 3 + [448] * 16 + [896] * 2  # input width of each block
    d_out = d_in[1:] + [896]  # a block's output width is the next block's input width
    shapes = {}
    for e in ENCODERS:
        t = f"{e}.trunk"
        shapes.update({f"{t}.patch_embed.proj.weight": (112, 3, 7, 7), f"{t}.patch_embed.proj.bias": (112,)})
        shapes.update({f"{t}.pos_embed": (1, 112, 14, 14), f"{t}.pos_embed_window": (1, 112, 8, 8)})
        for i in range(24):
            b, di, do = f"{t}.blocks.{i}", d_in[i], d_out[i]
            shapes.update({f"{b}.norm1.weight": (di,), f"{b}.norm1.bias": (di,)})
            shapes.update({f"{b}.attn.qkv.qkv.weight": (3 * do, di), f"{b}.attn.qkv.qkv.bias": (3 * do,)})
            for s in "qv":
                shapes.update({f"{b}.attn.qkv.linear_a_{s}.weight": (4, di), f"{b}.attn.qkv.linear_b_{s}.weight": (di, 4)})
            shapes.update({f"{b}.attn.proj.weight": (do, do), f"{b}.attn.proj.bias": (do,)})
            shapes.update({f"{b}.norm2.weight": (do,), f"{b}.norm2.bias": (do,)})
            shapes.update({f"{b}.mlp.layers.0.weight": (4 * do, do), f"{b}.mlp.layers.0.bias": (4 * do,)})
            shapes.update({f"{b}.mlp.layers.1.weight": (do, 4 * do), f"{b}.mlp.layers.1.bias": (do,)})
            if i in (2, 5, 21):
                shapes.update({f"{b}.proj.weight": (do, di), f"{b}.proj.bias": (do,)})
        for level, channels in enumerate((896, 448, 224, 112)):
            shapes.update({f"{e}.neck.convs.{level}.conv.weight": (256, channels, 1, 1), f"{e}.neck.convs.{level}.conv.bias": (256,)})
    for name in ("high", "mid", "low"):
        shapes.update({f"feature_fusion.fusion_{name}.weight": (256, 512, 3, 3), f"feature_fusion.fusion_{name}.bias": (256,)})
    return shapes


@pytest.fixture(scope="module")
def b_plus():
    return build_geosam2()  # the release's configuration, random weights


@pytest.fixture(scope="module")
def official_layout() -> dict[str, tuple]:
    """Every key of the official checkpoint with its shape: the encoders and fusion from
    the facts, all other keys stock SAM2.1-B+."""
    shapes = official_shapes()
    stock = plain_sam2("sam2.1_hiera_b+.yaml").state_dict()
    shapes.update({k: tuple(v.shape) for k, v in stock.items() if not k.startswith("image_encoder.")})
    assert shapes["maskmem_tpos_enc"] == (7, 1, 1, 64) and shapes["no_obj_embed_spatial"] == (1, 64)
    return shapes


def test_b_plus_has_about_154m_parameters(b_plus):
    count = sum(p.numel() for p in b_plus.parameters())
    assert 153.0e6 < count < 155.0e6, count


def test_b_plus_state_dict_is_exactly_the_official_layout(b_plus, official_layout):
    ours = {k: tuple(v.shape) for k, v in b_plus.state_dict().items()}
    assert sorted(ours.keys() - official_layout.keys()) == []
    assert sorted(official_layout.keys() - ours.keys()) == []
    assert {k: s for k, s in ours.items() if official_layout[k] != s} == {}


def test_synthetic_official_state_dict_lands_in_place(b_plus, official_layout):
    # a distinct constant per key: any tensor loaded under another name would show
    synthetic = {k: torch.full(shape, float(i)) for i, (k, shape) in enumerate(sorted(official_layout.items()))}
    load_state_strict(b_plus, synthetic, "synthetic")
    tensors = dict(b_plus.named_parameters()) | dict(b_plus.named_buffers())
    for key, value in synthetic.items():
        assert torch.equal(tensors[key], value), key
    lora = b_plus.pos_map_encoder.trunk.blocks[21].attn.qkv
    assert isinstance(lora, LoRAQKV)
    assert torch.equal(lora.linear_b_v.weight, synthetic["pos_map_encoder.trunk.blocks.21.attn.qkv.linear_b_v.weight"])
    assert torch.equal(b_plus.feature_fusion.fusion_low.bias, synthetic["feature_fusion.fusion_low.bias"])
    assert infer_config(synthetic) == {"variant": "base_plus", "image_size": 1024, "lora_rank": 4}


def test_strict_loading_names_missing_unexpected_and_reshaped_keys(b_plus):
    state = dict(b_plus.state_dict())
    state.pop("no_mem_embed")
    state["image_encoder.trunk.blocks.0.attn.qkv.weight"] = torch.zeros(1)  # SAM2's name, not ours
    state["feature_fusion.fusion_mid.bias"] = torch.zeros(3)
    with pytest.raises(GeoSAM2Error) as info:
        load_state_strict(b_plus, state, "test file")
    message = str(info.value)
    assert "1 missing (e.g. no_mem_embed)" in message
    assert "1 unexpected (e.g. image_encoder.trunk.blocks.0.attn.qkv.weight)" in message
    assert "1 with another shape (e.g. feature_fusion.fusion_mid.bias)" in message


# --------------------------------------------------------------------------- LoRA and fusion


@pytest.mark.parametrize("d_in, d_out", [(8, 8), (8, 16)])  # inside a stage; at a stage transition
def test_lora_forward_is_the_official_formula(d_in, d_out):
    torch.manual_seed(0)
    qkv = torch.nn.Linear(d_in, 3 * d_out)
    lora = LoRAQKV(qkv, rank=4)
    for layer in (lora.linear_b_q, lora.linear_b_v):
        torch.nn.init.normal_(layer.weight)
    x = torch.randn(2, 5, 5, d_in)
    a_q, b_q = lora.linear_a_q.weight, lora.linear_b_q.weight  # (4, d_in), (d_in, 4)
    a_v, b_v = lora.linear_a_v.weight, lora.linear_b_v.weight
    expected = x @ qkv.weight.T + qkv.bias
    expected[..., :d_in] += x @ a_q.T @ b_q.T  # unscaled delta on the first d_in outputs (Q)
    expected[..., -d_in:] += x @ a_v.T @ b_v.T  # and on the last d_in outputs (V); K untouched
    assert torch.allclose(lora(x), expected, atol=1e-5)
    assert torch.equal(lora(x)[..., d_out : 2 * d_out], qkv(x)[..., d_out : 2 * d_out])
    with torch.inference_mode():  # inference folds the deltas into the weight: same projection
        assert torch.allclose(lora(x), expected, atol=1e-5)


def test_fresh_lora_has_random_a_and_zero_b_on_every_block():
    model = build_geosam2("tiny", 128)
    for encoder in (model.image_encoder, model.pos_map_encoder):
        assert len(encoder.trunk.blocks) == 12
        for block in encoder.trunk.blocks:
            lora = block.attn.qkv
            assert isinstance(lora, LoRAQKV) and lora.scaling == 1.0
            assert lora.linear_a_q.weight.shape == (4, block.dim)
            assert lora.linear_a_q.weight.abs().sum() > 0 and lora.linear_a_v.weight.abs().sum() > 0
            assert not lora.linear_b_q.weight.any() and not lora.linear_b_v.weight.any()


def test_zero_fusion_returns_the_normal_features_and_weights_follow_the_formula():
    torch.manual_seed(0)
    fusion = FeatureFusion(channels=8)
    normal = [torch.randn(2, 8, s, s) for s in (16, 8, 4)]
    point = [torch.randn(2, 8, s, s) for s in (16, 8, 4)]
    for out, n in zip(fusion(normal, point), normal):
        assert torch.equal(out, n)
    conv = fusion.fusion_mid
    torch.nn.init.normal_(conv.weight)
    torch.nn.init.normal_(conv.bias)
    expected = normal[1] + torch.nn.functional.conv2d(torch.cat([normal[1], point[1]], 1), conv.weight, conv.bias, padding=1)
    assert torch.allclose(fusion(normal, point)[1], expected, atol=1e-5)


# --------------------------------------------------------------------------- SAM2.1 init: B = 0 is plain SAM2


@pytest.fixture(scope="module")
def sam2_tiny(tmp_path_factory):
    """A random stock SAM2.1-T and its checkpoint file."""
    torch.manual_seed(1)
    model = plain_sam2("sam2.1_hiera_t.yaml", image_size=128)
    path = tmp_path_factory.mktemp("sam2") / "sam2.1_hiera_tiny.pt"
    torch.save({"model": model.state_dict()}, path)
    return model, path


def test_init_from_sam2_copies_sam2_into_both_encoders_and_matches_its_features(sam2_tiny):
    plain, path = sam2_tiny
    model = init_from_sam2(path, variant="tiny", image_size=128)
    stock = plain.state_dict()
    ours = model.state_dict()
    for key, value in stock.items():
        if key.startswith("image_encoder."):
            renamed = key.replace(".attn.qkv.weight", ".attn.qkv.qkv.weight").replace(".attn.qkv.bias", ".attn.qkv.qkv.bias")
            for encoder in ENCODERS:
                assert torch.equal(ours[encoder + renamed[len("image_encoder") :]], value), key
        else:
            assert torch.equal(ours[key], value), key
    assert not any(v.any() for k, v in ours.items() if ".linear_b_" in k or k.startswith("feature_fusion."))
    torch.manual_seed(2)
    normals, points = torch.randn(2, 3, 128, 128), torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        expected = plain.image_encoder(normals)
        for encoder, x in ((model.image_encoder, normals), (model.pos_map_encoder, normals)):
            for a, b in zip(encoder(x)["backbone_fpn"], expected["backbone_fpn"]):
                assert torch.allclose(a, b, atol=1e-5)
        # with zero fusion the whole GeoSAM2 backbone is SAM2's on the normal map
        fused = model.forward_image(torch.cat([normals, points], 1))
        stock_out = plain.forward_image(normals)
    for a, b in zip(fused["backbone_fpn"], stock_out["backbone_fpn"]):
        assert torch.allclose(a, b, atol=1e-5)
    for a, b in zip(fused["vision_pos_enc"], stock_out["vision_pos_enc"]):
        assert torch.equal(a, b)


def test_init_from_sam2_rejects_another_variant(sam2_tiny):
    _, path = sam2_tiny
    with pytest.raises(GeoSAM2Error, match="with another shape"):
        init_from_sam2(path, variant="small", image_size=128)


# --------------------------------------------------------------------------- checkpoints


def test_offline_without_weights_is_a_clear_error_naming_both_ways(offline):
    with pytest.raises(WeightsNotFoundError) as info:
        load_geosam2()
    message = str(info.value)
    assert "GEOSAM2_CHECKPOINT" in message and "path" in message  # the local way
    assert "VAST-AI/GeoSAM2" in message and "Hugging Face Hub" in message  # the download way
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no hub traceback chained


def test_missing_local_checkpoint_is_a_clear_error(offline, tmp_path, monkeypatch):
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        load_geosam2(tmp_path / "nope.pt")
    monkeypatch.setenv("GEOSAM2_CHECKPOINT", str(tmp_path / "nope_either.pt"))
    with pytest.raises(WeightsNotFoundError, match="GEOSAM2_CHECKPOINT"):
        load_geosam2()
    with pytest.raises(WeightsNotFoundError, match="facebook/sam2.1-hiera-tiny"):
        init_from_sam2(variant="tiny")


def test_a_file_that_is_no_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("not a checkpoint")
    with pytest.raises(GeoSAM2Error, match="not a readable PyTorch checkpoint"):
        load_geosam2(path, device="cpu")
    torch.save({"state_dict": {}}, path)
    with pytest.raises(GeoSAM2Error, match="no 'model' state dict"):
        load_geosam2(path, device="cpu")


def test_save_then_load_is_bit_exact_and_keeps_the_configuration(tmp_path, monkeypatch):
    torch.manual_seed(3)
    model = build_geosam2("tiny", 128)
    with torch.no_grad():
        for p in model.parameters():  # LoRA B and fusion non-zero, as after training
            p.add_(torch.randn_like(p))
    path = tmp_path / "geosam2.pt"
    save_geosam2(model, path)
    assert set(torch.load(path, weights_only=True)) == {"model", "config"}
    monkeypatch.setenv("GEOSAM2_CHECKPOINT", str(path))
    loaded = load_geosam2(device="cpu")  # found through the environment
    assert loaded.image_size == 128 and len(loaded.image_encoder.trunk.blocks) == 12
    assert not loaded.training
    expected, actual = model.state_dict(), loaded.state_dict()
    assert expected.keys() == actual.keys()
    for key in expected:
        assert expected[key].dtype == actual[key].dtype and torch.equal(expected[key], actual[key]), key
    save_geosam2(loaded, tmp_path / "again.pt")
    again = torch.load(tmp_path / "again.pt", weights_only=True)["model"]
    assert all(torch.equal(again[k], expected[k]) for k in expected)


def test_a_checkpoint_without_config_is_read_as_the_release_layout(tmp_path):
    model = build_geosam2("tiny", 1024, lora_rank=2)
    path = tmp_path / "bare.pt"
    torch.save({"model": model.state_dict()}, path)  # as the release writes it
    loaded = load_geosam2(path, device="cpu")
    assert loaded.image_size == 1024 and loaded.lora_rank == 2 and loaded.geosam2_config["variant"] == "tiny"
