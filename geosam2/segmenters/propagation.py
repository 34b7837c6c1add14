"""Multi-view propagation of GeoSAM2 over the ring of rendered views.

As the release: the prompted (seed) view s is processed twice, giving V + 1
logical frames in the order [s] + s..V-1 + 0..s-1. Frame 0 conditions on the
prompt (no memory, like SAM); frames 1..V are tracked with SAM2's memory
(the conditioning frame + the 6 most recent frames, object pointers of up to
V earlier frames), so the look-back of each view wraps around the ring, and
frame 1 re-predicts the seed view with memory: its mask is the final one.
The release's predictor settings (dynamic multimask via stability, binarised
prompted masks in memory, holes up to 8 low-res pixels filled, memory stored in
bfloat16) come with the network (`geosam2.model.build`).

The parts prompted on one view are tracked together as one batch (the segmenter
sizes the batches, `geosam2.segmenters.batching`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..model import GeoSAM2
from .features import ViewFeatures, autocast
from .masks import small_regions
from .network import RingOutputs, SequentialFrames, ring_order
from .prompts import Prompt

__all__ = ["Propagation", "fill_holes", "prompt_inputs", "propagate", "seed_candidates", "upsample_logits", "upsample_masks"]


def prompt_inputs(prompt: Prompt, resolution: int, image_size: int, device) -> tuple[dict | None, torch.Tensor | None]:
    """SAM2's (point_inputs, mask_inputs) of one prompt on (resolution x resolution) views.

    Clicks and box go in as points scaled to the network's `image_size`, box
    corners first with labels 2 and 3 (as SAM2's video predictor orders them);
    a mask prompt is used when there are no clicks and no box: resized to
    (1, 1, S, S) by antialiased bilinear interpolation and thresholded at 0.5.
    """
    points, labels = [prompt.points], [prompt.labels]
    if prompt.box is not None:
        points.insert(0, prompt.box.reshape(2, 2))
        labels.insert(0, np.array([2, 3], np.int32))
    points, labels = np.concatenate(points), np.concatenate(labels)
    if len(points):
        coords = torch.as_tensor(points * (image_size / resolution), dtype=torch.float32, device=device)[None]
        return {"point_coords": coords, "point_labels": torch.as_tensor(labels, dtype=torch.int32, device=device)[None]}, None
    mask = torch.as_tensor(prompt.mask, dtype=torch.float32, device=device)[None, None]
    if mask.shape[-1] != image_size:
        mask = F.interpolate(mask, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
        mask = (mask >= 0.5).float()
    return None, mask


def fill_holes(mask_logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """Fill background holes of at most `max_area` pixels with the score 0.1.

    A hole is an 8-connected component of pixels with score <= 0 (wherever it
    lies, as in SAM2's ``fill_holes_in_mask_scores``, whose CUDA kernel this
    replaces on every device).

    Parameters
    ----------
    mask_logits : (N, 1, h, w) float tensor
    max_area : int
        0 leaves the masks unchanged.
    """
    if max_area <= 0:
        return mask_logits
    background = (mask_logits <= 0).cpu().numpy()
    holes = np.zeros_like(background)
    for index in np.ndindex(background.shape[:2]):
        holes[index] = small_regions(background[index], max_area)
    if not holes.any():
        return mask_logits
    return torch.where(torch.from_numpy(holes).to(mask_logits.device), torch.tensor(0.1, dtype=mask_logits.dtype, device=mask_logits.device), mask_logits)


def _release_memory(memory: torch.Tensor) -> torch.Tensor:
    """`memory` rounded to bfloat16 as the release stores it, in its own dtype: on the CPU
    a frame without object pointers (official frame numbering) would otherwise feed
    bfloat16 alone to the float32 memory attention."""
    return memory.to(torch.bfloat16).to(memory.dtype)


def _frame_step(model: GeoSAM2, frame: int, is_cond: bool, inputs, point_inputs, mask_inputs, output_dict: dict, num_frames: int, encode_memory: bool):
    """One frame for a batch of objects, as ``SAM2VideoPredictor._run_single_frame_inference``
    (hole-filled low-res masks, memory rounded to bfloat16), also returning the score.

    Returns
    -------
    (output, scores): SAM2's compact frame output and (B,) float predicted IoU of the
    output mask, 0 where the object is predicted absent.
    """
    feats, pos, sizes = inputs
    current, sam_outputs, _, _ = model._track_step(frame, is_cond, feats, pos, sizes, point_inputs, mask_inputs, output_dict, num_frames, False, None)
    _, _, ious, low_res_masks, high_res_masks, obj_ptr, object_score_logits = sam_outputs
    model._encode_memory_in_output(feats, sizes, point_inputs, encode_memory, high_res_masks, object_score_logits, current)
    memory = current["maskmem_features"]
    output = {
        "maskmem_features": None if memory is None else _release_memory(memory),
        "maskmem_pos_enc": current["maskmem_pos_enc"],
        "pred_masks": fill_holes(low_res_masks.float(), model.fill_hole_area),
        "obj_ptr": obj_ptr,
        "object_score_logits": object_score_logits,
    }
    scores = ious.float().max(dim=-1).values * (object_score_logits[:, 0] > 0)
    return output, scores


def _concat_outputs(outputs: list[dict]) -> dict:
    """Stack per-object frame outputs into one batched output."""
    return {
        "maskmem_features": torch.cat([o["maskmem_features"] for o in outputs]),
        "maskmem_pos_enc": [torch.cat(level) for level in zip(*(o["maskmem_pos_enc"] for o in outputs))],
        "pred_masks": torch.cat([o["pred_masks"] for o in outputs]),
        "obj_ptr": torch.cat([o["obj_ptr"] for o in outputs]),
        "object_score_logits": torch.cat([o["object_score_logits"] for o in outputs]),
    }


@dataclass(frozen=True)
class Propagation:
    """The logical frames of one propagation of P parts prompted on one view.

    Attributes
    ----------
    frame_views : list of int, length T = V + 1
        The view of each frame (`ring_order`).
    logits : (T, P, 1, S/4, S/4) float32 tensor
        Low-res mask logits per frame (holes filled); > 0 is the part.
    scores : (T, P) float32 tensor
        Predicted IoU of each frame's mask, 0 where the part is predicted absent.
    """

    frame_views: list
    logits: torch.Tensor
    scores: torch.Tensor


def propagate(
    model: GeoSAM2,
    features: ViewFeatures,
    prompts: Sequence[Prompt],
    resolution: int,
    order: Sequence[int] | None = None,
    numbering=SequentialFrames(),
) -> Propagation:
    """Track the parts of `prompts` (all on the same view) over every view.

    Parameters
    ----------
    model : GeoSAM2 in eval mode
    features : ViewFeatures of the views
    prompts : one per part, all with the same ``view``
    resolution : int
        Size of the views the prompts' pixel coordinates refer to.
    order : list of int, optional
        The view of each frame, the prompted view first; default
        ``ring_order(seed, V)``. ``[seed, seed]`` is the release's single-view run.
    numbering : the frame numbering strategy, ``frames(start, num_frames)``
        (`geosam2.segmenters.network.SequentialFrames`, or the release's).
    """
    seed = prompts[0].view
    if any(p.view != seed for p in prompts):
        raise ValueError("propagate() tracks parts prompted on one view; group prompts by view first.")
    order = ring_order(seed, features.num_views) if order is None else list(order)
    num_frames, device = len(order), model.device
    start = sorted(set(order)).index(seed)  # the prompted view's place in the release's video of these views
    frames = numbering.frames(start, num_frames)
    logits, scores = [], []
    with torch.inference_mode(), autocast(device):
        # frame 0: each part from its own prompt without memory (their prompts differ)
        inputs = features.frame(model, seed, 1)
        cond = []
        for prompt in prompts:
            point_inputs, mask_inputs = prompt_inputs(prompt, resolution, model.image_size, device)
            empty = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
            output, score = _frame_step(model, frames[0], True, inputs, point_inputs, mask_inputs, empty, num_frames, encode_memory=False)
            # memory of the prompted frame from its hole-filled mask, binarised, as the video predictor
            high_res = F.interpolate(output["pred_masks"], size=(model.image_size,) * 2, mode="bilinear", align_corners=False)
            memory, memory_pos = model._encode_new_memory(inputs[0], inputs[2], high_res, output["object_score_logits"], is_mask_from_pts=True)
            output.update(maskmem_features=_release_memory(memory), maskmem_pos_enc=memory_pos)
            cond.append((output, score))
        first = _concat_outputs([o for o, _ in cond])
        output_dict = {"cond_frame_outputs": {frames[0]: first}, "non_cond_frame_outputs": RingOutputs(num_frames)}
        logits.append(first["pred_masks"])
        scores.append(torch.cat([s for _, s in cond]))
        # frames 1..V: all parts together, with memory
        for frame in range(1, num_frames):
            inputs = features.frame(model, order[frame], len(prompts))
            output, score = _frame_step(model, frames[frame], False, inputs, None, None, output_dict, num_frames, encode_memory=True)
            output_dict["non_cond_frame_outputs"][frames[frame]] = output
            logits.append(output["pred_masks"])
            scores.append(score)
    return Propagation(order, torch.stack(logits).float().cpu(), torch.stack(scores).float().cpu())


def seed_candidates(model: GeoSAM2, features: ViewFeatures, prompt: Prompt, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SAM2's answers to `prompt` on its own view, without memory (as frame 0).

    SAM2 gives three candidate masks for a single click (its multimask output,
    per ``_use_multimask``) and one mask otherwise.

    Returns
    -------
    logits : (K, 1, S/4, S/4) float32 low-res mask logits (holes filled), K = 3 or 1
    scores : (K,) float32 predicted IoU of each, 0 where the part is predicted absent
    """
    device = model.device
    with torch.inference_mode(), autocast(device):
        feats, pos, sizes = features.frame(model, prompt.view, 1)
        point_inputs, mask_inputs = prompt_inputs(prompt, resolution, model.image_size, device)
        empty = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
        _, sam_outputs, _, _ = model._track_step(0, True, feats, pos, sizes, point_inputs, mask_inputs, empty, 1, False, None)
    multimasks, _, ious, _, _, _, object_score_logits = sam_outputs
    logits = fill_holes(multimasks.float().transpose(0, 1), model.fill_hole_area)  # (K, 1, h, w)
    scores = ious.float()[0] * (object_score_logits[0, 0] > 0)
    return logits.cpu(), scores.cpu()


def upsample_logits(logits: torch.Tensor, size: int) -> np.ndarray:
    """(N, size, size) float32 logits of (N, 1, h, w) low-res logits (bilinear)."""
    return F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()


def upsample_masks(logits: torch.Tensor, size: int) -> np.ndarray:
    """(N, size, size) bool masks of (N, 1, h, w) low-res logits (bilinear, > 0)."""
    return upsample_logits(logits, size) > 0
