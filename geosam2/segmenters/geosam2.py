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

The ``"official"`` profile reproduces two more things the release does
(``GeoSAM2Segmenter(model, profile="official")``):

- logical frame numbers: frame k of a propagation from view s is numbered
  (k + s) mod (V + 1) (``propagate_in_video_v2``), and SAM2's pointer loop stops
  at frame 0 and leaves out a conditioning frame numbered after the current one:
  the views before the seed get no pointer of the prompted frame, view 0 none
  at all (`logical_frames`);
- a click goes through two stages (``single_view_point_prompt_infer.py`` then
  ``inference.py --mask-path``): a 2-frame run on the clicked view alone (the
  click, then the view again with memory), its mask thresholded at 0 and given
  as a mask prompt to the full propagation (`single_view_mask`). The automatic
  parts' clicks (`GeoSAM2Segmenter.propose_prompts`) are propagated directly,
  as the release adds them.

Better than the release: inputs are in-memory tensors of a rendered `Views`;
the fused backbone features of all views are computed once per `Views` and
reused for every later prompt; the parts prompted on one view are tracked
together as one batch; bfloat16 autocast on CUDA, float32 on the CPU.
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..model.encode import encode_normals, encode_points
from .masks import small_regions
from ..model import GeoSAM2, load_geosam2
from .partfilters import opened_logits, stability_score
from ..profiles import IMPROVED, OFFICIAL, check_profile
from .prompts import Prompt
from .proposals import OFFICIAL_SAMPLES_PER_FACE, ProposalSettings, proposed_prompts, release_sampling
from ..render import Views
from .base import PartMasks, Segmenter

__all__ = [
    "GeoSAM2Segmenter",
    "ViewFeatures",
    "Propagation",
    "encode_views",
    "propagate",
    "seed_candidates",
    "ring_order",
    "logical_frames",
    "single_view_mask",
    "network_inputs",
    "prompt_inputs",
    "fill_holes",
    "load_geosam2",
]


def ring_order(seed: int, num_views: int) -> list[int]:
    """Views of the V + 1 logical frames: [seed] + seed..V-1 + 0..seed-1."""
    return [seed] + list(range(seed, num_views)) + list(range(seed))


def logical_frames(start: int, num_frames: int, profile: str = IMPROVED) -> list[int]:
    """The frame number SAM2 sees for each of the `num_frames` frames of a propagation.

    "improved": 0..T-1 (the prompted frame is 0: every frame gets its pointer).
    "official": the release's (k + start) mod T for frame k, `start` being the
    prompted view (``propagate_in_video_v2``): frames after the wrap get numbers
    below the prompted frame's, so SAM2's pointer loop (past frames only, stop
    at frame 0) gives them no pointer of the prompted frame nor of the frames
    before the wrap.
    """
    if check_profile(profile) == OFFICIAL:
        return [(k + start) % num_frames for k in range(num_frames)]
    return list(range(num_frames))


class _RingOutputs(dict):
    """Frame outputs by logical frame number, looked up modulo the number of frames:
    the release's memory look-back wraps around the ring (``prev_frame_idx %
    num_frames``), which the installed SAM2 does not do. Frames not computed yet
    are absent, so the modulo changes nothing for the improved numbering."""

    def __init__(self, num_frames: int):
        super().__init__()
        self.num_frames = num_frames

    def get(self, frame, default=None):
        return super().get(frame % self.num_frames, default)


