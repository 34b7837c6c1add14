"""The settings behind an evaluation result: what must match for two results to be
compared, merged or resumed (method and options, checkpoint, weighting, protocol,
code version)."""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from pathlib import Path

from ..io.digest import file_sha256


def _git(source: Path, *args: str) -> str | None:
    """The output of `git args` run in `source`, None when git fails or is missing."""
    try:
        done = subprocess.run(["git", *args], cwd=source, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.cache
def code_version() -> str:
    """geosam2's version, with the git commit when the package is a git checkout's
    source ("0.1.0+g7d3307a"), and a digest of the package's uncommitted changes
    when there are some ("0.1.0+g7d3307a.dirty1a2b3c4d")."""
    import geosam2

    source = Path(geosam2.__file__).parent
    if _git(source, "ls-files", "--error-unmatch", "__init__.py") is None:  # installed copy, not a checkout
        return geosam2.__version__
    version = f"{geosam2.__version__}+g{_git(source, 'rev-parse', '--short', 'HEAD')}"
    changes = _git(source, "diff", "HEAD", "--", ".")
    return f"{version}.dirty{hashlib.sha256(changes.encode()).hexdigest()[:8]}" if changes else version


def checkpoint_identity(path: str | os.PathLike) -> dict:
    """What identifies a checkpoint file wherever it lies: its size and SHA-256."""
    return {"bytes": os.path.getsize(path), "sha256": file_sha256(path)}


def evaluation_settings(method: str, weighting: str = "area", protocol: str = "geosam2", checkpoint=None, **options) -> dict:
    """The settings every record of a run carries: `method`'s name, `weighting`,
    `protocol`, the code version, the identity of the `checkpoint` file (when one
    is given) and the method's other `options` (resolution, PA, prompting...)."""
    settings = {"method": method, "weighting": weighting, "protocol": protocol, "code": code_version(), **options}
    if checkpoint is not None:
        settings["checkpoint"] = checkpoint_identity(checkpoint)
    return settings


def settings_differences(recorded: dict | None, wanted: dict) -> list[str]:
    """"name: recorded -> wanted" for every setting that differs (one entry saying
    so when `recorded` is None: results written before records carried settings)."""
    if recorded is None:
        return ["no settings recorded (results of an older version)"]
    keys = sorted(set(recorded) | set(wanted))
    return [f"{k}: {recorded.get(k, '(none)')} -> {wanted.get(k, '(none)')}" for k in keys if recorded.get(k) != wanted.get(k)]
