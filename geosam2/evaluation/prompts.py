"""A simulated user: prompts from ground-truth parts, as in the paper's evaluation.

For a chosen view the user clicks once inside each ground-truth part that is
visible there, in the part's largest connected visible region, at the pixel
farthest from that region's boundary (Euclidean distance transform). Boxes
(the part's bounding box on the view) and negative clicks (inside the largest
other parts visible in the view) are optional.

The paper's protocol tries 4 candidate prompt views 90 degrees of azimuth apart
and keeps the best result (`candidate_views`), and completes automatically what
the prompt view cannot see, without looking at the ground truth: the session's
``auto_complete`` on the opposite view (see `geosam2.evaluation.policies`).
"""

from __future__ import annotations

import numpy as np

from ..segmenters.prompts import MIN_PROMPT_PIXELS, Prompt, interior_point
from ..render import Views


def view_masks(views: Views, labels: np.ndarray, num_parts: int | None = None, view: int | None = None) -> np.ndarray:
    """(P, V, H, W) bool masks of each part on the views ((P, H, W) on one `view`).

    Parameters
    ----------
    views : Views
    labels : (E,) int, part per element (face or point) in 0..P-1, -1 = unlabelled.
    num_parts : P; default max label + 1.
    view : int, optional; only that view.

    Returns
    -------
    masks[p] = pixels showing an element of part p.
    """
    labels = np.asarray(labels)
    num_parts = int(labels.max(initial=-1)) + 1 if num_parts is None else num_parts
    shown = views.pixel_labels(labels, view)
    return shown[None] == np.arange(num_parts).reshape((-1,) + (1,) * shown.ndim)


def bounding_box(mask: np.ndarray) -> np.ndarray:
    """(4,) float32 (x0, y0, x1, y1) pixel-edge box around the (H, W) `mask`'s pixels."""
    rows, cols = np.nonzero(mask)
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float32)


def simulate_prompts(
    masks: np.ndarray,
    view: int,
    min_pixels: int = MIN_PROMPT_PIXELS,
    box: bool = False,
    negative_clicks: int = 0,
) -> tuple[list[Prompt], np.ndarray]:
    """One prompt per ground-truth part visible on the prompt view.

    Parameters
    ----------
    masks : (P, H, W) bool, the ground-truth parts' masks on the prompt view.
    view : index of that view (stored in the prompts).
    min_pixels : parts with fewer visible pixels get no prompt.
    box : add the part's bounding box to its prompt.
    negative_clicks : add up to this many negative clicks, one inside each of the
        largest other parts visible on the view.

    Returns
    -------
    prompts : list of Prompt, one per prompted part.
    parts : (len(prompts),) int64, the ground-truth part of each prompt.
    """
    sizes = masks.reshape(len(masks), -1).sum(1)
    parts = np.flatnonzero(sizes >= min_pixels)
    by_size = parts[np.argsort(-sizes[parts], kind="stable")]
    prompts = []
    for p in parts:
        points = [interior_point(masks[p])]
        others = [q for q in by_size if q != p][:negative_clicks]
        points += [interior_point(masks[q]) for q in others]
        labels = [1] + [0] * len(others)
        prompts.append(Prompt(view, np.stack(points), np.array(labels), bounding_box(masks[p]) if box else None))
    return prompts, parts


def candidate_views(views: Views, count: int = 4, first: int = 0) -> list[int]:
    """`count` view indices whose azimuths are closest to first's + k * 360/count
    degrees (90 degrees apart for the paper's 4 candidates)."""
    azimuths = np.asarray(views.rig.azimuths_deg, np.float64)
    chosen = []
    for k in range(count):
        target = azimuths[first] + 360.0 * k / count
        gap = np.abs((azimuths - target + 180.0) % 360.0 - 180.0)
        chosen.append(int(np.argmin(gap)))
    return chosen
