"""The release's filters of automatic parts after their propagation.

The official release (``inference.py:622-629``, ``inference_utils.py:186-291,
746-791``) propagates the parts its automatic mask generator found on one view
(the pass's view), then keeps a part only if all of these hold, in this order:

1. stability: on every view where its mask is not empty, the stability score of
   its view-resolution logits (`stability_score`, offset 0.7, after
   `opened_logits`) is at least 0.7 on the pass's view and 0.63 elsewhere;
2. area: no other view's mask has more pixels than the pass's view's (alpha = 1);
3. duplicates: in part order, its pass-view mask has IoU <= 0.8 with every
   earlier part kept in this pass, and not in (0.8, 1] with any part kept
   before (the prompted parts included).

Prompted parts go through none of this (the release's thresholds 0 and alpha
10000 for them keep everything).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

STABILITY_OFFSET = 0.7  # logit offset of the release's stability score (inference.py)
STABILITY_THRESH = 0.7  # on the pass's view
OTHER_VIEW_SLACK = 0.07  # the threshold is 0.63 on the other views
AREA_ALPHA = 1.0  # largest allowed area ratio other view / pass view
DUPLICATE_IOU = 0.8


def opened_logits(logits: np.ndarray) -> np.ndarray:
    """(H, W) float32 copy of `logits` where the pixels that a 5x5 opening (3
    erosions, 3 dilations, image border as foreground) removes from the mask
    ``logits > 0`` are set to +1024: the release's ``shrink_mask``, whose second
    assignment overrides its first, so the mask is unchanged and only the
    stability score moves."""
    mask = logits > 0
    square = np.ones((5, 5), bool)
    opened = ndimage.binary_dilation(ndimage.binary_erosion(mask, square, iterations=3, border_value=1), square, iterations=3)
    out = np.array(logits, np.float32, copy=True)
    out[mask & ~opened] = 1024.0
    return out


def stability_score(logits: np.ndarray, offset: float = STABILITY_OFFSET) -> float:
    """#(logits > offset) / #(logits > -offset) of (H, W) `logits` (SAM's stability
    score; NaN for a mask with no pixel above -offset)."""
    loose = int((logits > -offset).sum())
    return float((logits > offset).sum()) / loose if loose else float("nan")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """The release's IoU of two bool masks: intersection / (union + 1e-6)."""
    return float((a & b).sum()) / (float((a | b).sum()) + 1e-6)


def keep_automatic_parts(
    masks: np.ndarray,
    stability: np.ndarray,
    view: int,
    earlier: np.ndarray | None = None,
    stability_thresh: float = STABILITY_THRESH,
    alpha: float = AREA_ALPHA,
    max_iou: float = DUPLICATE_IOU,
) -> np.ndarray:
    """Which automatic parts of one generator pass the release keeps.

    Parameters
    ----------
    masks : (P, V, H, W) bool
        The pass's parts propagated over every view, in part order.
    stability : (P, V) float
        `stability_score` of each mask's `opened_logits`.
    view : int
        The pass's view (where the generator ran).
    earlier : (Q, H, W) bool, optional
        Masks on `view` of the parts kept before this pass (prompted ones included).
    stability_thresh, alpha, max_iou : float
        The release's 0.7 (0.07 less on other views), 1 and 0.8.

    Returns
    -------
    (P,) bool kept.
    """
    masks = np.asarray(masks, bool)
    num_parts, num_views = masks.shape[:2]
    thresholds = np.full(num_views, stability_thresh - OTHER_VIEW_SLACK)
    thresholds[view] = stability_thresh
    nonempty = masks.reshape(num_parts, num_views, -1).any(-1)
    stable = ~(nonempty & (np.asarray(stability) < thresholds)).any(1)
    areas = masks.reshape(num_parts, num_views, -1).sum(-1)
    small = (areas <= alpha * np.maximum(areas[:, [view]], 1e-6)).all(1)
    kept = stable & small
    accepted: list[int] = []
    for p in np.flatnonzero(kept):
        if any(_iou(masks[p, view], masks[q, view]) > max_iou for q in accepted):
            kept[p] = False
        else:
            accepted.append(p)
    for p in accepted:
        if earlier is not None and any(max_iou < _iou(masks[p, view], other) <= 1 for other in earlier):
            kept[p] = False
    return kept
