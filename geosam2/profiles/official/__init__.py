"""The official release's behaviour (``xxxylw/GeoSAM2`` b5de23c), in one place: its
network runs (`network`, `generator`), its lifting (`lifting`), clean-up (`cleanup`),
filters of automatic parts (`partfilters`) and completion (`completion`), assembled
into the `OFFICIAL` profile."""

from __future__ import annotations

from .. import Profile
from .cleanup import ReleaseCleanup
from .completion import ReleaseCompletion, ReleasePrompting
from .constants import OFFICIAL_NUMPY_SEED, OFFICIAL_SAMPLES_PER_FACE, SEEN_UNCOVERED
from .lifting import ReleaseLifting
from .network import ReleaseNetwork

OFFICIAL = Profile(
    name="official",
    description="The official release's behaviour throughout, quirks included (checked by the official-parity tool).",
    network=ReleaseNetwork(),
    lifting=ReleaseLifting(),
    cleanup=ReleaseCleanup(),
    prompting=ReleasePrompting(),
    completion=ReleaseCompletion(),
)

__all__ = ["OFFICIAL", "OFFICIAL_NUMPY_SEED", "OFFICIAL_SAMPLES_PER_FACE", "SEEN_UNCOVERED"]
