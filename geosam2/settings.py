"""Every user-facing setting once: its default, its range and its environment variable.

The command line (its options' defaults and ranges), the demo (its sliders and
its server's limits) and the Python API (:class:`~geosam2.pipeline.workspace.Workspace`)
all read them from here:

========================  ===========  ====================  ==============================
setting                   default      range                 environment variable
========================  ===========  ====================  ==============================
resolution (px)           1024         16 .. 4096            -
pa (clean-up threshold)   0.02         0 .. <1               -
samples_per_face          5            1 .. 10               -
face_budget (proxy)       500,000      0 (never) or >= 100   ``GEOSAM2_FACE_BUDGET``
max_faces (refusal)       memory (*)   >= 1                  ``GEOSAM2_MAX_FACES``
demo_max_faces (demo)     2,000,000    >= 1                  ``GEOSAM2_DEMO_MAX_FACES``
profile                   default      default|official|imp. -
cache_mb (demo)           1024         > 0                   ``GEOSAM2_DEMO_CACHE_MB``
store_mb (demo)           1024         > 0                   ``GEOSAM2_DEMO_STORE_MB``
idle_minutes (demo)       30           > 0                   ``GEOSAM2_DEMO_IDLE_MINUTES``
network_mb                0 (no cap)   >= 0                  ``GEOSAM2_NETWORK_MB``
========================  ===========  ====================  ==============================

(*) `memory_face_limit`: 75 % of the machine's memory (or its control group's
limit) over `BYTES_PER_FACE` (24 GiB: about 12.9M faces), so meshes of 3-10M faces
pass where the memory holds them. The demo refuses visitors' meshes above
`demo_max_faces` instead (a shared server).

The demo renders :data:`DEMO_RESOLUTION` (512 px) by default, for CPU speed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Mapping

from .errors import GeoSAM2Error

if TYPE_CHECKING:
    from .profiles import Profile

MB = 1 << 20


class SettingsError(GeoSAM2Error):
    """A setting (given, or read from the environment) is out of its range."""


@dataclass(frozen=True)
class Option:
    """One numeric setting: its default and range, and what a slider offers of it.

    Attributes
    ----------
    default : int or float
    low, high : the range (`high` None: no upper bound)
    low_included, high_included : whether `low`, `high` themselves are allowed
    integer : whether the value is a whole number
    env : the environment variable setting it, or None
    words : what it is, for messages ("render resolution in pixels")
    slider : (low, high, step) the demo's slider offers, or None
    zero_or_from : when set, the range is 0 (off) or from this value on (`low` is then 0)
    """

    default: float
    low: float
    high: float | None = None
    low_included: bool = True
    high_included: bool = True
    integer: bool = True
    env: str | None = None
    words: str = ""
    slider: tuple | None = None
    zero_or_from: float | None = None

    def span(self) -> str:
        """The range in words, e.g. "a whole number from 16 to 4096"."""
        kind = "a whole number" if self.integer else "a number"
        if self.zero_or_from is not None:
            return f"0 (off) or {kind} of at least {self.zero_or_from:,g}"
        if self.high is None:
            return f"{kind} of at least {self.low:g}" if self.low_included else f"{kind} above {self.low:g}"
        upper = f"to {self.high:g}" if self.high_included else f"up to (not including) {self.high:g}"
        return f"{kind} from {self.low:g} {upper}"

    def contains(self, value) -> bool:
        """Whether `value` is in the range (and whole when it must be)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return False
        if self.integer and int(value) != value:
            return False
        if self.zero_or_from is not None and 0 < value < self.zero_or_from:
            return False
        above_low = value > self.low or (value == self.low and self.low_included)
        below_high = self.high is None or value < self.high or (value == self.high and self.high_included)
        return above_low and below_high

    def parse(self, text: str):
        """The value `text` spells (underscores allowed, "2_000_000"), or None if it spells none in range."""
        try:
            value = float(text.replace("_", ""))
        except ValueError:
            return None
        if not self.contains(value):
            return None
        return int(value) if self.integer else value


BYTES_PER_FACE = 1_500
"""Peak resident bytes per face of a mesh segmented through the proxy (`geosam2
segment --auto`: load, decimation to the default budget, views and segmentation of
the proxy, transfer, exports), fixed costs included, with a margin:
`bench/bench_huge_mesh.py` measured a peak of 9.07 GiB for 9,959,424 faces
(980 B/face; 10.30 GiB before the proxy's collapse map) and 3.4 GiB for 2.0M faces (1,800 B/face, where the 500k-face
proxy's session is a larger share)."""
MEMORY_SHARE = 0.75
"""Share of the machine's memory one run may plan to use for the face limit."""


