"""Which renderer runs: PyTorch3D rasterisation on CUDA, else the CPU renderers.

``backend="auto"`` (the default of :func:`geosam2.render.render_views` and
:func:`geosam2.render.splat.splat_views`) picks ``"pytorch3d"`` when CUDA and
PyTorch3D are available, else the CPU renderer: embree ray casting for meshes
(``"raycast"``), disc splatting for point clouds (``"splat"``). PyTorch3D also
runs on the CPU when asked for by name, about 100x slower than embree: for
checking results, not for use.
"""

from __future__ import annotations

import functools
import importlib.util

MESH_BACKENDS = ("auto", "raycast", "pytorch3d")
POINT_BACKENDS = ("auto", "splat", "pytorch3d")
_CPU_BACKEND = {MESH_BACKENDS: "raycast", POINT_BACKENDS: "splat"}
_NAMES = {
    "raycast": "embree ray casting on CPU",
    "splat": "disc splatting on CPU",
}


@functools.cache
def cuda_device_name() -> str | None:
    """Name of the CUDA device PyTorch3D would run on, None without CUDA or PyTorch3D.

    Imports torch (and PyTorch3D's compiled part) only when PyTorch3D is installed.
    """
    if importlib.util.find_spec("pytorch3d") is None:
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    try:
        import pytorch3d._C  # noqa: F401  (a build for another torch fails here)
    except ImportError:
        return None
    return torch.cuda.get_device_name()


def resolve_backend(backend: str, point_cloud: bool = False) -> str:
    """The concrete backend `backend` stands for ("auto" resolved), checked against
    the mesh or point-cloud backends."""
    choices = POINT_BACKENDS if point_cloud else MESH_BACKENDS
    if backend not in choices:
        kind = "point-cloud" if point_cloud else "render"
        raise ValueError(f"Unknown {kind} backend '{backend}': choose one of {choices}.")
    if backend != "auto":
        return backend
    return "pytorch3d" if cuda_device_name() is not None else _CPU_BACKEND[choices]


def describe_backend(backend: str = "auto", point_cloud: bool = False) -> str:
    """One line naming the renderer and device, for status lines, e.g.
    "PyTorch3D rasterisation on CUDA (NVIDIA L4)" or "embree ray casting on CPU"."""
    chosen = resolve_backend(backend, point_cloud)
    if chosen != "pytorch3d":
        return _NAMES[chosen]
    device = cuda_device_name()
    return f"PyTorch3D rasterisation on CUDA ({device})" if device else "PyTorch3D rasterisation on CPU (slow)"
