"""Part colours: distinct opaque colours by part index, and the unlabelled grey."""

from __future__ import annotations

import colorsys

import numpy as np

UNLABELLED_COLOR = np.array([160, 160, 160, 255], np.uint8)  # RGBA of elements no part owns


def part_palette(num_parts: int) -> np.ndarray:
    """(P, 4) uint8 distinct opaque RGBA colours, hues spaced by the golden ratio."""
    rgb = [colorsys.hsv_to_rgb((p * 0.618033988749895) % 1.0, 0.75, 0.95) for p in range(num_parts)]
    rgb = np.round(np.reshape(rgb, (num_parts, 3)) * 255)
    return np.concatenate([rgb, np.full((num_parts, 1), 255)], axis=1).astype(np.uint8)
