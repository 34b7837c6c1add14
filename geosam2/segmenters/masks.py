"""Connected regions of 2-D masks (8-connectivity, as SAM2's post-processing)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

EIGHT_CONNECTED = np.ones((3, 3), bool)


def small_regions(mask: np.ndarray, max_area: int) -> np.ndarray:
    """(H, W) bool pixels of the 8-connected regions of the (H, W) bool `mask` that
    have at most `max_area` pixels."""
    regions, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    small = np.bincount(regions.ravel(), minlength=count + 1) <= max_area
    small[0] = False  # the background of the labelling
    return small[regions]
