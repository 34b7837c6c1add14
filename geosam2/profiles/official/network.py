"""How the release runs the GeoSAM2 network: a profile's ``network`` strategy (see
`geosam2.segmenters.network` for the protocol and the project's).

Two things the release does beyond the propagation itself:

- logical frame numbers: frame k of a propagation from view s is numbered
  (k + s) mod (V + 1) (``propagate_in_video_v2``), and SAM2's pointer loop stops
  at frame 0 and leaves out a conditioning frame numbered after the current one:
  the views before the seed get no pointer of the prompted frame, view 0 none
  at all (`ReleaseFrames`);
- a click goes through two stages (``single_view_point_prompt_infer.py`` then
  ``inference.py --mask-path``): a 2-frame run on the clicked view alone (the
  click, then the view again with memory), its mask thresholded at 0 and given
  as a mask prompt to the full propagation (`single_view_mask`). The automatic
  parts' clicks (`ReleaseRun.propose`) are propagated directly, as the release
  adds them.

Its automatic proposals draw from one random stream per run (`ReleaseRun`), and
the masks carry the stability score its filters of automatic parts read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...segmenters.prompts import Prompt
from .sampling import release_sampling
from .partfilters import opened_logits, stability_score

if TYPE_CHECKING:  # torch is imported only when the network runs
    from ...segmenters.proposals import ProposalSettings
    from ...segmenters.steps import Steps


class ReleaseFrames:
    """The release's logical frame numbers (module docstring)."""

    def frames(self, start: int, num_frames: int) -> list[int]:
        """(k + `start`) mod T for frame k, `start` being the prompted view's place in the
        release's video: frames after the wrap get numbers below the prompted frame's, so
        SAM2's pointer loop (past frames only, stop at frame 0) gives them no pointer of
        the prompted frame nor of the frames before the wrap."""
        return [(k + start) % num_frames for k in range(num_frames)]


def single_view_mask(model, features, prompt: Prompt, resolution: int) -> np.ndarray:
    """(resolution, resolution) bool: the release's first stage of a click prompt.

    ``single_view_point_prompt_infer.py``: a video of the prompted view alone,
    i.e. 2 logical frames (the prompt, then the same view again with the
    prompt's memory and pointer), the second frame's mask at the views'
    resolution thresholded at 0. The release then propagates it as a mask prompt.
    """
    from ...segmenters import geosam2 as network  # torch: imported when the network runs

    result = network.propagate(model, features, [prompt], resolution, order=[prompt.view, prompt.view], numbering=ReleaseFrames())
    return network.upsample_masks(result.logits[-1], resolution)[0]


def _proposal_key(prompt: Prompt):
    """(view, x, y) of a prompt that is one positive click alone, else None."""
    if len(prompt.points) != 1 or prompt.labels[0] != 1 or prompt.box is not None or prompt.mask is not None:
        return None
    return (prompt.view, *prompt.points[0].tolist())


class ReleaseRun:
    """The release's network on one geometry (one run of ``inference.py``).

    Parameters
    ----------
    num_faces : int or None
        Faces of the geometry: its random stream starts after the lifting's draws
        on them (`release_sampling`); None: read off the views at the first proposal
        (their largest face id + 1).
    """

    numbering = ReleaseFrames()

    def __init__(self, num_faces: int | None):
        self.sampling = None if num_faces is None else release_sampling(num_faces)
        self.proposed: set = set()  # (view, x, y) of the clicks `propose` returned in this run

    def seed_prompt(self, model, features, prompt: Prompt, resolution: int) -> Prompt:
        """The prompt the release propagates: a mask prompt as is, a proposed click as
        is, any other click or box as the mask of its single-view stage."""
        if prompt.mask is not None and len(prompt.points) == 0 and prompt.box is None:
            return prompt
        if _proposal_key(prompt) in self.proposed:
            return prompt
        return Prompt(prompt.view, mask=single_view_mask(model, features, prompt, resolution))

    def stability(self, logits: np.ndarray) -> np.ndarray:
        """(P,) float32 the release's stability of (P, H, W) logits after its opening."""
        return np.array([stability_score(opened_logits(part)) for part in logits], np.float32)

    def propose(self, model, features, views, view: int, region: np.ndarray, settings: ProposalSettings, steps: Steps) -> list[Prompt]:
        """The release's generator on this run's random stream; its clicks are remembered
        so that `seed_prompt` lets them through."""
        if self.sampling is None:  # no geometry bound: assume the views' last face is seen
            self.sampling = release_sampling(int(views.face_ids.max()) + 1)
        from ...segmenters.proposals import proposed_prompts  # torch: imported when the network runs
        from .generator import ReleaseGenerator

        prompts = proposed_prompts(model, features, view, region, settings, ReleaseGenerator(self.sampling), steps)
        self.proposed.update(_proposal_key(p) for p in prompts)
        return prompts


class ReleaseNetwork:
    """The release's network strategy: each run (`start`) a fresh `ReleaseRun`."""

    def start(self, num_faces: int | None) -> ReleaseRun:
        return ReleaseRun(num_faces)
