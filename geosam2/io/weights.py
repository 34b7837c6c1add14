"""Where the GeoSAM2 weights are: a given path, GEOSAM2_CHECKPOINT, or the Hugging
Face Hub (its local cache, else a download when the Hub answers).

Free of torch, so that a missing checkpoint is reported in a second, before the
network's libraries (~10 s to import) are loaded.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ..errors import WeightsNotFoundError

HUB_REPO = "VAST-AI/GeoSAM2"
HUB_FILE = "geosam2.pt"
CHECKPOINT_ENV = "GEOSAM2_CHECKPOINT"


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face Hub can be used: HF_HUB_OFFLINE is not set and a TCP
    connection to its endpoint (huggingface.co:443, or HF_ENDPOINT) opens within
    `timeout` seconds. Checked before a download, whose retries take ~30 s offline."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def hub_file(repo: str, filename: str, how_else: str) -> Path:
    """`filename` of Hub repo `repo`: the local huggingface_hub cache's copy, else a
    download when the Hub is reachable (see `hub_reachable`)."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(repo, filename)
    if isinstance(cached, str):
        return Path(cached)
    if not hub_reachable():
        raise WeightsNotFoundError(
            f"{filename} is not in the local cache and the Hugging Face Hub repository {repo} cannot be reached "
            f"(offline, or HF_HUB_OFFLINE set). {how_else}, or connect to the internet (with HF_HUB_OFFLINE unset) to download it."
        ) from None  # as below: no chained traceback for a user error
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename))
    except Exception as exc:  # hub errors, a lost connection: all mean "not available"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsNotFoundError(
            f"Could not get {filename} from the Hugging Face Hub repository {repo} ({type(exc).__name__}: {reason}). "
            f"{how_else}, or connect to the internet (with HF_HUB_OFFLINE unset) to download it."
        ) from None


def local_file(path: str | os.PathLike, source: str) -> Path:
    """`path` as an existing file, else WeightsNotFoundError naming where it came from."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"Checkpoint '{path}' ({source}) does not exist: give the path of a downloaded {HUB_FILE}.")
    return path


def resolve_checkpoint(checkpoint: str | os.PathLike | None = None) -> Path:
    """The GeoSAM2 checkpoint file to load.

    `checkpoint` if given, else the GEOSAM2_CHECKPOINT environment variable, else
    ``geosam2.pt`` of VAST-AI/GeoSAM2 from the Hugging Face Hub (cached by
    huggingface_hub). Raises WeightsNotFoundError naming both ways when none works.
    """
    if checkpoint:
        return local_file(checkpoint, "given checkpoint")
    if os.environ.get(CHECKPOINT_ENV):
        return local_file(os.environ[CHECKPOINT_ENV], f"from {CHECKPOINT_ENV}")
    return hub_file(HUB_REPO, HUB_FILE, f"Give a local GeoSAM2 checkpoint (a path argument or {CHECKPOINT_ENV}=/path/to/{HUB_FILE})")
