"""Automatic part proposals on one view: the release's opposite-view completion.

After the user's prompts, the release runs SAM2's automatic mask generator on
the view opposite the prompted one, with points sampled at random from the
region that no propagated mask covers; the masks it keeps become positive
clicks of new parts, which are then propagated over every view like any other
prompt.

Here the generator runs on GeoSAM2's own fused features of that view (the
`ViewFeatures` cache, so no encoder runs again): each sampled point is a
single positive click through SAM2's prompt encoder and mask decoder with three
output masks. Masks are kept by predicted IoU and stability score, then by box
non-maximum suppression and by mask IoU against better masks (near-duplicates),
all on the decoder's low-resolution masks; small islands and holes are removed
at the view's resolution; each kept mask gives one click at the most interior
pixel of its largest region (farthest from the boundary: a click that selects
that mask, not its edge).

The release's generator (``profile="official"``: the clicks are region pixels
drawn from the release's random stream, m2m refinement, its filters; each click
the sampled pixel) is `geosam2.profiles.official.generator.ReleaseGenerator`; a
profile's network part chooses the generator (:func:`propose_masks`' `generator`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import masks_to_boxes, nms

from .masks import small_regions
from .prompts import Prompt, interior_point
from .steps import Steps

__all__ = ["ProposalSettings", "Proposals", "ProjectGenerator", "clicks_decoded", "propose_masks", "proposed_prompts", "remove_small_regions"]

@dataclass(frozen=True)
class ProposalSettings:
    """The automatic mask generator's settings (defaults: the release's).

    Attributes
    ----------
    max_points : int
        Most clicks sampled from the region (uniformly at random, seeded).
    points_per_batch : int
        Clicks decoded together, at most (fewer when the memory holds fewer:
        `geosam2.segmenters.batching`).
    pred_iou_thresh, stability_thresh : float
        Keep a mask when its predicted IoU and its stability score (IoU of the
        mask thresholded at +offset and at -offset logits) reach these.
    stability_offset : float
        Logit offset of the stability score.
    box_nms_thresh : float
        Box IoU above which the lower-scored mask is suppressed.
    min_region : int
        Islands and holes smaller than this many view pixels are removed.
    dedup_iou : float
        Mask IoU at or above which a mask duplicates a better one.
    seed : int
        Seed of the click sampling.
    """

    max_points: int = 4096
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.7
    stability_thresh: float = 0.7
    stability_offset: float = 1.0
    box_nms_thresh: float = 0.7
    min_region: int = 25
    dedup_iou: float = 0.85
    seed: int = 0


class Proposals(NamedTuple):
    """Masks the generator keeps and the click of each.

    Attributes
    ----------
    masks : (M, H, W) bool
    scores : (M,) float32 predicted IoU
    clicks : (M, 2) float32 (x, y) view pixels: the click that selects each mask
    """

    masks: np.ndarray
    scores: np.ndarray
    clicks: np.ndarray


def _decode_clicks(model, features, view: int, clicks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Three mask logits and predicted IoUs per single positive click, without memory.

    Parameters
    ----------
    clicks : (N, 2) float32 tensor, network-input pixels (x, y)

    Returns
    -------
    logits : (N, 3, S/4, S/4) float32, ious : (N, 3) float32
    """
    count = len(clicks)
    fpn = [level[view : view + 1].expand(count, -1, -1, -1) for level in features.fpn]
    # a conditioning frame without memory: the no-memory embedding added to the coarsest level
    image_embed = fpn[-1] + model.no_mem_embed.reshape(1, -1, 1, 1)
    point_inputs = {
        "point_coords": clicks[:, None, :].to(model.device),
        "point_labels": torch.ones(count, 1, dtype=torch.int32, device=model.device),
    }
    low_res, _, ious, *_ = model._forward_sam_heads(
        backbone_features=image_embed, point_inputs=point_inputs, high_res_features=fpn[:-1], multimask_output=True
    )
    return low_res.float(), ious.float()


def remove_small_regions(mask: np.ndarray, min_area: int) -> np.ndarray:
    """(H, W) bool `mask` without its 8-connected islands and holes smaller than `min_area` pixels."""
    for keep_value in (True, False):  # islands of the mask, then holes (islands of its complement)
        mask = np.where(small_regions(mask == keep_value, min_area - 1), not keep_value, mask)
    return mask


def clicks_decoded(done: int, total: int, batch: int) -> str:
    """What a generator reports after each batch of clicks, e.g. "clicks 128 of 4096 decoded (batches of 64)"."""
    return f"clicks {done} of {total} decoded (batches of {batch})"


