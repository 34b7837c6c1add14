"""GeoSAM2: prompt-controllable 3D part segmentation of meshes."""

from importlib.metadata import PackageNotFoundError, version

from .errors import GeoSAM2Error
from .mesh import Mesh, load_mesh
from .prompts import Prompt
from .render import Views, render_views
from .views import Rig, official_rig

try:
    __version__ = version("geosam2")
except PackageNotFoundError:  # source tree used without installing
    __version__ = "unknown"

__all__ = ["__version__", "GeoSAM2Error", "Mesh", "load_mesh", "Prompt", "Views", "render_views", "Rig", "official_rig"]
