"""Crop a part's textures to the texels its faces use, for self-contained part files.

Every part's GLB embeds its textures: with the whole 1024² atlas in each, the
official drill's parts ZIP was 17x its input. `cropped_visual` keeps of each
texture of a part's material the pixel box around the part's UVs (plus
CROP_MARGIN texels for filtering) and blanks the texels of that box no face of
the part covers (plus the margin) with the mean colour of those it covers, so
each part's file pays for its own texels only; UVs are remapped so that every
UV lands on the same texel as before. Textures sampled outside [0, 1] (repeat
wrapping), materials whose textures differ in size and non-PBR materials are
kept whole.
"""

from __future__ import annotations

import numpy as np
import trimesh
from PIL import Image, ImageDraw, JpegImagePlugin

CROP_MARGIN = 2  # texels kept around a part's UV triangles (bilinear filtering, mipmaps)  # settings: moves to geosam2/settings.py
PBR_FIELDS = ("name", "emissiveFactor", "emissiveTexture", "baseColorFactor", "metallicFactor", "roughnessFactor",
              "normalTexture", "occlusionTexture", "baseColorTexture", "metallicRoughnessTexture", "doubleSided",
              "alphaMode", "alphaCutoff")  # fmt: skip
TEXTURE_FIELDS = ("baseColorTexture", "metallicRoughnessTexture", "normalTexture", "occlusionTexture", "emissiveTexture")
UV_TOLERANCE = 1e-6
ENCODER_SETTINGS = {"JPEG": {"quality": "keep"}, "PNG": {"compress_level": 1}}
"""How Pillow re-encodes textures (trimesh decodes them and encodes them again in
every file): JPEGs with their own quantisation tables and subsampling ("keep";
Pillow's default quality 75 loses 5 grey levels on average on the official
example), PNGs at the fastest compression (the default spends 0.5 s per 1024²
texture and file)."""


def _pixel_box(uv: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel box (rows from the top) around (N, 2) `uv` (v up)
    in an image of `size` (width, height), widened by CROP_MARGIN and clipped."""
    width, height = size
    x0 = int(np.floor(uv[:, 0].min() * width)) - CROP_MARGIN
    x1 = int(np.ceil(uv[:, 0].max() * width)) + CROP_MARGIN
    y0 = int(np.floor((1 - uv[:, 1].max()) * height)) - CROP_MARGIN
    y1 = int(np.ceil((1 - uv[:, 1].min()) * height)) + CROP_MARGIN
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def _coverage(uv: np.ndarray, faces: np.ndarray, size: tuple[int, int], box: tuple) -> Image.Image:
    """An 'L' mask of the `box` (see `_pixel_box`): 255 on texels under the UV
    triangles of (K, 3) `faces`, widened by CROP_MARGIN texels."""
    x0, y0, x1, y1 = box
    mask = Image.new("L", (x1 - x0, y1 - y0), 0)
    draw = ImageDraw.Draw(mask)
    pixels = np.c_[uv[:, 0] * size[0] - x0, (1 - uv[:, 1]) * size[1] - y0]
    for triangle in pixels[faces]:
        draw.polygon([tuple(p) for p in triangle], fill=255, outline=255)
    covered = np.asarray(mask) > 0
    for axis in (0, 1):  # widen by CROP_MARGIN texels (a square max filter, separable; PIL's took 50 ms a part)
        grown = covered.copy()
        for shift in range(1, CROP_MARGIN + 1):
            ahead, behind = [slice(None)] * 2, [slice(None)] * 2
            ahead[axis], behind[axis] = slice(shift, None), slice(None, -shift)
            grown[tuple(ahead)] |= covered[tuple(behind)]
            grown[tuple(behind)] |= covered[tuple(ahead)]
        covered = grown
    return Image.fromarray(covered.astype(np.uint8) * 255)


def _crop(image: Image.Image, box: tuple, mask: Image.Image) -> Image.Image:
    """The `box` of `image`, texels outside `mask` set to the mean of those inside,
    to be encoded as the source was (JPEG with its own tables, else PNG)."""
    window = image.crop(box)
    if window.mode not in ("RGB", "RGBA", "L", "LA"):
        window = window.convert("RGBA")
    mean = np.asarray(window)[np.asarray(mask) > 0].mean(axis=0)
    fill = Image.new(window.mode, window.size, tuple(np.round(np.atleast_1d(mean)).astype(int)))
    cropped = Image.composite(window, fill, mask)
    if image.format == "JPEG" and window.mode in ("RGB", "L"):
        cropped.format = "JPEG"
        cropped.encoderinfo = {"qtables": image.quantization, "subsampling": JpegImagePlugin.get_sampling(image)}
    else:
        cropped.format = "PNG"
        cropped.encoderinfo = ENCODER_SETTINGS["PNG"]
    return cropped


def cropped_visual(visual, faces: np.ndarray):
    """A TextureVisuals like `visual` whose material's textures hold only the texels
    of (K, 3) `faces` (vertex indices into its UVs) and whose UVs point at them;
    `visual` itself when nothing is to gain (see the module docstring)."""
    material = getattr(visual, "material", None)
    uv = getattr(visual, "uv", None)
    if not isinstance(material, trimesh.visual.material.PBRMaterial) or uv is None or not len(faces):
        return visual
    images = {f: getattr(material, f) for f in TEXTURE_FIELDS if isinstance(getattr(material, f), Image.Image)}
    uv = np.asarray(uv, np.float64)
    used = uv[np.unique(faces)]
    sizes = {image.size for image in images.values()}
    if len(sizes) != 1 or used.min() < -UV_TOLERANCE or used.max() > 1 + UV_TOLERANCE:
        return visual
    size = sizes.pop()
    box = _pixel_box(used, size)
    mask = _coverage(uv, faces, size, box)
    fields = {f: getattr(material, f) for f in PBR_FIELDS if getattr(material, f) is not None}
    fields.update({f: _crop(image, box, mask) for f, image in images.items()})
    x0, y0, x1, y1 = box
    remapped = np.c_[(uv[:, 0] * size[0] - x0) / (x1 - x0), 1 - ((1 - uv[:, 1]) * size[1] - y0) / (y1 - y0)]
    cropped = trimesh.visual.TextureVisuals(uv=remapped, material=trimesh.visual.material.PBRMaterial(**fields))
    for key, values in visual.vertex_attributes.items():
        if key != "uv":
            cropped.vertex_attributes[key] = values
    return cropped
