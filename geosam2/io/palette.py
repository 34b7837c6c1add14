"""Part colours: distinct opaque colours by part index, and the unlabelled grey."""

from __future__ import annotations

import colorsys

import numpy as np

UNLABELLED_COLOR = np.array([160, 160, 160, 255], np.uint8)  # RGBA of elements no part owns


def palette_color(index: int) -> np.ndarray:
    """(4,) uint8 opaque RGBA colour `index` of the palette: hues spaced by the golden ratio."""
    rgb = np.round(np.array(colorsys.hsv_to_rgb((index * 0.618033988749895) % 1.0, 0.75, 0.95)) * 255)
    return np.r_[rgb, 255].astype(np.uint8)


def part_palette(num_parts: int) -> np.ndarray:
    """(P, 4) uint8 distinct opaque RGBA colours, the first `num_parts` of the palette."""
    return np.array([palette_color(p) for p in range(num_parts)], np.uint8).reshape(num_parts, 4)