def machine_memory_bytes() -> int:
    """The memory this process may use: the machine's physical memory, or the
    control group's limit (containers) when lower."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(limit_file).read().strip()
        except OSError:
            continue
        if text.isdigit():
            physical = min(physical, int(text))
    return physical


def memory_face_limit(memory_bytes: int | None = None) -> int:
    """The default face limit: `MEMORY_SHARE` of `memory_bytes` (default: the
    machine's, `machine_memory_bytes`) over `BYTES_PER_FACE`, so the refusal follows
    what the machine can hold (24 GiB: 12.9M faces); at least 1."""
    memory = machine_memory_bytes() if memory_bytes is None else memory_bytes
    return max(1, int(MEMORY_SHARE * memory / BYTES_PER_FACE))


MIN_PROXY_FACES = 100
"""The smallest positive face budget: a proxy of fewer faces keeps nothing of a shape
(a budget of 1 left no face at all)."""

POSITIVE = dict(low=0.0, low_included=False, integer=False)  # the demo's budgets: any number above 0

OPTIONS = {
    "resolution": Option(1024, 16, 4096, words="render resolution in pixels", slider=(256, 1024, 128)),
    "pa": Option(0.02, 0.0, 1.0, high_included=False, integer=False, words="clean-up threshold PA", slider=(0.0, 0.1, 0.005)),
    "samples_per_face": Option(5, 1, 10, words="visibility samples per face", slider=(1, 10, 1)),
    "face_budget": Option(500_000, 0, env="GEOSAM2_FACE_BUDGET", words="face budget (0 = never use a proxy)", zero_or_from=MIN_PROXY_FACES),
    "max_faces": Option(memory_face_limit(), 1, env="GEOSAM2_MAX_FACES", words="largest number of faces accepted"),
    "demo_max_faces": Option(2_000_000, 1, env="GEOSAM2_DEMO_MAX_FACES", words="largest number of faces of a mesh a visitor may upload"),
    "cache_mb": Option(1024, env="GEOSAM2_DEMO_CACHE_MB", words="demo's cache of rendered meshes in MB", **POSITIVE),
    "store_mb": Option(1024, env="GEOSAM2_DEMO_STORE_MB", words="demo's budget of users' states in MB", **POSITIVE),
    "idle_minutes": Option(30, env="GEOSAM2_DEMO_IDLE_MINUTES", words="minutes before an unused demo state is dropped", **POSITIVE),
    "network_mb": Option(
        0, 0, integer=False, env="GEOSAM2_NETWORK_MB", words="most MB one batch of GeoSAM2's automatic mode may take (0: half the free memory)"
    ),
}
"""The numeric settings by field name of :class:`Settings`."""

DEMO_RESOLUTION = 512
"""The demo's default view size in pixels: a quarter of the release's pixels keeps the
CPU demo quick (the release, the CLI and the evaluation render 1024)."""


@dataclass(frozen=True)
class Settings:
    """Every user-facing setting of a run, checked when made (a `SettingsError`
    names the setting, the value and the range).

    Attributes
    ----------
    resolution : int, rendered view size in pixels
    pa : float, relative size below which clean-up clears a label's fragments
    samples_per_face : int, the official profile's random visibility samples per face
    face_budget : int, meshes with more faces are segmented on a decimated proxy of
        this many faces and exported whole; 0 = never
    max_faces : int, meshes with more faces are refused (default: from the machine's
        memory, `memory_face_limit`)
    demo_max_faces : int, the demo refuses visitors' meshes with more faces (a shared
        server's limit, lower than what one user's run may take)
    profile : Profile, the inference profile (`geosam2.profiles`); given as a Profile,
        one of its names, or None for `geosam2.profiles.DEFAULT`
    cache_mb, store_mb : float, the demo's memory budgets (shared meshes, users' states)
    idle_minutes : float, the demo drops a user's state unused this long
    network_mb : float, the most memory in MB one batch of GeoSAM2's automatic mode
        (decoded clicks, tracked parts) may take; 0: half the memory free when it starts
        (`geosam2.segmenters.batching.NetworkMemory`)
    """

    resolution: int = OPTIONS["resolution"].default
    pa: float = OPTIONS["pa"].default
    samples_per_face: int = OPTIONS["samples_per_face"].default
    face_budget: int = OPTIONS["face_budget"].default
    max_faces: int = OPTIONS["max_faces"].default
    demo_max_faces: int = OPTIONS["demo_max_faces"].default
    profile: Profile | str | None = None
    cache_mb: float = OPTIONS["cache_mb"].default
    store_mb: float = OPTIONS["store_mb"].default
    idle_minutes: float = OPTIONS["idle_minutes"].default
    network_mb: float = OPTIONS["network_mb"].default

    def __post_init__(self):
        for name, option in OPTIONS.items():
            value = getattr(self, name)
            if not option.contains(value):
                raise SettingsError(f"The {option.words} must be {option.span()}, got {value!r}.")
        from .profiles import resolve  # here: the profiles import the whole pipeline, which reads these settings

        object.__setattr__(self, "profile", resolve(self.profile))  # a name given at the edge becomes its Profile

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **given) -> "Settings":
        """Settings from the environment variables of `OPTIONS` (unset or empty: the
        default), then the keyword arguments `given` that are not None (e.g. from the
        command line). Raises SettingsError naming a variable whose value is out of range."""
        values = {}
        for name, option in OPTIONS.items():
            text = environ.get(option.env, "").strip() if option.env else ""
            if text:
                value = option.parse(text)
                if value is None:
                    raise SettingsError(f"{option.env}={text!r}: the {option.words} must be {option.span()}; correct it or unset it.")
                values[name] = value
        values.update({name: value for name, value in given.items() if value is not None})
        return cls(**values)

    def with_values(self, **changes) -> "Settings":
        """A copy with `changes` (checked as any Settings)."""
        return replace(self, **changes)

    @property
    def cache_bytes(self) -> int:
        """`cache_mb` in bytes."""
        return int(self.cache_mb * MB)

    @property
    def store_bytes(self) -> int:
        """`store_mb` in bytes."""
        return int(self.store_mb * MB)

    @property
    def idle_seconds(self) -> float:
        """`idle_minutes` in seconds."""
        return 60.0 * self.idle_minutes

