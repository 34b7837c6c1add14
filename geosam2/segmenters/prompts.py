"""Prompts a user gives on one rendered view: clicks, a box, or a mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import PromptError

MIN_PROMPT_PIXELS = 16  # a region (part) showing fewer pixels on a view gets no automatic (simulated) click
MAX_AUTO_PROMPTS = 16  # most automatic clicks in one completion of a view


@dataclass(frozen=True)
class Prompt:
    """A prompt for one part, given on one view.

    Attributes
    ----------
    view : int
        Index of the prompted view in the rig.
    points : (N, 2) float32
        Click positions in pixels, (x, y) = (column, row) of the view image,
        pixel centres at integer + 0.5. May be empty.
    labels : (N,) int32
        1 for a positive click, 0 for a negative one.
    box : (4,) float32 or None
        (x0, y0, x1, y1) in pixels, x0 <= x1, y0 <= y1.
    mask : (H, W) bool or None
        A mask prompt on the view.
    """

    view: int
    points: np.ndarray = None  # type: ignore[assignment]
    labels: np.ndarray = None  # type: ignore[assignment]
    box: np.ndarray | None = None
    mask: np.ndarray | None = None

    def __post_init__(self):
        points = np.zeros((0, 2), np.float32) if self.points is None else np.asarray(self.points, np.float32).reshape(-1, 2)
        labels = np.ones(len(points), np.int32) if self.labels is None else np.asarray(self.labels, np.int32).reshape(-1)
        if len(labels) != len(points):
            raise PromptError(f"{len(points)} clicks but {len(labels)} click labels: give one label (1 positive, 0 negative) per click.")
        if not np.isin(labels, (0, 1)).all():
            raise PromptError("Click labels must be 1 (positive) or 0 (negative).")
        box = None if self.box is None else np.asarray(self.box, np.float32).reshape(4)
        if box is not None and not (box[0] <= box[2] and box[1] <= box[3]):
            raise PromptError(f"Box {box.tolist()} is not (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1.")
        mask = None if self.mask is None else np.asarray(self.mask, bool)
        if len(points) == 0 and box is None and mask is None:
            raise PromptError("A prompt needs at least one click, a box or a mask.")
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "mask", mask)

    def under_clicks(self, image: np.ndarray, positive: bool = True) -> np.ndarray:
        """(C,) the values of an (H, W) `image` of the prompted view (e.g. its face ids)
        under the positive (or negative) clicks: at row floor(y), column floor(x),
        clipped to the image."""
        points = self.points[self.labels == (1 if positive else 0)]
        height, width = image.shape
        columns = np.clip(np.floor(points[:, 0]).astype(int), 0, width - 1)
        rows = np.clip(np.floor(points[:, 1]).astype(int), 0, height - 1)
        return image[rows, columns]

    def check_image(self, num_views: int, height: int, width: int) -> None:
        """Raise PromptError if the prompt does not fit a rig of `num_views` (H, W) views."""
        if not 0 <= self.view < num_views:
            raise PromptError(f"View {self.view} does not exist: choose a view from 0 to {num_views - 1}.")
        coords = [self.points] + ([self.box.reshape(2, 2)] if self.box is not None else [])
        xy = np.concatenate(coords)
        if len(xy) and ((xy < 0).any() or (xy[:, 0] > width).any() or (xy[:, 1] > height).any()):
            raise PromptError(f"A click or box lies outside the {width}x{height} view image.")
        if self.mask is not None and self.mask.shape != (height, width):
            raise PromptError(f"Mask prompt has shape {self.mask.shape}, the views are {(height, width)}.")


def interior_point(mask: np.ndarray) -> np.ndarray | None:
    """(2,) float32 (x, y) pixel centre of `mask`'s (H, W) largest 8-connected region
    farthest from its boundary (the image border counts as boundary); None if empty."""
    regions, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        return None
    sizes = np.bincount(regions.ravel())[1:]
    largest = regions == 1 + int(np.argmax(sizes))
    distance = ndimage.distance_transform_edt(np.pad(largest, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return np.array([col + 0.5, row + 0.5], np.float32)


def completion_prompts(
    uncovered: np.ndarray,
    view: int,
    min_pixels: int = MIN_PROMPT_PIXELS,
    max_prompts: int = MAX_AUTO_PROMPTS,
) -> list[Prompt]:
    """Automatic prompts for what the parts found so far leave uncovered on a view.

    Parameters
    ----------
    uncovered : (H, W) bool, the view's silhouette minus every part's mask.
    view : the view's index.
    min_pixels : 8-connected regions smaller than this get no prompt.
    max_prompts : prompt at most this many regions, the largest first.

    Returns
    -------
    One single-click Prompt per region, at its pixel farthest from the region's boundary.
    """
    regions, count = ndimage.label(uncovered, structure=np.ones((3, 3)))
    sizes = np.bincount(regions.ravel(), minlength=count + 1)[1:]
    order = [r for r in np.argsort(-sizes, kind="stable") if sizes[r] >= min_pixels][:max_prompts]
    return [Prompt(view, interior_point(regions == r + 1)[None]) for r in order]
