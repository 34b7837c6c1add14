"""The Segmenter protocol: prompts on one view -> masks of each part on every view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from .prompts import Prompt
from .render import Views


@dataclass(frozen=True)
class PartMasks:
    """Per-view masks of P parts over V views.

    Attributes
    ----------
    masks : (P, V, H, W) bool
        masks[p, v] is part p's mask on view v.
    scores : (P, V) float32
        Confidence of each mask in [0, 1] (predicted IoU, or 1 for exact masks).
    """

    masks: np.ndarray
    scores: np.ndarray


class Segmenter(Protocol):
    """Anything that turns one prompt per part into per-view masks."""

    name: str

    def segment(self, views: Views, prompts: Sequence[Prompt]) -> PartMasks:
        """Segment one part per prompt on all views of `views`."""
        ...
