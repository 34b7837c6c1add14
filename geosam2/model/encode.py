"""Views -> network input tensors, exactly as the official release feeds them."""

from __future__ import annotations

import numpy as np
import torch

from ..render import Views

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normal_image_uint8(views: Views) -> np.ndarray:
    """(V, H, W, 3) uint8 normal-map images: (n + 1) / 2 in 8 bits on a white background."""
    image = np.round((views.normals + 1.0) * 127.5).astype(np.uint8)
    image[~views.silhouette] = 255
    return image


def encode_normals(views: Views) -> torch.Tensor:
    """(V, 3, H, W) float32 normal-map input: 8-bit normal image / 255, ImageNet mean/std."""
    image = torch.from_numpy(normal_image_uint8(views)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (image - mean) / std


def encode_points(views: Views) -> torch.Tensor:
    """(V, 3, H, W) float32 point-map input: world XYZ in [-1, 1], 0 in background."""
    return torch.from_numpy(np.ascontiguousarray(views.points.transpose(0, 3, 1, 2))).float()
