"""Build GeoSAM2 from the packaged SAM2.1 hydra configs plus our overrides."""

from __future__ import annotations

import copy
from pathlib import Path

import sam2
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from .network import GeoSAM2

SAM2_CONFIGS = {  # Hiera variant -> packaged SAM2.1 config
    "tiny": "sam2.1_hiera_t.yaml",
    "small": "sam2.1_hiera_s.yaml",
    "base_plus": "sam2.1_hiera_b+.yaml",
    "large": "sam2.1_hiera_l.yaml",
}

# The release's video-predictor settings (sam2.build_sam's post-processing overrides).
PREDICTOR_SETTINGS = {
    "sam_mask_decoder_extra_args": {
        "dynamic_multimask_via_stability": True,
        "dynamic_multimask_stability_delta": 0.05,
        "dynamic_multimask_stability_thresh": 0.98,
    },
    "binarize_mask_from_pts_for_mem_enc": True,
    "fill_hole_area": 8,
}


def model_config(variant: str = "base_plus", image_size: int = 1024, lora_rank: int = 4, **overrides) -> DictConfig:
    """The hydra model config of GeoSAM2.

    The packaged SAM2.1 config of `variant`, loaded with OmegaConf (not hydra's
    `compose`, whose search path covers only the sam2 package), with: our class as
    target, a second copy of the image encoder as ``pos_map_encoder``, the LoRA
    rank, the image size (and the memory attention's RoPE grid, image_size / 16),
    the release's predictor settings, then `overrides` (dotted config keys, e.g.
    ``{"num_maskmem": 7}``).
    """
    if variant not in SAM2_CONFIGS:
        raise ValueError(f"Unknown Hiera variant '{variant}': choose one of {', '.join(SAM2_CONFIGS)}.")
    if image_size <= 0 or image_size % 32:
        raise ValueError(f"image_size must be a positive multiple of 32 (Hiera's coarsest stride), got {image_size}.")
    path = Path(sam2.__file__).parent / "configs" / "sam2.1" / SAM2_CONFIGS[variant]
    cfg = OmegaConf.load(path).model
    cfg._target_ = f"{GeoSAM2.__module__}.{GeoSAM2.__qualname__}"
    cfg.pos_map_encoder = copy.deepcopy(cfg.image_encoder)
    cfg.lora_rank = lora_rank
    cfg.image_size = image_size
    for attention in ("self_attention", "cross_attention"):
        cfg.memory_attention.layer[attention].feat_sizes = [image_size // 16, image_size // 16]
    cfg = OmegaConf.merge(cfg, PREDICTOR_SETTINGS)
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


def build_geosam2(variant: str = "base_plus", image_size: int = 1024, lora_rank: int = 4, **overrides) -> GeoSAM2:
    """A GeoSAM2 network with freshly initialised weights, in eval mode, on the CPU.

    Parameters
    ----------
    variant : str
        Hiera size: "tiny", "small", "base_plus" (the release) or "large".
    image_size : int
        Network input size S in pixels (1024 in the release; a multiple of 32).
    lora_rank : int
        LoRA rank (4 in the release).
    **overrides
        Further model-config values by dotted key (see `model_config`).

    The build arguments are kept as ``model.geosam2_config`` (saved with checkpoints).
    """
    cfg = model_config(variant, image_size, lora_rank, **overrides)
    OmegaConf.resolve(cfg)
    model = instantiate(cfg, _recursive_=True)
    model.geosam2_config = {"variant": variant, "image_size": image_size, "lora_rank": lora_rank, "overrides": dict(overrides)}
    return model.eval()
