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

``profile="official"`` runs the release's generator instead
(``automatic_mask_generator_geosam2.py`` with ``inference.py``'s settings): the
clicks are region pixels drawn by numpy's legacy generator continuing the
release's stream (`release_sampling`); each click's three masks are refined once
by feeding each back as a mask prompt (m2m); low-resolution holes and islands of
at most 25 pixels are removed; masks are kept by predicted IoU (> 0.7) and
stability (>= 0.7, offset 0.7) at the view's resolution, then by box NMS and the
release's ``show_anns`` (IoU > 0.85 with a better mask drops a mask; the rest by
decreasing area); each kept mask's click is the sampled pixel that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import masks_to_boxes, nms

from .masks import small_regions
from ..profiles import IMPROVED, OFFICIAL, OFFICIAL_NUMPY_SEED, check_profile
from .prompts import Prompt, interior_point

__all__ = ["ProposalSettings", "Proposals", "propose_masks", "proposed_prompts", "release_sampling", "remove_small_regions"]

OFFICIAL_SAMPLES_PER_FACE = 5  # the release's lifting samples, drawn before the first generator call
OFFICIAL_STABILITY_OFFSET = 0.7
OFFICIAL_SPECK_AREA = 25  # low-res holes / islands removed (SAM2Transforms' max_hole_area, max_sprinkle_area)
OFFICIAL_SHOW_ANNS_IOU = 0.85


@dataclass(frozen=True)
class ProposalSettings:
    """The automatic mask generator's settings (defaults: the release's).

    Attributes
    ----------
    max_points : int
        Most clicks sampled from the region (uniformly at random, seeded).
    points_per_batch : int
        Clicks decoded together.
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


def release_sampling(num_faces: int, samples_per_face: int = OFFICIAL_SAMPLES_PER_FACE) -> np.random.RandomState:
    """numpy's legacy generator as the release's first generator call finds it on a mesh
    of `num_faces` faces: seeded with 3, then the lifting's two (F, S, 1) draws."""
    generator = np.random.RandomState(OFFICIAL_NUMPY_SEED)
    generator.random_sample(2 * samples_per_face * num_faces)
    return generator


def _release_points(region: np.ndarray, generator: np.random.RandomState, max_points: int) -> np.ndarray:
    """(N, 2) float64 (x, y) = (column, row) region pixels drawn as the release draws
    them: ``choice(N, k, replace=False)`` over the row-major pixels, i.e. the first
    k of a permutation, k = min(`max_points`, N); integers, no pixel-centre offset."""
    pixels = np.argwhere(region)
    order = generator.permutation(len(pixels))[: min(max_points, len(pixels))]
    return pixels[order, ::-1].astype(np.float64)


def _decode_tokens(model, features, view: int, clicks: torch.Tensor, mask_inputs: torch.Tensor | None = None):
    """All four mask tokens' low-res logits (N, 4, S/4, S/4) and IoUs (N, 4) for one
    positive click each (and a mask prompt each), without memory: SAM2's image
    predictor on the cached features (no object-score blanking, no dynamic multimask)."""
    fpn = [level[view : view + 1] for level in features.fpn]
    image_embed = fpn[-1] + model.no_mem_embed.reshape(1, -1, 1, 1)
    labels = torch.ones(len(clicks), 1, dtype=torch.int32, device=model.device)
    sparse, dense = model.sam_prompt_encoder(points=(clicks[:, None, :].to(model.device), labels), boxes=None, masks=mask_inputs)
    out = model.sam_mask_decoder.predict_masks(
        image_embeddings=image_embed,
        image_pe=model.sam_prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        repeat_image=True,
        high_res_features=fpn[:-1],
    )
    return out[0].float(), out[1].float()


