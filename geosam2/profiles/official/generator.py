"""The release's automatic mask generator (``automatic_mask_generator_geosam2.py`` with
``inference.py``'s settings), a generator strategy of `geosam2.segmenters.proposals`.

The clicks are region pixels drawn by numpy's legacy generator continuing the
release's stream (`geosam2.profiles.official.sampling.release_sampling`); each
click's three masks are refined once by feeding each back as a mask prompt (m2m);
low-resolution holes and islands of at most 25 pixels are removed; masks are kept by predicted IoU (> 0.7) and stability (>= 0.7,
offset 0.7) at the view's resolution, then by box NMS and the release's ``show_anns``
(IoU > 0.85 with a better mask drops a mask; the rest by decreasing area); each kept
mask's click is the sampled pixel that produced it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import masks_to_boxes, nms

from ...segmenters.masks import small_regions
from ...segmenters.proposals import Proposals, ProposalSettings, clicks_decoded, no_proposals
from ...segmenters.steps import Steps

OFFICIAL_STABILITY_OFFSET = 0.7
OFFICIAL_SPECK_AREA = 25  # low-res holes / islands removed (SAM2Transforms' max_hole_area, max_sprinkle_area)
OFFICIAL_SHOW_ANNS_IOU = 0.85


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


def _official_proposals(model, features, view: int, region: np.ndarray, points: np.ndarray, settings, steps) -> Proposals:
    """The release's generator on the sampled `points` ((N, 2) x, y view pixels), each
    batch reported to `steps` (`geosam2.segmenters.steps`; cancelled: `Cancelled`)."""
    resolution = region.shape[0]
    scale = model.image_size / resolution
    kept_logits, kept_scores, kept_clicks = [], [], []
    for start in range(0, len(points), settings.points_per_batch):
        steps.check()
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
        steps.done(start + len(batch), len(points), clicks_decoded(start + len(batch), len(points), settings.points_per_batch))
    if not kept_logits:
        return no_proposals(region.shape)
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


class ReleaseGenerator:
    """The release's generator drawing its clicks from `sampling`, the release's random
    stream of one run (`release_sampling`), which each call advances."""

    def __init__(self, sampling: np.random.RandomState):
        self.sampling = sampling

    def masks(self, model, features, view: int, region: np.ndarray, settings: ProposalSettings, steps: Steps) -> Proposals:
        """See `geosam2.segmenters.proposals.propose_masks` (a non-empty `region`)."""
        points = _release_points(region, self.sampling, settings.max_points)
        return _official_proposals(model, features, view, region, points, settings, steps)
