"""GeoSAM2: prompt-controllable 3D part segmentation of meshes.

The public face: everything the README's Python example needs is importable from
``geosam2`` itself. Names are resolved on first use, so ``import geosam2`` stays
light (torch is imported only by what needs the network).
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from . import _moved

_moved.install()

_PUBLIC = {
    "GeoSAM2Error": "geosam2.errors",
    "Mesh": "geosam2.io.mesh",
    "load_mesh": "geosam2.io.mesh",
    "PointCloud": "geosam2.io.pointcloud",
    "load_geometry": "geosam2.io.pointreaders",
    "export_mesh": "geosam2.io.export",
    "Prompt": "geosam2.segmenters.prompts",
    "Views": "geosam2.render",
    "render_views": "geosam2.render",
    "Rig": "geosam2.render.rig",
    "official_rig": "geosam2.render.rig",
    "GeometrySegmenter": "geosam2.segmenters.geometry",
    "GeoSAM2Segmenter": "geosam2.segmenters.geosam2",
    "load_geosam2": "geosam2.model",
    "Session": "geosam2.pipeline.session",
    "Update": "geosam2.pipeline.session",
    "Part": "geosam2.pipeline.parts",
    "Settings": "geosam2.settings",
    "Workspace": "geosam2.pipeline.workspace",
    "Workpiece": "geosam2.pipeline.workspace",
}
"""Public name -> the module defining it."""

try:
    __version__ = version("geosam2")
except PackageNotFoundError:  # source tree used without installing
    __version__ = "unknown"

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'geosam2' has no attribute {name!r}")
    value = getattr(import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
