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
- ``propose(model, features, views, view, region, settings) -> list[Prompt]``:
  the automatic proposals (`geosam2.segmenters.proposals`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .prompts import Prompt

if TYPE_CHECKING:  # torch is imported only when the network runs
    from .proposals import ProposalSettings


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

    def propose(self, model, features, views, view: int, region: np.ndarray, settings: ProposalSettings) -> list[Prompt]:
        from .proposals import proposed_prompts  # torch: imported when the network runs

        return proposed_prompts(model, features, view, region, settings)
