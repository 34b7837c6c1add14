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

A profile's ``network`` strategy (`geosam2.segmenters.network`) chooses the frame
numbering, the prompt a propagation is conditioned on, the stability scores and the
automatic proposals: the project's, or the release's (`geosam2.profiles.official.network`:
its logical frame numbers, its two-stage clicks, its generator).

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
from .prompts import Prompt
from .network import LOCAL, SequentialFrames, RingOutputs, ring_order
from .proposals import ProposalSettings
from ..render import Views
from .base import PartMasks, Segmenter

__all__ = ["GeoSAM2Segmenter", "ViewFeatures", "Propagation", "encode_views", "propagate", "seed_candidates", "ring_order"]
__all__ += ["network_inputs", "prompt_inputs", "fill_holes", "upsample_masks", "load_geosam2"]


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


def upsample_masks(logits: torch.Tensor, size: int) -> np.ndarray:
    """(N, size, size) bool masks of (N, 1, h, w) low-res logits (bilinear, > 0)."""
    return _upsample_logits(logits, size) > 0


def _segment_prompts(model: GeoSAM2, features, prompts: list, num_views: int, size: int, run, max_batch: int):
    """`GeoSAM2Segmenter.segment`'s network work: (PartMasks, `run` as the call left it)."""
    masks = np.zeros((len(prompts), num_views, size, size), bool)
    scores = np.zeros((len(prompts), num_views), np.float32)
    stability = None
    prompts = [run.seed_prompt(model, features, p, size) for p in prompts]
    for seed in sorted({p.view for p in prompts}):
        group = [i for i, p in enumerate(prompts) if p.view == seed]
        for start in range(0, len(group), max_batch):
            parts = group[start : start + max_batch]
            result = propagate(model, features, [prompts[i] for i in parts], size, numbering=run.numbering)
            for frame in range(1, len(result.frame_views)):  # frame 0 is superseded by frame 1
                view = result.frame_views[frame]
                logits = _upsample_logits(result.logits[frame], size)
                masks[parts, view] = logits > 0
                scores[parts, view] = result.scores[frame].numpy()
                scored = run.stability(logits)
                if scored is not None:
                    stability = np.zeros((len(prompts), num_views), np.float32) if stability is None else stability
                    stability[parts, view] = scored
    return PartMasks(masks, scores, stability), run


def _propose(model: GeoSAM2, features, views: Views, view: int, region: np.ndarray, settings: ProposalSettings, run):
    """`GeoSAM2Segmenter.propose_prompts`' network work: (prompts, `run` as the call left it)."""
    return run.propose(model, features, views, view, region, settings), run


class GeoSAM2Segmenter(Segmenter):
    """The Segmenter of the GeoSAM2 network (see `geosam2.segmenters.base.Segmenter`).

    Keeps the fused features of the last `Views` it saw, so every later prompt on
    the same views only runs the propagation. One segmenter per user / mesh; the
    network itself may be shared. What depends on the geometry (the release's
    random stream, the clicks it proposed) is the state of one run, made afresh by
    `bind`.

    Parameters
    ----------
    model : GeoSAM2
        E.g. from `load_geosam2`; used in its current mode (eval for inference).
    max_batch : int
        Most parts tracked together in one batch (bounds memory).
    encode_batch : int
        Views per encoder call.
    profile : Profile, its name, or None (`geosam2.profiles.resolve`)
        Its ``network`` runs the propagation and proposals until a session binds
        the segmenter with its own profile. The release's (the official and the
        default profiles): its frame numbering, its two-stage clicks and its
        automatic proposals, so the GeoSAM2 weights give the paper's masks; the
        project's ("improved"): every view gets the prompted frame's pointer,
        clicks condition the full propagation directly, the project's generator.
    runner : where the network's work runs (`geosam2.segmenters.network`; default here)
    """

    name = "geosam2"

    def __init__(self, model: GeoSAM2, max_batch: int = 16, encode_batch: int = 1, profile=None, runner=LOCAL):
        from ..profiles import resolve  # the profiles compose this module's pieces: imported on call

        self.model = model
        self.runner = runner
        self.max_batch = max_batch
        self.encode_batch = encode_batch
        self.network = resolve(profile).network
        self._views_ref = None
        self._features = None
        self._run = self.network.start(None)

    def bind(self, geometry, profile=None) -> "GeoSAM2Segmenter":
        """Start a fresh run on `geometry` (a Mesh or a PointCloud) with `profile`'s network
        (a Profile; None: the segmenter's own): nothing of an earlier run (the release's
        random stream, its proposed clicks) carries over. Returns itself."""
        network = self.network if profile is None else profile.network
        self._run = network.start(getattr(geometry, "num_faces", None))
        return self

    def features(self, views: Views) -> ViewFeatures:
        """The fused features of `views`, computed on first use and then reused."""
        if self._views_ref is None or self._views_ref() is not views:
            self._features = None  # free the old features before computing new ones
            self._features = self.encode(views)
            self._views_ref = weakref.ref(views)
        return self._features

    def encode(self, views: Views) -> ViewFeatures:
        """The fused features of `views`, computed now by the runner (`encode_views`)."""
        return self.runner(encode_views, self.model, views, self.encode_batch, work=views.num_views)

    def segment(self, views: Views, prompts: Sequence[Prompt]) -> PartMasks:
        """Masks of one part per prompt on every view.

        Each prompt goes through the run's ``seed_prompt`` first (the release's: a
        click or box becomes the mask of its single-view stage, except the clicks
        this run proposed, which the release propagates as they are).

        Returns
        -------
        PartMasks: masks (P, V, H, W) bool at the views' resolution, scores (P, V)
        float32 predicted IoU (0 where the part is predicted absent), stability
        (P, V) float32 when the run scores it.
        """
        num_views, size = views.num_views, views.resolution
        for prompt in prompts:
            prompt.check_image(num_views, size, size)
        features = self.features(views) if prompts else None
        work = len(prompts) * (num_views + 3)  # the propagation's frames, and the release's single-view stage
        result, self._run = self.runner(_segment_prompts, self.model, features, list(prompts), num_views, size, self._run, self.max_batch, work=work)
        return result

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
        logits, seed_scores = self.runner(seed_candidates, self.model, self.features(views), prompt, size)
        masks = np.zeros((len(logits), views.num_views, size, size), bool)
        scores = np.zeros((len(logits), views.num_views), np.float32)
        masks[:, prompt.view] = upsample_masks(logits, size)
        scores[:, prompt.view] = seed_scores.numpy()
        return PartMasks(masks, scores)

    def propose_prompts(self, views: Views, view: int, region: np.ndarray, settings: ProposalSettings = ProposalSettings()) -> list:
        """Automatic part prompts in `region` ((H, W) bool) of `view`: SAM2's automatic
        mask generator on the cached features (the run's generator, see
        `geosam2.segmenters.proposals`), one click per kept mask. The session's automatic
        completion calls this on the view opposite the prompts."""
        features, work = self.features(views), -(-settings.max_points // settings.points_per_batch)  # decoder batches
        prompts, self._run = self.runner(_propose, self.model, features, views, view, region, settings, self._run, work=work)
        return prompts
