"""Write a part as OBJ + MTL text in which every name is the writer's own.

Objects are named by the caller's file-safe stems, materials ``material_<k>``,
textures ``texture_<k>.<ext>``: no input name (material, texture file, node) is
written, so none can add statements or name a path. Texture images are written
once per archive (`TextureFiles`) and shared by every MTL that uses them.
"""

from __future__ import annotations

import io

import numpy as np
import trimesh

from .texturecrop import ENCODER_SETTINGS
EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}


class TextureFiles:
    """Texture images to write once each: image -> ``texture_<k>.<ext>`` and its bytes."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self._names: dict[int, str] = {}
        self._images: list = []  # kept alive so their ids stay unique

    def name_of(self, image) -> str:
        """The file name of PIL `image`, encoded the first time it is asked for
        (JPEG sources as JPEG with their own quantisation, others as PNG)."""
        if id(image) not in self._names:
            kind = "JPEG" if image.format == "JPEG" else "PNG"
            buffer = io.BytesIO()
            image.save(buffer, format=kind, **ENCODER_SETTINGS[kind])
            name = f"texture_{len(self._names)}.{EXTENSIONS[kind]}"
            self.files[name] = buffer.getvalue()
            self._names[id(image)] = name
            self._images.append(image)
        return self._names[id(image)]


def _colour_and_image(material) -> tuple[np.ndarray, object]:
    """(4,) uint8 diffuse RGBA and the diffuse texture (or None) of a trimesh material."""
    if isinstance(material, trimesh.visual.material.PBRMaterial):
        factor = material.baseColorFactor
        return np.asarray([255, 255, 255, 255] if factor is None else factor, np.uint8), material.baseColorTexture
    return np.asarray(material.diffuse, np.uint8), getattr(material, "image", None)


def _mtl_lines(index: int, material, textures: TextureFiles) -> list[str]:
    """The MTL statements of material ``material_<index>``."""
    colour, image = _colour_and_image(material)
    lines = [f"newmtl material_{index}", "Kd {:.6f} {:.6f} {:.6f}".format(*(colour[:3] / 255.0))]
    if colour[3] < 255:
        lines.append(f"d {colour[3] / 255.0:.6f}")
    if image is not None:
        lines.append(f"map_Kd {textures.name_of(image)}")
    return lines


def _vertex_colours(visual) -> np.ndarray | None:
    """(N, 4) uint8 vertex colours of a visual, or None."""
    if isinstance(visual, trimesh.visual.TextureVisuals):
        colours = visual.vertex_attributes.get("color")
        return None if colours is None else np.asarray(colours, np.uint8)
    return np.asarray(visual.vertex_colors, np.uint8) if visual.kind in ("vertex", "face") else None


def _rows(template: str, values: np.ndarray) -> str:
    """One line per row of (R, C) `values`, each `template` (C fields) and a newline,
    in one string operation (a Python loop over rows is 10x slower)."""
    values = np.asarray(values)
    return ((template + "\n") * len(values)) % tuple(values.ravel().tolist())


def part_obj(stem: str, geometries: list, textures: TextureFiles) -> dict[str, bytes]:
    """{``<stem>.obj``: text, ``<stem>.mtl``: text (when any geometry has a material)}
    of a part given as (object stem, trimesh.Trimesh) pairs; textures go to `textures`."""
    obj, mtl, materials, offset = [f"# GeoSAM2 part {stem}\n"], [], {}, 1
    for object_stem, geometry in geometries:
        visual = geometry.visual
        material = getattr(visual, "material", None)
        uv = getattr(visual, "uv", None)
        colours = _vertex_colours(visual)
        obj.append(f"o {object_stem}\n")
        vertices = np.asarray(geometry.vertices, np.float64)
        if colours is None:
            obj.append(_rows("v %.8g %.8g %.8g", vertices))
        else:
            obj.append(_rows("v %.8g %.8g %.8g %.6f %.6f %.6f", np.c_[vertices, colours[:, :3] / 255.0]))
        if uv is not None:
            obj.append(_rows("vt %.8g %.8g", np.asarray(uv, np.float64)))
        if material is not None:
            if id(material) not in materials:
                materials[id(material)] = len(materials)
                mtl += _mtl_lines(materials[id(material)], material, textures)
            obj.append(f"usemtl material_{materials[id(material)]}\n")
        corners = np.asarray(geometry.faces, np.int64) + offset
        if uv is not None:
            obj.append(_rows("f %d/%d %d/%d %d/%d", np.repeat(corners, 2, axis=1)))
        else:
            obj.append(_rows("f %d %d %d", corners))
        offset += len(vertices)
    files = {}
    if mtl:
        obj.insert(1, f"mtllib {stem}.mtl\n")
        files[f"{stem}.mtl"] = ("\n".join(mtl) + "\n").encode()
    files[f"{stem}.obj"] = "".join(obj).encode()
    return files