def _autocast(device: torch.device):
    """bfloat16 autocast on CUDA, nothing (float32) elsewhere."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()


def network_inputs(views: Views, image_size: int) -> torch.Tensor:
    """(V, 6, S, S) float32 network input: normal map (channels 0-2) and point map (3-5).

    Views rendered at another size than S = `image_size` are resized: the normal
    input bilinearly (antialiased), the point map by nearest pixel (no blend of
    surface points with the background).
    """
    normals, points = encode_normals(views), encode_points(views)
    if views.resolution != image_size:
        size = (image_size, image_size)
        normals = F.interpolate(normals, size=size, mode="bilinear", align_corners=False, antialias=True)
        points = F.interpolate(points, size=size, mode="nearest-exact")
    return torch.cat([normals, points], dim=1)


@dataclass(frozen=True)
class ViewFeatures:
    """Fused backbone features of every view of one `Views`.

    Attributes
    ----------
    fpn : list of (V, C_l, h_l, w_l) tensors
        The three fused FPN levels (levels 0 and 1 through conv_s0 / conv_s1).
    pos : list of (1, C, h_l, w_l) tensors
        Positional encodings per level (the same for every view).
    """

    fpn: list
    pos: list

    @property
    def num_views(self) -> int:
        return self.fpn[0].shape[0]

    def frame(self, model: GeoSAM2, view: int, batch: int):
        """SAM2's flattened per-frame inputs of `view` for `batch` objects:
        (vision_feats, vision_pos_embeds, feat_sizes) as ``_prepare_backbone_features``."""
        backbone_out = {
            "backbone_fpn": [f[view : view + 1].expand(batch, -1, -1, -1) for f in self.fpn],
            "vision_pos_enc": [p.expand(batch, -1, -1, -1) for p in self.pos],
        }
        _, feats, pos, sizes = model._prepare_backbone_features(backbone_out)
        return feats, pos, sizes


def encode_views(model: GeoSAM2, views: Views, batch_size: int = 1) -> ViewFeatures:
    """Run both encoders and the fusion on every view, `batch_size` views at a time."""
    inputs = network_inputs(views, model.image_size)
    device = model.device
    outputs = []
    with torch.inference_mode(), _autocast(device):
        for start in range(0, len(inputs), batch_size):
            outputs.append(model.forward_image(inputs[start : start + batch_size].to(device)))
    fpn = [torch.cat([out["backbone_fpn"][level] for out in outputs]) for level in range(len(outputs[0]["backbone_fpn"]))]
    return ViewFeatures(fpn, [p[:1] for p in outputs[0]["vision_pos_enc"]])


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
    profile: str = IMPROVED,
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
    profile : "improved" or "official"
        The frame numbering (`logical_frames`).
    """
    seed = prompts[0].view
    if any(p.view != seed for p in prompts):
        raise ValueError("propagate() tracks parts prompted on one view; group prompts by view first.")
    order = ring_order(seed, features.num_views) if order is None else list(order)
    num_frames, device = len(order), model.device
    start = sorted(set(order)).index(seed)  # the prompted view's place in the release's video of these views
    frames = logical_frames(start, num_frames, profile)
    logits, scores = [], []
    with torch.inference_mode(), _autocast(device):
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
        output_dict = {"cond_frame_outputs": {frames[0]: first}, "non_cond_frame_outputs": _RingOutputs(num_frames)}
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
    with torch.inference_mode(), _autocast(device):
        feats, pos, sizes = features.frame(model, prompt.view, 1)
        point_inputs, mask_inputs = prompt_inputs(prompt, resolution, model.image_size, device)
        empty = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
        _, sam_outputs, _, _ = model._track_step(0, True, feats, pos, sizes, point_inputs, mask_inputs, empty, 1, False, None)
    multimasks, _, ious, _, _, _, object_score_logits = sam_outputs
    logits = fill_holes(multimasks.float().transpose(0, 1), model.fill_hole_area)  # (K, 1, h, w)
    scores = ious.float()[0] * (object_score_logits[0, 0] > 0)
    return logits.cpu(), scores.cpu()


def _upsample_logits(logits: torch.Tensor, size: int) -> np.ndarray:
    """(N, size, size) float32 logits of (N, 1, h, w) low-res logits (bilinear)."""
    return F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)[:, 0].numpy()


def _upsample_masks(logits: torch.Tensor, size: int) -> np.ndarray:
    """(N, size, size) bool masks of (N, 1, h, w) low-res logits (bilinear, > 0)."""
    return _upsample_logits(logits, size) > 0


def single_view_mask(model: GeoSAM2, features: ViewFeatures, prompt: Prompt, resolution: int) -> np.ndarray:
    """(resolution, resolution) bool: the release's first stage of a click prompt.

    ``single_view_point_prompt_infer.py``: a video of the prompted view alone,
    i.e. 2 logical frames (the prompt, then the same view again with the
    prompt's memory and pointer), the second frame's mask at the views'
    resolution thresholded at 0. The release then propagates it as a mask prompt.
    """
    result = propagate(model, features, [prompt], resolution, order=[prompt.view, prompt.view], profile=OFFICIAL)
    return _upsample_masks(result.logits[-1], resolution)[0]


