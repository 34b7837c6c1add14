"""GeoSAM2 checkpoints in the official layout: find, load, save, and start from SAM2.1.

A checkpoint file is ``{"model": state_dict}`` as the release reads it
(``torch.load(path, weights_only=True)["model"]``). Ours also carry
``"config"`` (variant, image size, LoRA rank) so that small training
configurations reload as built; the release ignores that entry.
"""

from __future__ import annotations

import os
import pickle
import re
import socket
from pathlib import Path

import torch

from ..errors import GeoSAM2Error, WeightsNotFoundError
from .build import build_geosam2
from .network import GeoSAM2

HUB_REPO = "VAST-AI/GeoSAM2"
HUB_FILE = "geosam2.pt"
CHECKPOINT_ENV = "GEOSAM2_CHECKPOINT"
SAM2_HUB = {  # Hiera variant -> SAM2.1 hub repository and file
    "tiny": ("facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt"),
    "small": ("facebook/sam2.1-hiera-small", "sam2.1_hiera_small.pt"),
    "base_plus": ("facebook/sam2.1-hiera-base-plus", "sam2.1_hiera_base_plus.pt"),
    "large": ("facebook/sam2.1-hiera-large", "sam2.1_hiera_large.pt"),
}
HIERA_VARIANTS = {(96, 12): "tiny", (96, 16): "small", (112, 24): "base_plus", (144, 48): "large"}  # (embed dim, blocks)
ENCODERS = ("image_encoder", "pos_map_encoder")


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face Hub can be used: HF_HUB_OFFLINE is not set and a TCP
    connection to its endpoint (huggingface.co:443, or HF_ENDPOINT) opens within
    `timeout` seconds. Checked before a download, whose retries take ~30 s offline."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _hub_file(repo: str, filename: str, how_else: str) -> Path:
    """`filename` of Hub repo `repo`: the local huggingface_hub cache's copy, else a
    download when the Hub is reachable (see `hub_reachable`)."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(repo, filename)
    if isinstance(cached, str):
        return Path(cached)
    if not hub_reachable():
        raise WeightsNotFoundError(
            f"{filename} is not in the local cache and the Hugging Face Hub repository {repo} cannot be reached "
            f"(offline, or HF_HUB_OFFLINE set). {how_else}, or connect to the internet (with HF_HUB_OFFLINE unset) to download it."
        ) from None  # as below: no chained traceback for a user error
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename))
    except Exception as exc:  # hub errors, a lost connection: all mean "not available"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsNotFoundError(
            f"Could not get {filename} from the Hugging Face Hub repository {repo} ({type(exc).__name__}: {reason}). "
            f"{how_else}, or connect to the internet (with HF_HUB_OFFLINE unset) to download it."
        ) from None


def _local_file(path: str | os.PathLike, source: str) -> Path:
    """`path` as an existing file, else WeightsNotFoundError naming where it came from."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"Checkpoint '{path}' ({source}) does not exist: give the path of a downloaded {HUB_FILE}.")
    return path


def resolve_checkpoint(checkpoint: str | os.PathLike | None = None) -> Path:
    """The GeoSAM2 checkpoint file to load.

    `checkpoint` if given, else the GEOSAM2_CHECKPOINT environment variable, else
    ``geosam2.pt`` of VAST-AI/GeoSAM2 from the Hugging Face Hub (cached by
    huggingface_hub). Raises WeightsNotFoundError naming both ways when none works.
    """
    if checkpoint:
        return _local_file(checkpoint, "given checkpoint")
    if os.environ.get(CHECKPOINT_ENV):
        return _local_file(os.environ[CHECKPOINT_ENV], f"from {CHECKPOINT_ENV}")
    return _hub_file(HUB_REPO, HUB_FILE, f"Give a local GeoSAM2 checkpoint (a path argument or {CHECKPOINT_ENV}=/path/to/{HUB_FILE})")


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
        path = _local_file(checkpoint, "SAM2.1 checkpoint")
    else:
        repo, filename = SAM2_HUB[variant]
        path = _hub_file(repo, filename, "Give a local SAM2.1 checkpoint (--init-checkpoint /path/to/" + filename + ")")
    model = build_geosam2(variant, image_size, lora_rank)
    state = geosam2_state_from_sam2(read_checkpoint(path)["model"])
    fresh = {k: v for k, v in model.state_dict().items() if ".linear_a_" in k or ".linear_b_" in k or k.startswith("feature_fusion.")}
    load_state_strict(model, {**state, **fresh}, f"SAM2.1 checkpoint '{path}'")
    return model
