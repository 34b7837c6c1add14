"""Options several commands share, declared from `geosam2.settings` (defaults, ranges, variables)."""

from __future__ import annotations

import argparse
import math

from ..profiles import PROFILES
from ..settings import OPTIONS, Option, Settings


def option_type(option: Option):
    """argparse type: a value in `option`'s range (e.g. a resolution from 16 to 4096)."""

    def parse(text: str):
        value = option.parse(text)
        if value is None:
            raise argparse.ArgumentTypeError(f"expected {option.span()}, got {text!r}")
        return value

    return parse


def whole_number(low: int, high: int | None = None):
    """argparse type: a whole number from `low` to `high` (no upper bound when None)."""
    return option_type(Option(low, low, high))


def add_setting(parser, name: str, flag: str | None = None, what: str | None = None, from_env: bool = False) -> None:
    """Add the option `--<name>` (or `flag`) of Settings field `name`, its range from
    `geosam2.settings.OPTIONS`; `from_env`: no argparse default, the value then comes
    from the environment variable or the default (`Settings.from_env`)."""
    option = OPTIONS[name]
    where = f"${option.env} when set, else {option.default:,}" if from_env and option.env else f"{option.default:g}"
    parser.add_argument(
        flag or "--" + name.replace("_", "-"),
        type=option_type(option),
        default=None if from_env else option.default,
        help=f"{what or option.words}, {option.span()} (default {where})",
    )


def add_profile(parser) -> None:
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        help="inference profile: " + "; ".join(f"{name}: {profile.description}" for name, profile in PROFILES.items()),
    )


def add_face_limits(parser, budget: bool = True) -> None:
    """--max-faces (refusal) and, with `budget`, --face-budget (proxy), both defaulting to their variables."""
    add_setting(parser, "max_faces", what="refuse meshes with more faces than this", from_env=True)
    if budget:
        add_setting(parser, "face_budget", what="segment a decimated proxy of this many faces above it, export the full mesh", from_env=True)


def add_resumable_out(parser, items: str, contents: str = "") -> None:
    """--out and --restart of a command whose results resume (`items`: what is kept,
    "objects" or "meshes"; `contents`: words on the folder's contents)."""
    parser.add_argument(
        "--out",
        required=True,
        help=f"output folder{contents}; re-running with the same settings resumes (finished {items} whose files are unchanged "
        "are kept, the others done again), other settings are refused",
    )
    parser.add_argument("--restart", action="store_true", help="delete the results already in --out and start afresh (e.g. after changing settings)")
    parser.set_defaults(on_interrupt=f"the finished {items} are kept in {{out}}; re-run the same command to resume.")


def settings_of(args) -> Settings:
    """The Settings of a command: its options given (or defaulted by argparse), the
    environment variables for the rest (`Settings.from_env`)."""
    given = {name: getattr(args, name, None) for name in ("resolution", "pa", "face_budget", "max_faces", "profile", "network_mb")}
    return Settings.from_env(**given)


def parse_shard(text: str) -> tuple[int, int]:
    """argparse type: shard "i/n" as (i, n), 0 <= i < n."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not (count >= 1 and 0 <= index < count):
        raise argparse.ArgumentTypeError(f"shard {text} needs 0 <= i < n")
    return index, count


def parse_numbers(count: int):
    """argparse type: `count` comma-separated finite numbers, e.g. "120,88"."""

    def parse(text: str) -> tuple:
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            values = ()
        if len(values) != count or not all(math.isfinite(v) for v in values):
            raise argparse.ArgumentTypeError(f"expected {count} comma-separated finite numbers, got {text!r}")
        return values

    return parse