class GeoSAM2Segmenter(Segmenter):
    """The Segmenter of the GeoSAM2 network (see `geosam2.segmenters.base.Segmenter`).

    Keeps the fused features of the last `Views` it saw, so every later prompt on
    the same views only runs the propagation. One segmenter per user / mesh; the
    network itself may be shared.

    Parameters
    ----------
    model : GeoSAM2
        E.g. from `load_geosam2`; used in its current mode (eval for inference).
    max_batch : int
        Most parts tracked together in one batch (bounds memory).
    encode_batch : int
        Views per encoder call.
    profile : "official" (default) or "improved"
        "official" reproduces the release (module docstring): its frame
        numbering, its two-stage clicks, and its automatic proposals
        (`geosam2.segmenters.proposals`): the GeoSAM2 weights give the paper's masks.
        "improved": every view gets the prompted frame's pointer, clicks
        condition the full propagation directly, the project's generator.
    """

    name = "geosam2"

    def __init__(self, model: GeoSAM2, max_batch: int = 16, encode_batch: int = 1, profile: str = OFFICIAL):
        self.model = model
        self.max_batch = max_batch
        self.encode_batch = encode_batch
        self.profile = check_profile(profile)
        self._views_ref = None
        self._features = None
        self._proposed: set = set()  # (view, x, y) of the clicks propose_prompts returned
        self._sampling: np.random.RandomState | None = None  # the release's random stream (official)

    def reset_sampling(self, num_faces: int, samples_per_face: int = OFFICIAL_SAMPLES_PER_FACE) -> None:
        """Restart the official generator's random stream as the release starts a run on a
        mesh of `num_faces` faces (`geosam2.segmenters.proposals.release_sampling`): a session
        calls this once per mesh, before its first `propose_prompts`."""
        self._sampling = release_sampling(num_faces, samples_per_face)

    def features(self, views: Views) -> ViewFeatures:
        """The fused features of `views`, computed on first use and then reused."""
        if self._views_ref is None or self._views_ref() is not views:
            self._features = None  # free the old features before computing new ones
            self._features = encode_views(self.model, views, self.encode_batch)
            self._views_ref = weakref.ref(views)
        return self._features

    def segment(self, views: Views, prompts: Sequence[Prompt]) -> PartMasks:
        """Masks of one part per prompt on every view.

        With the official profile, clicks and boxes first go through the
        release's single-view stage (`single_view_mask`), except the clicks
        this segmenter proposed (`propose_prompts`), which the release
        propagates as they are.

        Returns
        -------
        PartMasks: masks (P, V, H, W) bool at the views' resolution, scores (P, V)
        float32 predicted IoU (0 where the part is predicted absent).
        """
        num_views, size = views.num_views, views.resolution
        for prompt in prompts:
            prompt.check_image(num_views, size, size)
        masks = np.zeros((len(prompts), num_views, size, size), bool)
        scores = np.zeros((len(prompts), num_views), np.float32)
        stability = np.zeros((len(prompts), num_views), np.float32)
        if not prompts:
            return PartMasks(masks, scores, None if self.profile == IMPROVED else stability)
        features = self.features(views)
        if self.profile == OFFICIAL:
            prompts = [self._official_prompt(features, p, size) for p in prompts]
        for seed in sorted({p.view for p in prompts}):
            group = [i for i, p in enumerate(prompts) if p.view == seed]
            for start in range(0, len(group), self.max_batch):
                parts = group[start : start + self.max_batch]
                result = propagate(self.model, features, [prompts[i] for i in parts], size, profile=self.profile)
                for frame in range(1, len(result.frame_views)):  # frame 0 is superseded by frame 1
                    view = result.frame_views[frame]
                    logits = _upsample_logits(result.logits[frame], size)
                    masks[parts, view] = logits > 0
                    scores[parts, view] = result.scores[frame].numpy()
                    if self.profile == OFFICIAL:
                        stability[parts, view] = [stability_score(opened_logits(part)) for part in logits]
        return PartMasks(masks, scores, None if self.profile == IMPROVED else stability)

    def _official_prompt(self, features: ViewFeatures, prompt: Prompt, resolution: int) -> Prompt:
        """The prompt the release propagates: a mask prompt as is, a proposed click as
        is, any other click or box as the mask of its single-view stage."""
        if prompt.mask is not None and len(prompt.points) == 0 and prompt.box is None:
            return prompt
        if self._proposal_key(prompt) in self._proposed:
            return prompt
        return Prompt(prompt.view, mask=single_view_mask(self.model, features, prompt, resolution))

    @staticmethod
    def _proposal_key(prompt: Prompt):
        """(view, x, y) of a prompt that is one positive click alone, else None."""
        if len(prompt.points) != 1 or prompt.labels[0] != 1 or prompt.box is not None or prompt.mask is not None:
            return None
        return (prompt.view, *prompt.points[0].tolist())

    def candidates(self, views: Views, prompt: Prompt) -> PartMasks:
        """Alternative answers to one prompt on its own view (see `seed_candidates`):
        three for a single click (SAM2's multimask output), else one.

        Only the prompted view is filled: masks elsewhere are empty with score 0.
        A chosen candidate is propagated to every view as a mask prompt,
        ``segment(views, [Prompt(prompt.view, mask=masks[k, prompt.view])])``.

        Returns
        -------
        PartMasks: masks (K, V, H, W) bool, scores (K, V) float32.
        """
        size = views.resolution
        prompt.check_image(views.num_views, size, size)
        logits, seed_scores = seed_candidates(self.model, self.features(views), prompt, size)
        masks = np.zeros((len(logits), views.num_views, size, size), bool)
        scores = np.zeros((len(logits), views.num_views), np.float32)
        masks[:, prompt.view] = _upsample_masks(logits, size)
        scores[:, prompt.view] = seed_scores.numpy()
        return PartMasks(masks, scores)

    def propose_prompts(self, views: Views, view: int, region: np.ndarray, settings: ProposalSettings = ProposalSettings()) -> list:
        """Automatic part prompts in `region` ((H, W) bool) of `view`: SAM2's automatic
        mask generator on the cached features (see `geosam2.segmenters.proposals`), one click per
        kept mask. `Session.auto_complete` calls this on the view opposite the prompts.
        With the official profile, the release's generator (`geosam2.segmenters.proposals`),
        and `segment` later propagates these clicks directly (as the release)."""
        if self.profile == OFFICIAL and self._sampling is None:  # no session said which mesh: assume its last face is seen
            self.reset_sampling(int(views.face_ids.max()) + 1)
        prompts = proposed_prompts(self.model, self.features(views), view, region, settings, self.profile, self._sampling)
        if self.profile == OFFICIAL:
            self._proposed.update(self._proposal_key(p) for p in prompts)
        return prompts
