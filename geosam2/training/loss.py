"""SAM2's training loss: focal + dice on masks, IoU regression, object score.

The `sam2` package's `training.loss_fns.MultiStepMultiMasksAndIous` does not
import here (its `training.utils.data_utils` needs `tensordict`, which is not
installed), so the same terms are written out with the same defaults as the
SAM2.1 training config: weights mask 20, dice 1, iou 1, class 1; focal
alpha 0.25 gamma 2; object-score focal alpha 0.5 gamma 0 (a weighted BCE);
L1 IoU loss supervising every multimask output; with several candidate masks
only the one with the lowest focal + dice loss is supervised; mask, dice and
IoU terms count only on frames where the object is present.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    mask: float = 20.0
    dice: float = 1.0
    iou: float = 1.0
    object_score: float = 1.0


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """(N, M) focal loss averaged over pixels, for (N, M, H, W) logits and {0, 1} targets."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.flatten(2).mean(-1)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(N, M) 1 - soft Dice (smoothed by 1) for (N, M, H, W) logits and {0, 1} targets."""
    prob = logits.sigmoid().flatten(2)
    targets = targets.flatten(2)
    numerator = 2 * (prob * targets).sum(-1)
    denominator = prob.sum(-1) + targets.sum(-1)
    return 1 - (numerator + 1) / (denominator + 1)


def mask_iou(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(N, M) IoU of masks logits > 0 against {0, 1} targets (1 when both are empty)."""
    pred = (logits > 0).flatten(2)
    gt = targets.flatten(2) > 0
    intersection = (pred & gt).sum(-1).float()
    union = (pred | gt).sum(-1).float()
    return torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))


def frame_loss(
    multimask_logits: torch.Tensor,
    predicted_ious: torch.Tensor,
    object_score_logits: torch.Tensor,
    target: torch.Tensor,
    weights: LossWeights = LossWeights(),
) -> dict[str, torch.Tensor]:
    """Loss terms of one frame's prediction, summed over objects.

    Parameters
    ----------
    multimask_logits : (N, M, H, W) float
        Candidate mask logits at the target's resolution.
    predicted_ious : (N, M) float
    object_score_logits : (N, 1) float
    target : (N, H, W) bool or float

    Returns
    -------
    dict with "mask", "dice", "iou", "object_score" and weighted "total".
    """
    target = target.float().unsqueeze(1).expand_as(multimask_logits)
    focal = sigmoid_focal_loss(multimask_logits, target)
    dice = dice_loss(multimask_logits, target)
    actual_iou = mask_iou(multimask_logits.detach(), target)
    iou = F.l1_loss(predicted_ious, actual_iou, reduction="none")
    best = (focal * weights.mask + dice * weights.dice).argmin(dim=1, keepdim=True)
    present = (target[:, 0].flatten(1).sum(-1) > 0).float()  # (N,)
    focal = focal.gather(1, best).squeeze(1) * present
    dice = dice.gather(1, best).squeeze(1) * present
    iou = iou.mean(dim=1) * present
    object_score = sigmoid_focal_loss(object_score_logits[..., None, None], present[:, None, None, None].expand(-1, 1, 1, 1), alpha=0.5, gamma=0.0).squeeze(1)
    terms = {"mask": focal.sum(), "dice": dice.sum(), "iou": iou.sum(), "object_score": object_score.sum()}
    terms["total"] = (
        weights.mask * terms["mask"] + weights.dice * terms["dice"] + weights.iou * terms["iou"] + weights.object_score * terms["object_score"]
    )
    return terms