def _candidate_masks(model, features, view, region, resolution, settings, steps: Steps):
    """Masks kept by predicted IoU and stability: (M, S/4, S/4) logits and (M,) scores;
    each batch of clicks reported to `steps` (cancelled: `Cancelled`)."""
    rows, cols = np.nonzero(region)
    rng = np.random.default_rng(settings.seed)
    chosen = rng.choice(len(rows), size=min(settings.max_points, len(rows)), replace=False)
    scale = model.image_size / resolution
    clicks = torch.from_numpy(np.stack([cols[chosen] + 0.5, rows[chosen] + 0.5], axis=1).astype(np.float32) * scale)
    kept_logits, kept_scores = [], []
    for start in range(0, len(clicks), settings.points_per_batch):
        steps.check()
        logits, ious = _decode_clicks(model, features, view, clicks[start : start + settings.points_per_batch])
        logits, ious = logits.flatten(0, 1).cpu(), ious.flatten().cpu()
        strict = (logits > settings.stability_offset).sum((1, 2))
        loose = (logits > -settings.stability_offset).sum((1, 2))
        stability = strict / loose.clamp(min=1)
        present = (logits > 0).flatten(1).any(1)
        keep = (ious >= settings.pred_iou_thresh) & (stability >= settings.stability_thresh) & present
        kept_logits.append(logits[keep])
        kept_scores.append(ious[keep])
        done = min(start + settings.points_per_batch, len(clicks))
        steps.done(done, len(clicks), clicks_decoded(done, len(clicks), settings.points_per_batch))
    return torch.cat(kept_logits), torch.cat(kept_scores)


class ProjectGenerator:
    """The project's automatic mask generator (module docstring): seeded clicks at pixel
    centres, three masks each, kept by predicted IoU and stability, de-duplicated, the
    click of each kept mask at its most interior pixel."""

    def masks(self, model, features, view: int, region: np.ndarray, settings: ProposalSettings, steps: Steps) -> Proposals:
        """See :func:`propose_masks` (a non-empty `region`, under inference mode)."""
        logits, scores = _candidate_masks(model, features, view, region, region.shape[0], settings, steps)
        if len(scores) == 0:
            return no_proposals(region.shape)
        binary = logits > 0
        order = nms(masks_to_boxes(binary).float(), scores, settings.box_nms_thresh)
        order = order[_distinct(binary[order], settings.dedup_iou)]
        full = F.interpolate(logits[order, None], size=region.shape, mode="bilinear", align_corners=False)[:, 0] > 0
        masks = [remove_small_regions(mask, settings.min_region) for mask in full.numpy()]
        kept = [i for i, mask in enumerate(masks) if mask.any()]
        if not kept:
            return no_proposals(region.shape)
        masks = np.stack([masks[i] for i in kept])
        return Proposals(masks, scores[order][kept].numpy(), np.stack([interior_point(mask) for mask in masks]))


PROJECT_GENERATOR = ProjectGenerator()


def no_proposals(shape: tuple[int, int]) -> Proposals:
    """Proposals without any mask, on (H, W) views."""
    return Proposals(np.zeros((0, *shape), bool), np.zeros(0, np.float32), np.zeros((0, 2), np.float32))


def propose_masks(
    model,
    features,
    view: int,
    region: np.ndarray,
    settings: ProposalSettings = ProposalSettings(),
    generator=PROJECT_GENERATOR,
    steps: Steps | None = None,
) -> Proposals:
    """Part masks an automatic mask generator proposes in `region` of `view`.

    Parameters
    ----------
    model : GeoSAM2 in eval mode
    features : geosam2.segmenters.geosam2.ViewFeatures of the views
    view : int
    region : (H, W) bool
        Pixels of the view where clicks are sampled (H = W = the views' resolution).
    settings : ProposalSettings
        The release's generator reads only `max_points`, `points_per_batch`,
        `pred_iou_thresh`, `stability_thresh` and `box_nms_thresh`; the rest are
        its constants.
    generator : the generator strategy, ``masks(model, features, view, region,
        settings, steps) -> Proposals``: :class:`ProjectGenerator`, or the release's
        (`geosam2.profiles.official.generator.ReleaseGenerator`, which holds the
        release's random stream).
    steps : Steps or None
        Each batch of clicks is reported to it; cancelled, the generator stops
        (`geosam2.segmenters.steps.Cancelled`). None: silent, never cancelled.

    Returns
    -------
    Proposals: masks (M, H, W) bool (project: by decreasing score; release: by
    decreasing area), scores (M,), and the click of each.
    """
    if not region.any():
        return no_proposals(region.shape)
    with torch.inference_mode():
        return generator.masks(model, features, view, region, settings, Steps() if steps is None else steps)


def _distinct(masks: torch.Tensor, max_iou: float) -> list[int]:
    """Indices of the (M, h, w) bool `masks`, best first, that overlap no earlier kept
    mask with an IoU of `max_iou` or more."""
    flat = masks.flatten(1).float()
    intersection = flat @ flat.T
    area = flat.sum(1)
    iou = intersection / (area[:, None] + area[None, :] - intersection).clamp(min=1)
    kept: list[int] = []
    for i in range(len(masks)):
        if not kept or iou[i, kept].max() < max_iou:
            kept.append(i)
    return kept


def proposed_prompts(
    model,
    features,
    view: int,
    region: np.ndarray,
    settings: ProposalSettings = ProposalSettings(),
    generator=PROJECT_GENERATOR,
    steps: Steps | None = None,
) -> list:
    """One positive-click `Prompt` on `view` per mask of `propose_masks` (same arguments;
    looked up when called, so a wrapper of `propose_masks` sees every call)."""
    proposals = propose_masks(model, features, view, region, settings, generator, steps)
    return [Prompt(view, points=click[None]) for click in proposals.clicks]
