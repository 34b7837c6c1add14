"""The GeoSAM2 network on top of the `sam2` package: LoRA, fusion, build, checkpoints."""

from .build import build_geosam2, model_config
from .checkpoint import init_from_sam2, load_geosam2, resolve_checkpoint, save_geosam2
from .fusion import FeatureFusion
from .lora import LoRAQKV, add_lora, official_lora_config
from .network import GeoSAM2

__all__ = [
    "GeoSAM2",
    "build_geosam2",
    "model_config",
    "load_geosam2",
    "save_geosam2",
    "init_from_sam2",
    "resolve_checkpoint",
    "FeatureFusion",
    "LoRAQKV",
    "add_lora",
    "official_lora_config",
]
