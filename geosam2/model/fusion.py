"""Residual fusion of the point-map features into the normal-map features."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

LEVEL_NAMES = ("fusion_high", "fusion_mid", "fusion_low")  # FPN levels 0 (stride 4), 1 (8), 2 (16)


class FeatureFusion(nn.Module):
    """Per FPN level: ``out_i = normal_i + conv_i(concat[normal_i, point_i])``.

    Each conv_i is a zero-initialised ``Conv2d(2C, C, 3, padding=1)`` with bias, so a
    fresh fusion returns the normal-map features unchanged.

    Parameters
    ----------
    channels : int
        C, the FPN neck width (256 in SAM2).
    """

    def __init__(self, channels: int = 256):
        super().__init__()
        for name in LEVEL_NAMES:
            conv = nn.Conv2d(2 * channels, channels, kernel_size=3, padding=1, bias=True)
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
            self.add_module(name, conv)

    def forward(self, normal_fpn: Sequence[torch.Tensor], point_fpn: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Fuse three levels of (B, C, H_i, W_i) features; returns the three fused levels."""
        if not len(normal_fpn) == len(point_fpn) == len(LEVEL_NAMES):
            raise ValueError(f"FeatureFusion takes {len(LEVEL_NAMES)} FPN levels per encoder, got {len(normal_fpn)} and {len(point_fpn)}.")
        return [n + getattr(self, name)(torch.cat([n, p], dim=1)) for name, n, p in zip(LEVEL_NAMES, normal_fpn, point_fpn)]
