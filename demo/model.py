"""The model the demo shares between all users: GeoSAM2 when its weights load, else none.

The checkpoint is found as everywhere in the project (`geosam2.io.weights`:
GEOSAM2_CHECKPOINT, else the Hugging Face Hub's cache, else a download when the Hub
answers within 2 s), so that an offline server starts at once. Without weights the demo runs the offline
geometry segmenter and its status line says why GeoSAM2 is not there; other
failures (a bug, CUDA out of memory) are not hidden: they stop the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from geosam2.errors import GeoSAM2Error
from geosam2.segmenters.network import LOCAL

from .gpu import ZeroGPURunner, spaces_gpu

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
    runner : where the network's work runs (`geosam2.segmenters.network.LOCAL`, or
        on ZeroGPU a `demo.gpu.ZeroGPURunner`: one GPU call per step, the network
        on the CPU in this process)
    """

    network: object = None
    device: str = "cpu"
    note: str = ""
    runner: object = LOCAL

    @property
    def encodes_at_start(self) -> bool:
        """Whether the examples are encoded when the server starts (with weights, not on
        ZeroGPU: there GPU time is booked per visitor's call)."""
        return self.network is not None and self.runner is LOCAL

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
        """A segmenter of `prepared` (demo.meshes.PreparedMesh) for one user: GeoSAM2's
        network and the features of the prepared mesh's views are shared; the geometry
        segmenter is shared whole (`PreparedMesh.geometry_segmenter`)."""
        if segmenter_name == GEOSAM2 and self.network is not None:
            from .features import SharedFeaturesSegmenter

            return SharedFeaturesSegmenter(self.network, prepared, runner=self.runner)
        return prepared.geometry_segmenter()

    def encode(self, prepared) -> None:
        """Compute the GeoSAM2 features of `prepared`'s views now (nothing without weights)."""
        if self.network is not None:
            self.make_segmenter(GEOSAM2, prepared).features(prepared.views)


def load_shared_model(checkpoint: str | None = None) -> SharedModel:
    """Load GeoSAM2 once for all users, or say why the geometry segmenter is used.

    `checkpoint` as in `geosam2.model.load_geosam2` (None: GEOSAM2_CHECKPOINT, else the
    Hub's cache, else a download when the Hub answers within 2 s); with the `spaces`
    package (ZeroGPU), kept on the CPU and run through `demo.gpu`. Only what a user can
    fix falls back to the geometry segmenter, with the reason in `note`: GeoSAM2 not
    installed, weights missing or unreadable (GeoSAM2Error).
    """
    try:
        from geosam2.model import load_geosam2
    except ImportError as exc:
        return SharedModel(note=f"GeoSAM2 is not installed in this build ({exc}): install the `sam2` package.")
    gpu = spaces_gpu()
    try:
        network = load_geosam2(checkpoint, device="cpu" if gpu is not None else None)  # ZeroGPU: CUDA in its calls only
    except GeoSAM2Error as exc:
        return SharedModel(note=f"GeoSAM2 is not used: {exc}")
    if gpu is not None:
        return SharedModel(network, "ZeroGPU", runner=ZeroGPURunner(network, gpu))
    return SharedModel(network, str(next(network.parameters()).device))
