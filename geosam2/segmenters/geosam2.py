"""The Segmenter of the GeoSAM2 network: prompts on one view -> masks of each part on
every view, alternative answers to a click, and automatic proposals.

The network's inputs and the feature cache are `geosam2.segmenters.features`, the
multi-view propagation `geosam2.segmenters.propagation` (its names are answered here
too: the official-parity tool patches ``propagate`` of this module, which the
segmenter looks up when it calls it), the proposals `geosam2.segmenters.proposals`.

A profile's ``network`` strategy (`geosam2.segmenters.network`) chooses the frame
numbering, the prompt a propagation is conditioned on, the stability scores and the
automatic proposals: the project's, or the release's (`geosam2.profiles.official.network`:
its logical frame numbers, its two-stage clicks, its generator).

The network's work runs in batches whose size follows the free memory
(`geosam2.segmenters.batching`); a long run reports each batch and stops between
batches when cancelled (`geosam2.segmenters.steps`).
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from typing import Sequence

import numpy as np

from ..model import GeoSAM2, load_geosam2
from ..render import Views
from .base import PartMasks, Segmenter
from .batching import NetworkMemory, decoder_bytes, tracking_bytes
from .features import ViewFeatures, encode_views, network_inputs
from .network import LOCAL, ring_order
from .prompts import Prompt
from .propagation import Propagation, fill_holes, prompt_inputs, propagate, seed_candidates, upsample_logits, upsample_masks
from .proposals import ProposalSettings
from .steps import Steps

__all__ = ["GeoSAM2Segmenter", "ViewFeatures", "Propagation", "encode_views", "propagate", "seed_candidates", "ring_order"]
__all__ += ["network_inputs", "prompt_inputs", "fill_holes", "upsample_masks", "load_geosam2"]


class _Tracked:
    """The masks, scores and stability of P parts over V views, filled batch by batch."""

    def __init__(self, num_parts: int, num_views: int, size: int):
        self.masks = np.zeros((num_parts, num_views, size, size), bool)
        self.scores = np.zeros((num_parts, num_views), np.float32)
        self.stability = None
        self.finished = np.zeros(num_parts, bool)

    def add(self, parts: list, result: Propagation, size: int, run) -> None:
        """Keep the final frames of `result`, the propagation of `parts` (their indices)."""
        for frame in range(1, len(result.frame_views)):  # frame 0 is superseded by frame 1
            view = result.frame_views[frame]
            logits = upsample_logits(result.logits[frame], size)
            self.masks[parts, view] = logits > 0
            self.scores[parts, view] = result.scores[frame].numpy()
            scored = run.stability(logits)
            if scored is not None:
                self.stability = np.zeros(self.scores.shape, np.float32) if self.stability is None else self.stability
                self.stability[parts, view] = scored
        self.finished[parts] = True

    def part_masks(self) -> PartMasks:
        return PartMasks(self.masks, self.scores, self.stability)


def _segment_prompts(model: GeoSAM2, features, prompts: list, num_views: int, size: int, run, max_batch: int, memory: NetworkMemory, steps: Steps):
    """`GeoSAM2Segmenter.segment`'s network work: (PartMasks, `run` as the call left it).

    The parts of each prompted view are tracked in batches of at most `max_batch`, as
    many as `memory` holds; each batch is reported to `steps`, and a cancelled `steps`
    stops before the next batch (`Cancelled` with the PartMasks so far and the
    finished parts)."""
    tracked = _Tracked(len(prompts), num_views, size)
    item_bytes = tracking_bytes(model.image_size, model.num_maskmem, model.max_obj_ptrs_in_encoder)
    batch = memory.batch_size(item_bytes, max_batch, model.device)
    batches = []
    for seed in sorted({p.view for p in prompts}):
        group = [i for i, p in enumerate(prompts) if p.view == seed]
        batches += [group[start : start + batch] for start in range(0, len(group), batch)]
    for parts in batches:
        steps.check(tracked.part_masks(), tracked.finished.copy())
        seeds = [run.seed_prompt(model, features, prompts[i], size) for i in parts]
        tracked.add(parts, propagate(model, features, seeds, size, numbering=run.numbering), size, run)
        done = int(tracked.finished.sum())
        steps.done(done, len(prompts), f"{done} of {len(prompts)} parts tracked over {num_views} views (batches of {batch})")
    return tracked.part_masks(), run


def _propose(model: GeoSAM2, features, views: Views, view: int, region: np.ndarray, settings: ProposalSettings, run, memory: NetworkMemory, steps: Steps):
    """`GeoSAM2Segmenter.propose_prompts`' network work: (prompts, `run` as the call left it).
    The clicks are decoded in batches of at most ``settings.points_per_batch``, as many
    as `memory` holds, each reported to `steps` (cancelled: `Cancelled`)."""
    batch = memory.batch_size(decoder_bytes(model.image_size), settings.points_per_batch, model.device)
    return run.propose(model, features, views, view, region, replace(settings, points_per_batch=batch), steps), run


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
        Most parts tracked together in one batch (fewer when the memory holds fewer).
    encode_batch : int
        Views per encoder call.
    memory : NetworkMemory
        The memory one batch of tracked parts or decoded clicks may take
        (`geosam2.segmenters.batching`).
    proposal_settings : ProposalSettings
        The automatic mask generator's settings when a call gives none.
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

    def __init__(
        self,
        model: GeoSAM2,
        max_batch: int = 16,
        encode_batch: int = 1,
        profile=None,
        runner=LOCAL,
        memory: NetworkMemory = NetworkMemory(),
        proposal_settings: ProposalSettings = ProposalSettings(),
    ):
        from ..profiles import resolve  # the profiles compose this module's pieces: imported on call

        self.model = model
        self.runner = runner
        self.max_batch = max_batch
        self.encode_batch = encode_batch
        self.memory = memory
        self.proposal_settings = proposal_settings
        self.steps = Steps()
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

    def report_to(self, steps: Steps) -> None:
        """Report the batches of the next calls to `steps` and stop between them once it is
        cancelled (`Cancelled` with the parts finished)."""
        self.steps = steps

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
        arguments = (list(prompts), num_views, size, self._run, self.max_batch, self.memory, self.steps)
        result, self._run = self.runner(_segment_prompts, self.model, features, *arguments, work=work)
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

    def propose_prompts(self, views: Views, view: int, region: np.ndarray, settings: ProposalSettings | None = None) -> list:
        """Automatic part prompts in `region` ((H, W) bool) of `view`: SAM2's automatic
        mask generator on the cached features (the run's generator, see
        `geosam2.segmenters.proposals`) with `settings` (None: the segmenter's), one click
        per kept mask. The session's automatic completion calls this on the view opposite
        the prompts."""
        settings = self.proposal_settings if settings is None else settings
        features, work = self.features(views), -(-settings.max_points // settings.points_per_batch)  # decoder batches
        arguments = (views, view, region, settings, self._run, self.memory, self.steps)
        prompts, self._run = self.runner(_propose, self.model, features, *arguments, work=work)
        return prompts
