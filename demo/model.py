"""The model the demo shares between all users: GeoSAM2 when its weights load, else none.

The checkpoint is found as everywhere in the project (`geosam2.model.checkpoint`:
GEOSAM2_CHECKPOINT, else the Hugging Face Hub), except that the Hub is asked only
when it answers within 2 s (otherwise only its local cache is used), so that an
offline server starts at once. Without weights the demo runs the offline
geometry segmenter and its status line says why GeoSAM2 is not there; other
failures (a bug, CUDA out of memory) are not hidden: they stop the server.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from geosam2.errors import GeoSAM2Error, WeightsNotFoundError
from geosam2.geometry import GeometrySegmenter

HUB_HOST = "huggingface.co"
GEOSAM2, GEOMETRY = "GeoSAM2", "Offline geometry"


@dataclass(frozen=True)
class SharedModel:
    """The loaded GeoSAM2 network (or None) and how to describe it.

    Attributes
    ----------
    network : torch.nn.Module or None
    device : str
        Where segmentation runs, e.g. "cuda:0" or "cpu".
    note : str
        Why GeoSAM2 is not available and how to provide it ("" when loaded).
    """

    network: object = None
    device: str = "cpu"
    note: str = ""

    @property
    def segmenters(self) -> list[str]:
        """Names of the segmenters a user may choose, the default first."""
        return [GEOSAM2, GEOMETRY] if self.network is not None else [GEOMETRY]

    def describe(self, segmenter_name: str) -> str:
        """One line naming the segmenter in use and its device."""
        if segmenter_name == GEOSAM2 and self.network is not None:
            return f"GeoSAM2 on {self.device}"
        return "offline geometry segmenter (parts split at sharp concave creases) on cpu"

    def make_segmenter(self, segmenter_name: str, prepared):
        """A new per-user segmenter of `prepared` (demo.meshes.PreparedMesh); GeoSAM2's
        network and the features of the prepared mesh's views are shared."""
        if segmenter_name == GEOSAM2 and self.network is not None:
            from .features import SharedFeaturesSegmenter

            return SharedFeaturesSegmenter(self.network, prepared)
        return GeometrySegmenter()

    def encode(self, prepared) -> None:
        """Compute the GeoSAM2 features of `prepared`'s views now (nothing without weights)."""
        if self.network is not None:
            self.make_segmenter(GEOSAM2, prepared).features(prepared.views)


def hub_reachable(host: str = HUB_HOST, timeout: float = 2.0) -> bool:
    """Whether a TCP connection to `host`:443 opens within `timeout` seconds."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _offline(environ) -> bool:
    return environ.get("HF_HUB_OFFLINE", "0").strip().lower() not in ("", "0", "false", "no")


def checkpoint_to_load(environ=os.environ, reachable=hub_reachable) -> str | None:
    """What to give `load_geosam2`: GEOSAM2_CHECKPOINT's path; None (its own lookup,
    downloading from the Hub if needed) when the Hub answers; else the Hub's local
    cache. Raises WeightsNotFoundError when offline with nothing cached."""
    from geosam2.model.checkpoint import CHECKPOINT_ENV, HUB_FILE, HUB_REPO

    if environ.get(CHECKPOINT_ENV):
        return environ[CHECKPOINT_ENV]
    if not _offline(environ) and reachable():
        return None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(HUB_REPO, HUB_FILE)
    if isinstance(cached, str):
        return cached
    raise WeightsNotFoundError(
        f"No GeoSAM2 weights: {CHECKPOINT_ENV} is not set, the Hugging Face Hub cannot be reached and its cache has "
        f"no {HUB_FILE}. Set {CHECKPOINT_ENV}=/path/to/{HUB_FILE}, or run with network access so that it is "
        f"downloaded from {HUB_REPO}."
    )


def load_shared_model(environ=os.environ, reachable=hub_reachable) -> SharedModel:
    """Load GeoSAM2 once for all users, or say why the geometry segmenter is used.

    Only what a user can fix falls back to the geometry segmenter, with the reason
    in `note`: GeoSAM2 not installed, weights missing or unreadable (GeoSAM2Error).
    """
    try:
        from geosam2.model import load_geosam2
    except ImportError as exc:
        return SharedModel(note=f"GeoSAM2 is not installed in this build ({exc}): install the `sam2` package.")
    try:
        network = load_geosam2(checkpoint_to_load(environ, reachable))
    except GeoSAM2Error as exc:
        return SharedModel(note=f"GeoSAM2 is not used: {exc}")
    device = str(next(network.parameters()).device)
    return SharedModel(network, device)
