"""Inference profiles: one setting that chooses between two behaviours of the building blocks.

``"official"`` reproduces the EFFECTIVE behaviour of the official GeoSAM2 release
(``xxxylw/GeoSAM2`` b5de23c), quirks included, so that its weights give the
paper's masks and labels; ``"improved"`` is the project's own choices (exact
face-id visibility, welded adjacency, fill before clearing, ...). Each entry point
that differs takes a ``profile`` keyword and documents what it changes.
"""

from __future__ import annotations

from ..errors import GeoSAM2Error

OFFICIAL = "official"
IMPROVED = "improved"
PROFILES = (OFFICIAL, IMPROVED)

OFFICIAL_NUMPY_SEED = 3
"""The release seeds numpy's global generator with 3 (``inference.init_env``); its face
samples (`geosam2.lifting.lift.official_sample_points`), then its generator's clicks
(`geosam2.segmenters.proposals.release_sampling`) are drawn from that one stream."""

SEEN_UNCOVERED = -2
"""Face label "seen by the views, in no mask" (the release's label 999).

Only the official profile produces it (`geosam2.lifting.lift.lift_masks`): there it votes
like a part, so a face seen mostly outside every mask gets it, and the clean-up
keeps it as a part of its own (`geosam2.lifting.cleanup.clean_labels`). -1 stays
"no view voted" (the release's 0)."""


class ProfileError(GeoSAM2Error):
    """An unknown inference profile was asked for."""


def check_profile(profile: str) -> str:
    """`profile` itself when it is one of `PROFILES`, else a `ProfileError`."""
    if profile not in PROFILES:
        raise ProfileError(f"Unknown profile {profile!r}: choose one of {', '.join(map(repr, PROFILES))}.")
    return profile
