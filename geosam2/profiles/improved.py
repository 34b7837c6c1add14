"""The project's profile: its own measured choices throughout."""

from __future__ import annotations

from ..lifting.cleanup import ProjectCleanup
from ..lifting.lift import PixelVotes
from ..pipeline.completion import ViewCompletion
from ..pipeline.prompting import ProjectPrompting
from ..segmenters.network import ProjectNetwork
from . import Profile

IMPROVED = Profile(
    name="improved",
    description="The project's choices throughout: pointer-sharing propagation, its generator, pixel votes, welded clean-up, 3-D completion.",
    network=ProjectNetwork(),
    lifting=PixelVotes(),
    cleanup=ProjectCleanup(),
    prompting=ProjectPrompting(),
    completion=ViewCompletion(in_3d=True),
)
