"""The model the demo shares between all users: GeoSAM2 when its weights load, else none.

Loading never waits on an unreachable network: without GEOSAM2_CHECKPOINT the
Hugging Face Hub is tried only when HF_HUB_OFFLINE is unset and a quick
connection to the Hub succeeds (otherwise only the local Hub cache is used).
Without weights the demo runs the offline geometry segmenter.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from geosam2.errors import GeoSAM2Error
from geosam2.geometry import GeometrySegmenter

HUB_HOST = "huggingface.co"
HUB_REPO, HUB_FILE = "VAST-AI/GeoSAM2", "geosam2.pt"
GEOSAM2, GEOMETRY = "GeoSAM2", "Offline geometry"
HOW_TO_GET_WEIGHTS = (
    "To use GeoSAM2, set GEOSAM2_CHECKPOINT=/path/to/geosam2.pt, or run with network access "
    f"so that `{HUB_FILE}` is downloaded from the Hugging Face Hub repository {HUB_REPO}."
)


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

    def make_segmenter(self, segmenter_name: str):
        """A new per-user segmenter (the network itself is shared)."""
        if segmenter_name == GEOSAM2 and self.network is not None:
            from geosam2.predictor import GeoSAM2Segmenter

            return GeoSAM2Segmenter(self.network)
        return GeometrySegmenter()


def hub_reachable(host: str = HUB_HOST, timeout: float = 2.0) -> bool:
    """Whether a TCP connection to `host`:443 opens within `timeout` seconds."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _checkpoint(environ) -> str | None:
    """The checkpoint to load: GEOSAM2_CHECKPOINT, else the Hub cache, else None
    (download) when the Hub is reachable; raises GeoSAM2Error when there is none."""
    if environ.get("GEOSAM2_CHECKPOINT"):
        return environ["GEOSAM2_CHECKPOINT"]
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(HUB_REPO, HUB_FILE)
    if isinstance(cached, str):
        return cached
    if environ.get("HF_HUB_OFFLINE", "0").lower() not in ("", "0", "false", "no") or not hub_reachable():
        raise GeoSAM2Error("no GeoSAM2 weights: GEOSAM2_CHECKPOINT is not set and the Hugging Face Hub is offline")
    return None


def load_shared_model(environ=os.environ) -> SharedModel:
    """Load GeoSAM2 once for all users, or explain why the geometry segmenter is used."""
    try:
        from geosam2.predictor import load_geosam2

        network = load_geosam2(_checkpoint(environ))
    except ImportError as exc:
        return SharedModel(note=f"GeoSAM2 is not installed in this build ({exc}). {HOW_TO_GET_WEIGHTS}")
    except (GeoSAM2Error, OSError, RuntimeError) as exc:
        return SharedModel(note=f"GeoSAM2 weights could not be loaded ({exc}). {HOW_TO_GET_WEIGHTS}")
    device = str(next(network.parameters()).device)
    return SharedModel(network, device)