def _remove_specks(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """(N, h, w) logits with 8-connected holes (logit <= 0) of at most `max_area` pixels
    set to +10 and islands (> 0) of at most `max_area` set to -10, both found on the
    input (SAM2Transforms.postprocess_masks)."""
    out = logits.clone()
    for index, mask in enumerate((logits > 0).numpy()):
        for value, target in ((10.0, ~mask), (-10.0, mask)):
            out[index][torch.from_numpy(small_regions(target, max_area))] = value
    return out


def _official_proposals(model, features, view: int, region: np.ndarray, points: np.ndarray, settings) -> Proposals:
    """The release's generator on the sampled `points` ((N, 2) x, y view pixels)."""
    resolution = region.shape[0]
    scale = model.image_size / resolution
    kept_logits, kept_scores, kept_clicks = [], [], []
    for start in range(0, len(points), settings.points_per_batch):
        batch = points[start : start + settings.points_per_batch]
        clicks = torch.from_numpy((batch * scale).astype(np.float32))
        first, _ = _decode_tokens(model, features, view, clicks)
        low_res = first[:, 1:].flatten(0, 1).clamp(-32.0, 32.0)[:, None]  # (3N, 1, h, w): the multimask answers
        clicks = clicks.repeat_interleave(3, dim=0)
        refined, ious = _decode_tokens(model, features, view, clicks, mask_inputs=low_res)  # m2m: token 0
        logits, ious = _remove_specks(refined[:, 0].cpu(), OFFICIAL_SPECK_AREA), ious[:, 0].cpu()
        for index in np.flatnonzero((ious > settings.pred_iou_thresh).numpy()):
            full = F.interpolate(logits[index][None, None], size=region.shape, mode="bilinear", align_corners=False)[0, 0]
            strict = (full > OFFICIAL_STABILITY_OFFSET).sum()
            loose = (full > -OFFICIAL_STABILITY_OFFSET).sum()
            if loose > 0 and strict / loose >= settings.stability_thresh:
                kept_logits.append(full > 0)
                kept_scores.append(ious[index])
                kept_clicks.append(batch[index // 3])
    if not kept_logits:
        return Proposals(np.zeros((0, *region.shape), bool), np.zeros(0, np.float32), np.zeros((0, 2), np.float32))
    masks, scores = torch.stack(kept_logits), torch.stack(kept_scores)
    order = nms(masks_to_boxes(masks).float(), scores, settings.box_nms_thresh).tolist()
    accepted: list[int] = []  # show_anns: by predicted IoU, no mask overlapping a better one by > 85 %
    for i in sorted(order, key=lambda i: -float(scores[i])):
        if all(_mask_iou(masks[i], masks[j]) <= OFFICIAL_SHOW_ANNS_IOU for j in accepted):
            accepted.append(i)
    accepted.sort(key=lambda i: -int(masks[i].sum()))
    return Proposals(
        masks[accepted].numpy(), scores[accepted].numpy(), np.array([kept_clicks[i] for i in accepted], np.float32).reshape(-1, 2)
    )


def _mask_iou(a: torch.Tensor, b: torch.Tensor) -> float:
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else 0.0


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


def _candidate_masks(model, features, view, region, resolution, settings):
    """Masks kept by predicted IoU and stability: (M, S/4, S/4) logits and (M,) scores."""
    rows, cols = np.nonzero(region)
    rng = np.random.default_rng(settings.seed)
    chosen = rng.choice(len(rows), size=min(settings.max_points, len(rows)), replace=False)
    scale = model.image_size / resolution
    clicks = torch.from_numpy(np.stack([cols[chosen] + 0.5, rows[chosen] + 0.5], axis=1).astype(np.float32) * scale)
    kept_logits, kept_scores = [], []
    for start in range(0, len(clicks), settings.points_per_batch):
        logits, ious = _decode_clicks(model, features, view, clicks[start : start + settings.points_per_batch])
        logits, ious = logits.flatten(0, 1).cpu(), ious.flatten().cpu()
        strict = (logits > settings.stability_offset).sum((1, 2))
        loose = (logits > -settings.stability_offset).sum((1, 2))
        stability = strict / loose.clamp(min=1)
        present = (logits > 0).flatten(1).any(1)
        keep = (ious >= settings.pred_iou_thresh) & (stability >= settings.stability_thresh) & present
        kept_logits.append(logits[keep])
        kept_scores.append(ious[keep])
    return torch.cat(kept_logits), torch.cat(kept_scores)


def propose_masks(
    model,
    features,
    view: int,
    region: np.ndarray,
    settings: ProposalSettings = ProposalSettings(),
    profile: str = IMPROVED,
    sampling: np.random.RandomState | None = None,
) -> Proposals:
    """Part masks the automatic mask generator proposes in `region` of `view`.

    Parameters
    ----------
    model : GeoSAM2 in eval mode
    features : geosam2.segmenters.geosam2.ViewFeatures of the views
    view : int
    region : (H, W) bool
        Pixels of the view where clicks are sampled (H = W = the views' resolution).
    settings : ProposalSettings
        With the official profile only `max_points`, `points_per_batch`,
        `pred_iou_thresh`, `stability_thresh` and `box_nms_thresh` are read; the
        rest are the release's constants (module docstring).
    profile : "improved" or "official"
    sampling : numpy RandomState, official profile
        The release's random stream (`release_sampling`), advanced by the draw;
        default: a new one seeded with 3, without the lifting's draws.

    Returns
    -------
    Proposals: masks (M, H, W) bool (improved: by decreasing score; official: by
    decreasing area), scores (M,), and the click of each.
    """
    resolution = region.shape[0]
    empty = Proposals(np.zeros((0, *region.shape), bool), np.zeros(0, np.float32), np.zeros((0, 2), np.float32))
    if not region.any():
        return empty
    if check_profile(profile) == OFFICIAL:
        sampling = np.random.RandomState(OFFICIAL_NUMPY_SEED) if sampling is None else sampling
        points = _release_points(region, sampling, settings.max_points)
        with torch.inference_mode():
            return _official_proposals(model, features, view, region, points, settings)
    with torch.inference_mode():
        logits, scores = _candidate_masks(model, features, view, region, resolution, settings)
    if len(scores) == 0:
        return empty
    binary = logits > 0
    order = nms(masks_to_boxes(binary).float(), scores, settings.box_nms_thresh)
    order = order[_distinct(binary[order], settings.dedup_iou)]
    full = F.interpolate(logits[order, None], size=region.shape, mode="bilinear", align_corners=False)[:, 0] > 0
    masks = [remove_small_regions(mask, settings.min_region) for mask in full.numpy()]
    kept = [i for i, mask in enumerate(masks) if mask.any()]
    if not kept:
        return empty
    masks = np.stack([masks[i] for i in kept])
    return Proposals(masks, scores[order][kept].numpy(), np.stack([interior_point(mask) for mask in masks]))


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
    profile: str = IMPROVED,
    sampling: np.random.RandomState | None = None,
) -> list:
    """One positive-click `Prompt` on `view` per mask of `propose_masks` (same arguments)."""
    proposals = propose_masks(model, features, view, region, settings, profile, sampling)
    return [Prompt(view, points=click[None]) for click in proposals.clicks]
