"""Part colours: opaque colours by part index, each as far as possible from the earlier
ones in CIELAB (what the eye tells apart), and the unlabelled grey.

Colour k is the sRGB grid colour farthest (the least CIELAB distance to them the
largest) from colours 0..k-1 and from the colours a part must not be taken for:
the unlabelled grey, the white background, black. So any two of the first few
parts differ strongly wherever they lie (neighbours included): the first 8 are
more than 60 apart, the first 16 more than 40 (a just noticeable difference is
about 2.3).
"""

from __future__ import annotations

import functools

import numpy as np

UNLABELLED_COLOR = np.array([160, 160, 160, 255], np.uint8)  # RGBA of elements no part owns
PALETTE_SIZE = 512  # distinct colours; index k and k + PALETTE_SIZE share one
GRID_LEVELS = 16  # sRGB values per channel the colours are chosen among
LIGHTNESS = (40.0, 92.0)  # CIELAB L* of the colours: dark ones hide the shading, pale ones look unlabelled
AVOIDED = ((160, 160, 160), (255, 255, 255), (0, 0, 0))  # unlabelled grey, background, black
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])
_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])


def cielab(rgb) -> np.ndarray:
    """(..., 3) float64 CIELAB (D65) of (..., 3) sRGB colours 0-255 (any extra alpha ignored)."""
    c = np.asarray(rgb, np.float64)[..., :3] / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ.T / _D65_WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


@functools.lru_cache(maxsize=1)
def _palette() -> np.ndarray:
    """(PALETTE_SIZE, 4) uint8 RGBA: the greedy farthest-point sequence described above."""
    levels = np.linspace(0, 255, GRID_LEVELS).round()
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    lab = cielab(grid)
    kept = (lab[:, 0] >= LIGHTNESS[0]) & (lab[:, 0] <= LIGHTNESS[1])
    grid, lab = grid[kept], lab[kept]
    nearest = np.min(np.linalg.norm(lab[:, None] - cielab(AVOIDED)[None], axis=2), axis=1)
    chosen = []
    for _ in range(PALETTE_SIZE):
        best = int(np.argmax(nearest))
        chosen.append(best)
        nearest = np.minimum(nearest, np.linalg.norm(lab - lab[best], axis=1))
    return np.c_[grid[chosen], np.full(PALETTE_SIZE, 255)].astype(np.uint8)


def palette_color(index: int) -> np.ndarray:
    """(4,) uint8 opaque RGBA colour `index` of the palette (distinct for the first PALETTE_SIZE)."""
    return _palette()[index % PALETTE_SIZE].copy()


def part_palette(num_parts: int) -> np.ndarray:
    """(P, 4) uint8 distinct opaque RGBA colours, the first `num_parts` of the palette."""
    return np.array([palette_color(p) for p in range(num_parts)], np.uint8).reshape(num_parts, 4)
