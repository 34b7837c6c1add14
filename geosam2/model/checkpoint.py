"""GeoSAM2 checkpoints in the official layout: load, save, and start from SAM2.1
(where the file is: `geosam2.io.weights`).

A checkpoint file is ``{"model": state_dict}`` as the release reads it
(``torch.load(path, weights_only=True)["model"]``). Ours also carry
``"config"`` (variant, image size, LoRA rank) so that small training
configurations reload as built; the release ignores that entry.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import torch

from ..errors import GeoSAM2Error
from ..io.weights import hub_file, local_file, resolve_checkpoint
from .build import build_geosam2
from .network import GeoSAM2

SAM2_HUB = {  # Hiera variant -> SAM2.1 hub repository and file
    "tiny": ("facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt"),
    "small": ("facebook/sam2.1-hiera-small", "sam2.1_hiera_small.pt"),
    "base_plus": ("facebook/sam2.1-hiera-base-plus", "sam2.1_hiera_base_plus.pt"),
    "large": ("facebook/sam2.1-hiera-large", "sam2.1_hiera_large.pt"),
}
HIERA_VARIANTS = {(96, 12): "tiny", (96, 16): "small", (112, 24): "base_plus", (144, 48): "large"}  # (embed dim, blocks)
ENCODERS = ("image_encoder", "pos_map_encoder")


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The content of a checkpoint file: a dict with a "model" state dict."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        raise GeoSAM2Error(f"'{path}' is not a readable PyTorch checkpoint ({exc}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise GeoSAM2Error(f"'{path}' holds no 'model' state dict: it is not a GeoSAM2 / SAM2 checkpoint.")
    return data


def infer_config(state: dict) -> dict:
    """Build arguments of the network a state dict fits: Hiera variant and LoRA rank
    from tensor shapes; the image size is the release's 1024 (not in the weights)."""
    try:
        embed_dim = state["image_encoder.trunk.pos_embed"].shape[1]
        rank = state["image_encoder.trunk.blocks.0.attn.qkv.linear_a_q.weight"].shape[0]
    except KeyError as exc:
        raise GeoSAM2Error(f"The checkpoint lacks {exc}: it is not in the GeoSAM2 layout.") from None
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"image_encoder\.trunk\.blocks\.(\d+)\.", k))}
    variant = HIERA_VARIANTS.get((embed_dim, len(blocks)))
    if variant is None:
        raise GeoSAM2Error(f"The checkpoint's Hiera (embed dim {embed_dim}, {len(blocks)} blocks) is none of {', '.join(HIERA_VARIANTS.values())}.")
    return {"variant": variant, "image_size": 1024, "lora_rank": rank}


def load_state_strict(model: torch.nn.Module, state: dict, source: str) -> None:
    """Load `state` into `model` with every key accounted for, both ways.

    Raises GeoSAM2Error listing missing, unexpected and reshaped keys instead of
    loading a part of the weights.
    """
    expected = model.state_dict()
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    reshaped = sorted(k for k in expected.keys() & state.keys() if tuple(expected[k].shape) != tuple(state[k].shape))
    if missing or unexpected or reshaped:
        problems = [f"{len(keys)} {what} (e.g. {keys[0]})" for what, keys in (("missing", missing), ("unexpected", unexpected), ("with another shape", reshaped)) if keys]
        raise GeoSAM2Error(f"{source} does not fit the network: {', '.join(problems)} keys.")
    model.load_state_dict(state, strict=True)


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_geosam2(checkpoint: str | os.PathLike | None = None, device: str | torch.device | None = None) -> GeoSAM2:
    """The GeoSAM2 network with its weights, in eval mode.

    Parameters
    ----------
    checkpoint : path, optional
        A local checkpoint; else GEOSAM2_CHECKPOINT; else downloaded from the Hub
        (see `resolve_checkpoint`). The file is read once.
    device : optional
        Default: CUDA when available, else the CPU.
    """
    path = resolve_checkpoint(checkpoint)
    data = read_checkpoint(path)
    config = data.get("config") or infer_config(data["model"])
    model = build_geosam2(config["variant"], config["image_size"], config["lora_rank"], **config.get("overrides", {}))
    load_state_strict(model, data["model"], f"Checkpoint '{path}'")
    return model.to(device or _default_device()).eval()


def save_geosam2(model: GeoSAM2, path: str | os.PathLike) -> None:
    """Write `model` as ``{"model": state_dict, "config": build arguments}`` (the
    official key layout; `load_geosam2` and the release both read it)."""
    torch.save({"model": model.state_dict(), "config": model.geosam2_config}, path)


def geosam2_state_from_sam2(sam2_state: dict) -> dict:
    """A SAM2.1 state dict renamed into GeoSAM2's layout: the image encoder copied
    into both encoders (qkv linears under ``attn.qkv.qkv``); no LoRA or fusion keys."""
    state = {}
    for key, value in sam2_state.items():
        if key.startswith("image_encoder."):
            key = re.sub(r"\.attn\.qkv\.(weight|bias)$", r".attn.qkv.qkv.\1", key)
            for encoder in ENCODERS:
                state[encoder + key[len("image_encoder") :]] = value.clone()
        else:
            state[key] = value
    return state


def init_from_sam2(
    checkpoint: str | os.PathLike | None = None, variant: str = "base_plus", image_size: int = 1024, lora_rank: int = 4
) -> GeoSAM2:
    """A fresh GeoSAM2 for training: SAM2.1 weights everywhere, both encoders copied
    from SAM2's image encoder, LoRA A random (B = 0) and zero fusion convs, so it
    segments exactly as SAM2.1 on the normal maps.

    Parameters
    ----------
    checkpoint : path, optional
        A local SAM2.1 checkpoint of `variant`; default: downloaded from
        facebook/sam2.1-hiera-<variant> on the Hub.
    variant, image_size, lora_rank : see `build_geosam2`.
    """
    if checkpoint:
        path = local_file(checkpoint, "SAM2.1 checkpoint")
    else:
        repo, filename = SAM2_HUB[variant]
        path = hub_file(repo, filename, "Give a local SAM2.1 checkpoint (--init-checkpoint /path/to/" + filename + ")")
    model = build_geosam2(variant, image_size, lora_rank)
    state = geosam2_state_from_sam2(read_checkpoint(path)["model"])
    fresh = {k: v for k, v in model.state_dict().items() if ".linear_a_" in k or ".linear_b_" in k or k.startswith("feature_fusion.")}
    load_state_strict(model, {**state, **fresh}, f"SAM2.1 checkpoint '{path}'")
    return model
