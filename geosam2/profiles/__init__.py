"""Inference profiles: a profile is a frozen bundle of strategy objects, chosen once at
the edge (`resolve`) and passed down; nothing below compares names.

- `OFFICIAL` reproduces the EFFECTIVE behaviour of the official GeoSAM2 release
  (``xxxylw/GeoSAM2`` b5de23c), quirks included, so that its weights give the
  paper's masks and labels (checked by ``shared/tools/official-parity``); its code
  lives together in `geosam2.profiles.official`.
- `IMPROVED` is the project's own choices throughout (`geosam2.profiles.improved`).
- `DEFAULT` (``resolve(None)``) is the release's network (propagation and proposals,
  what its weights were trained for) with the project's lifting, clean-up, prompting
  and completion, which measure better (README, "Compatibility with the official
  release").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import GeoSAM2Error


@dataclass(frozen=True, eq=False)
class Profile:
    """One inference behaviour, as strategies (each documented where it is defined).

    Attributes
    ----------
    name : str
        Its name in the CLI and the demo (a key of `PROFILES`).
    description : str
        One line saying what it is.
    network : GeoSAM2's way of running the network (`geosam2.segmenters.network`:
        frame numbering, the prompt a propagation is conditioned on, stability
        scores, automatic proposals), taken by ``GeoSAM2Segmenter.bind``.
    lifting : masks -> face labels on a mesh (`geosam2.lifting.lift.PixelVotes`).
    cleanup : the clean-up of face labels (`geosam2.lifting.cleanup.ProjectCleanup`).
    prompting : the session's prompts -> faces (`geosam2.pipeline.prompting`).
    completion : the session's automatic completion (`geosam2.pipeline.completion`).
    """

    name: str
    description: str
    network: object
    lifting: object
    cleanup: object
    prompting: object
    completion: object

    def on_point_cloud(self) -> "Profile":
        """This profile as a session runs it on a point cloud: the release has no
        point-cloud path, so the prompting and completion are the project's (the
        lifting and clean-up of points have no variants); the network stays."""
        if self.prompting is IMPROVED.prompting and self.completion is IMPROVED.completion:
            return self
        return replace(
            self,
            description=f"{self.description} On a point cloud: the project's prompting and completion.",
            prompting=IMPROVED.prompting,
            completion=IMPROVED.completion,
        )


class ProfileError(GeoSAM2Error):
    """An unknown inference profile was asked for."""


from .improved import IMPROVED  # noqa: E402 (the profiles are built from the class above)
from .official import OFFICIAL  # noqa: E402

DEFAULT = replace(
    IMPROVED,
    name="default",
    description="The release's network (propagation, two-stage clicks, proposals) with the project's lifting, clean-up and completion.",
    network=OFFICIAL.network,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (DEFAULT, OFFICIAL, IMPROVED)}
"""The profiles by name: the choices of the CLI and the demo."""


def resolve(profile: Profile | str | None) -> Profile:
    """The Profile of an edge's argument: a Profile itself, one named in `PROFILES`, or
    `DEFAULT` for None; an unknown name is a `ProfileError` naming the choices."""
    if profile is None:
        return DEFAULT
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ProfileError(f"Unknown profile {profile!r}: choose one of {', '.join(map(repr, PROFILES))}.")
    return PROFILES[profile]


__all__ = ["DEFAULT", "IMPROVED", "OFFICIAL", "PROFILES", "Profile", "ProfileError", "resolve"]
