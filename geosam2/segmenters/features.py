"""The network's inputs and the fused backbone features of every view of one `Views`
(computed once per `Views` and reused by every later prompt, `GeoSAM2Segmenter.features`).

Inputs are in-memory tensors of a rendered `Views`; bfloat16 autocast on CUDA,
float32 on the CPU.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..model import GeoSAM2
from ..model.encode import encode_normals, encode_points
from ..render import Views

__all__ = ["ViewFeatures", "autocast", "encode_views", "network_inputs"]


def autocast(device: torch.device):
    """bfloat16 autocast on CUDA, nothing (float32) elsewhere."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()


def network_inputs(views: Views, image_size: int) -> torch.Tensor:
    """(V, 6, S, S) float32 network input: normal map (channels 0-2) and point map (3-5).

    Views rendered at another size than S = `image_size` are resized: the normal
    input bilinearly (antialiased), the point map by nearest pixel (no blend of
    surface points with the background).
    """
    normals, points = encode_normals(views), encode_points(views)
    if views.resolution != image_size:
        size = (image_size, image_size)
        normals = F.interpolate(normals, size=size, mode="bilinear", align_corners=False, antialias=True)
        points = F.interpolate(points, size=size, mode="nearest-exact")
    return torch.cat([normals, points], dim=1)


@dataclass(frozen=True)
class ViewFeatures:
    """Fused backbone features of every view of one `Views`.

    Attributes
    ----------
    fpn : list of (V, C_l, h_l, w_l) tensors
        The three fused FPN levels (levels 0 and 1 through conv_s0 / conv_s1).
    pos : list of (1, C, h_l, w_l) tensors
        Positional encodings per level (the same for every view).
    """

    fpn: list
    pos: list

    @property
    def num_views(self) -> int:
        return self.fpn[0].shape[0]

    def frame(self, model: GeoSAM2, view: int, batch: int):
        """SAM2's flattened per-frame inputs of `view` for `batch` objects:
        (vision_feats, vision_pos_embeds, feat_sizes) as ``_prepare_backbone_features``."""
        backbone_out = {
            "backbone_fpn": [f[view : view + 1].expand(batch, -1, -1, -1) for f in self.fpn],
            "vision_pos_enc": [p.expand(batch, -1, -1, -1) for p in self.pos],
        }
        _, feats, pos, sizes = model._prepare_backbone_features(backbone_out)
        return feats, pos, sizes


def encode_views(model: GeoSAM2, views: Views, batch_size: int = 1) -> ViewFeatures:
    """Run both encoders and the fusion on every view, `batch_size` views at a time."""
    inputs = network_inputs(views, model.image_size)
    device = model.device
    outputs = []
    with torch.inference_mode(), autocast(device):
        for start in range(0, len(inputs), batch_size):
            outputs.append(model.forward_image(inputs[start : start + batch_size].to(device)))
    fpn = [torch.cat([out["backbone_fpn"][level] for out in outputs]) for level in range(len(outputs[0]["backbone_fpn"]))]
    return ViewFeatures(fpn, [p[:1] for p in outputs[0]["vision_pos_enc"]])
