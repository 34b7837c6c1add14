"""Limits on what a loaded file may make the process allocate, and their messages.

Faces: `face_limit()` (`geosam2.settings.Settings.max_faces`). Texture images: at most MAX_TEXTURE_PIXELS pixels each, read
from the image header before anything is decoded; larger textures are refused
(decoding a 10,000 x 10,000 PNG took 2.6 GB and 22 s in trimesh), with a sentence
saying to downscale them.
"""

from __future__ import annotations

import io
import warnings

from ..errors import GeoSAM2Error, MeshTooLargeError
from ..settings import OPTIONS, Settings

MAX_TEXTURE_PIXELS = 4096 * 4096  # per image
VERTICES_PER_FACE = 3  # a file may declare at most this many vertices per face of the limit


def face_limit() -> int:
    """The largest face count a mesh may have: `Settings.max_faces` as the environment
    sets it (``GEOSAM2_MAX_FACES``), else its default."""
    return Settings.from_env().max_faces


class TooManyFacesError(MeshTooLargeError):
    """A mesh above the face limit; `name`, `faces` and `limit` let a caller word its own message."""

    def __init__(self, message: str, name: str, faces: int, limit: int):
        super().__init__(message)
        self.name, self.faces, self.limit = name, faces, limit


def too_many_faces(name: str, faces: int, limit: int) -> TooManyFacesError:
    """The error for a mesh `name` of `faces` faces above `limit` (worded for the command line)."""
    return TooManyFacesError(
        f"'{name}' has {faces:,} faces, more than the limit of {limit:,}: "
        "decimate it first (e.g. Blender's Decimate modifier) or raise the limit "
        f"(`--max-faces N` on `geosam2 render`, `segment`, `segment-many` and `evaluate`, "
        f"or the environment variable {OPTIONS['max_faces'].env}=N for any command).",
        name,
        faces,
        limit,
    )


def check_image_size(data: bytes, name: str, what: str) -> bool:
    """Read the header of the encoded image `data` (`what` of file `name`, e.g.
    "image 2") without decoding it. Returns False when Pillow cannot read the
    header; raises MeshTooLargeError above MAX_TEXTURE_PIXELS."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning: refused below
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Exception:  # Pillow raises many types for data it cannot identify
        return False
    if width * height > MAX_TEXTURE_PIXELS:
        raise MeshTooLargeError(
            f"'{name}' has a texture ({what}) of {width} x {height} pixels, more than the limit of "
            f"{MAX_TEXTURE_PIXELS:,} pixels per texture: downscale its textures (e.g. to 4096 x 4096) and load it again."
        )
    return True
