"""Segmenters: prompts on one view -> masks of each part on every view (`base`), the
offline geometry segmenter (`geometry`), GeoSAM2's multi-view propagation (`geosam2`)."""

from .base import PartMasks, Segmenter, as_segmenter

__all__ = ["PartMasks", "Segmenter", "as_segmenter"]
