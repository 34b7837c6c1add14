"""How the GeoSAM2 segmenter runs its network, as the project runs it: a profile's
``network`` strategy (the release's: `geosam2.profiles.official.network`).

A network strategy answers, for `geosam2.segmenters.geosam2.GeoSAM2Segmenter`:

- ``start(num_faces) -> run``: the state of one run on one geometry (``bind``);
  the project's has none, so its run is the strategy itself;
- a run's ``numbering``: the frame number SAM2 sees for each frame of a
  propagation (``frames(start, num_frames) -> list[int]``);
- ``seed_prompt(model, features, prompt, resolution) -> Prompt``: the prompt the
  propagation is conditioned on;
- ``stability(logits) -> (P,) float32 or None``: the stability score of each
  part's view-resolution logits, when the profile's filters of automatic parts
  read it;
- ``propose(model, features, views, view, region, settings, steps) -> list[Prompt]``:
  the automatic proposals (`geosam2.segmenters.proposals`), each batch of clicks
  reported to `steps` (`geosam2.segmenters.steps`).

A runner is where the segmenter's network work runs: ``runner(function, model,
*args, work=n)`` returns ``function(model, *args)``; `function` is a module-level
function (picklable by name), `work` counts its network frame passes. `LocalRunner`
runs it here; the demo's ZeroGPU runner (`demo.gpu`) runs it in a GPU worker process,
so a call's results (its tensors on the CPU, and any run state it changed, returned
with them) are all that comes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .prompts import Prompt

if TYPE_CHECKING:  # torch is imported only when the network runs
    from .proposals import ProposalSettings
    from .steps import Steps


def ring_order(seed: int, num_views: int) -> list[int]:
    """Views of the V + 1 logical frames: [seed] + seed..V-1 + 0..seed-1."""
    return [seed] + list(range(seed, num_views)) + list(range(seed))


class RingOutputs(dict):
    """Frame outputs by logical frame number, looked up modulo the number of frames:
    the release's memory look-back wraps around the ring (``prev_frame_idx %
    num_frames``), which the installed SAM2 does not do. Frames not computed yet
    are absent, so the modulo changes nothing for the improved numbering."""

    def __init__(self, num_frames: int):
        super().__init__()
        self.num_frames = num_frames

    def get(self, frame, default=None):
        return super().get(frame % self.num_frames, default)


class SequentialFrames:
    """Frames numbered 0..T-1: the prompted frame is 0, every frame gets its pointer."""

    def frames(self, start: int, num_frames: int) -> list[int]:
        """The frame number of each of `num_frames` frames (`start`, the prompted view's
        place in the ring, is not used)."""
        return list(range(num_frames))


class ProjectNetwork:
    """The project's way: sequential frame numbers, every prompt conditions the full
    propagation directly, no stability scores, the project's generator."""

    numbering = SequentialFrames()

    def start(self, num_faces: int | None) -> "ProjectNetwork":
        """Nothing is kept per geometry: the run is the strategy itself."""
        return self

    def seed_prompt(self, model, features, prompt: Prompt, resolution: int) -> Prompt:
        return prompt

    def stability(self, logits: np.ndarray) -> None:
        return None

    def propose(self, model, features, views, view: int, region: np.ndarray, settings: ProposalSettings, steps: Steps) -> list[Prompt]:
        from .proposals import PROJECT_GENERATOR, proposed_prompts  # torch: imported when the network runs

        return proposed_prompts(model, features, view, region, settings, PROJECT_GENERATOR, steps)


class LocalRunner:
    """Runs the network's work in this process, on the network's device."""

    def __call__(self, function, model, *args, work: int = 1):
        """``function(model, *args)`` (`work` is not needed here)."""
        return function(model, *args)


LOCAL = LocalRunner()
