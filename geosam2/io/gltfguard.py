"""Check a glTF file (.glb or .gltf) before trimesh reads it.

trimesh allocates what a file declares: a 1.2 KB GLB declaring 20 million vertices
with no data behind them took 1.9 GB. `read_gltf` parses the glTF JSON itself and
refuses, before anything is allocated, a file whose accessors declare more bytes
than their buffer views hold, whose buffer views overrun their buffers, whose
buffers are shorter than declared or missing, whose instanced faces exceed the face
limit, whose textures exceed the pixel cap (`limits.check_image_size`), or which
refers to files outside its folder. Appearance trimesh cannot keep is reported as
notes: KTX2 textures (trimesh skips them), unreadable images, and textures on a
second UV set, which are left out (trimesh reads only the first UV set and would
sample them with it).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import struct
import urllib.parse
from dataclasses import dataclass

import trimesh

from ..errors import MeshLoadError, MeshTooLargeError
from .limits import VERTICES_PER_FACE, check_image_size, too_many_faces

GLB_MAGIC, JSON_CHUNK, BIN_CHUNK = b"glTF", 0x4E4F534A, 0x004E4942
COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
TYPE_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
TRIANGLES, STRIP, FAN = 4, 5, 6  # primitive modes making faces
TEXTURE_SLOTS = ("baseColorTexture", "metallicRoughnessTexture", "normalTexture", "occlusionTexture", "emissiveTexture")


@dataclass
class GltfFile:
    """A parsed glTF file: its base name, JSON `document`, the GLB's BIN chunk
    (None for a .gltf or a GLB without one) and its folder."""

    name: str
    document: dict
    binary: bytes | None
    folder: str


def _corrupt(name: str, what: str) -> MeshLoadError:
    return MeshLoadError(f"Could not read '{name}': it {what}; the file is corrupt, export it again from your 3D tool.")


def _parse(path: str) -> GltfFile:
    """Split a .glb into its JSON and BIN chunks, or read a .gltf's JSON."""
    name = os.path.basename(path)
    with open(path, "rb") as f:
        data = f.read()
    binary = None
    if path.lower().endswith(".glb"):
        if len(data) < 20 or data[:4] != GLB_MAGIC:
            raise _corrupt(name, "does not start with a GLB header")
        length, kind = struct.unpack_from("<II", data, 12)
        if kind != JSON_CHUNK or 20 + length > len(data):
            raise _corrupt(name, "has no complete JSON chunk")
        text, rest = data[20 : 20 + length], data[20 + length + (-length % 4) :]
        if len(rest) >= 8 and struct.unpack_from("<II", rest)[1] == BIN_CHUNK:
            binary = rest[8 : 8 + struct.unpack_from("<I", rest)[0]]
    else:
        text = data
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise _corrupt(name, "does not hold valid glTF JSON") from None
    if not isinstance(document, dict):
        raise _corrupt(name, "does not hold a glTF JSON object")
    return GltfFile(name, document, binary, os.path.dirname(path))


def _local_path(gltf: GltfFile, uri: str) -> str:
    """The file a relative `uri` names, refused when it lies outside the glTF's folder."""
    relative = urllib.parse.unquote(uri)
    target = os.path.realpath(os.path.join(gltf.folder, relative))
    if os.path.isabs(relative) or os.path.commonpath([target, os.path.realpath(gltf.folder)]) != os.path.realpath(gltf.folder):
        raise MeshLoadError(f"'{gltf.name}' refers to '{relative}' outside its folder: only files beside it are read.")
    return target


def _uri_bytes(gltf: GltfFile, uri: str, what: str) -> bytes:
    """The bytes a data URI holds or the file a relative URI names."""
    if uri.startswith("data:"):
        try:
            return base64.b64decode(uri.split(",", 1)[1], validate=False)
        except (IndexError, binascii.Error):
            raise _corrupt(gltf.name, f"has a malformed data URI in {what}") from None
    path = _local_path(gltf, uri)
    if not os.path.isfile(path):
        raise MeshLoadError(
            f"'{gltf.name}' refers to '{os.path.basename(path)}' ({what}), which is not beside it: "
            "put the .gltf's .bin and texture files in its folder, or use a .glb (one file)."
        )
    with open(path, "rb") as f:
        return f.read()


def _buffers(gltf: GltfFile) -> list[bytes]:
    """The bytes of every buffer, each checked against its declared byteLength."""
    buffers = []
    for index, buffer in enumerate(gltf.document.get("buffers", [])):
        if "uri" in buffer:
            data = _uri_bytes(gltf, buffer["uri"], f"buffer {index}")
        else:
            data = gltf.binary or b""
        if int(buffer.get("byteLength", 0)) > len(data):
            raise _corrupt(gltf.name, f"declares {int(buffer['byteLength']):,} bytes in buffer {index} but holds {len(data):,}")
        buffers.append(data)
    return buffers


def _views(gltf: GltfFile, buffers: list) -> list[tuple[int, int, int]]:
    """(buffer, offset, length) of every buffer view, each inside its buffer."""
    views = []
    for index, view in enumerate(gltf.document.get("bufferViews", [])):
        buffer, offset, length = int(view["buffer"]), int(view.get("byteOffset", 0)), int(view["byteLength"])
        if not 0 <= buffer < len(buffers) or offset < 0 or length < 0 or offset + length > len(buffers[buffer]):
            raise _corrupt(gltf.name, f"has buffer view {index} outside its buffer")
        views.append((buffer, offset, length))
    return views


def _check_accessors(gltf: GltfFile, views: list, max_vertices: int) -> None:
    """Every accessor's declared data lies inside its buffer view; accessors
    without a view (zero-filled) declare at most `max_vertices` elements."""
    raw_views = gltf.document.get("bufferViews", [])
    for index, accessor in enumerate(gltf.document.get("accessors", [])):
        count = int(accessor.get("count", 0))
        size = COMPONENT_BYTES[int(accessor["componentType"])] * TYPE_COMPONENTS[accessor["type"]]
        if "bufferView" not in accessor:
            if count > max_vertices:
                raise _corrupt(gltf.name, f"declares {count:,} elements in accessor {index} with no data behind them")
            continue
        view = int(accessor["bufferView"])
        stride = int(raw_views[view].get("byteStride", size)) if 0 <= view < len(views) else size
        needed = int(accessor.get("byteOffset", 0)) + (stride * (count - 1) + size if count else 0)
        if not 0 <= view < len(views) or count < 0 or needed > views[view][2]:
            held = views[view][2] if 0 <= view < len(views) else 0
            raise _corrupt(gltf.name, f"declares {count:,} elements ({needed:,} bytes) in accessor {index} but holds {held:,} bytes")
        sparse = accessor.get("sparse")
        if sparse and int(sparse["count"]) > count:
            raise _corrupt(gltf.name, f"declares more sparse values than elements in accessor {index}")


def _check_instanced_size(gltf: GltfFile, max_faces: int) -> None:
    """Faces and vertices of every node's mesh, summed over the nodes (a mesh
    instanced by many nodes counts once per node), within the limits."""
    accessors, meshes = gltf.document.get("accessors", []), gltf.document.get("meshes", [])
    per_mesh = []
    for mesh in meshes:
        faces = vertices = 0
        for primitive in mesh.get("primitives", []):
            positions = int(accessors[primitive["attributes"]["POSITION"]]["count"])
            corners = int(accessors[primitive["indices"]]["count"]) if "indices" in primitive else positions
            mode = int(primitive.get("mode", TRIANGLES))
            faces += corners // 3 if mode == TRIANGLES else max(corners - 2, 0) if mode in (STRIP, FAN) else 0
            vertices += positions
        per_mesh.append((faces, vertices))
    instances = [per_mesh[int(node["mesh"])] for node in gltf.document.get("nodes", []) if "mesh" in node]
    faces, vertices = sum(f for f, _ in instances), sum(v for _, v in instances)
    if faces > max_faces:
        raise too_many_faces(gltf.name, faces, max_faces)
    if vertices > VERTICES_PER_FACE * max_faces:
        raise MeshTooLargeError(
            f"'{gltf.name}' has {vertices:,} vertices, more than {VERTICES_PER_FACE} per face of the face limit "
            f"({max_faces:,}): decimate it first or raise the face limit."
        )


def _image_notes(gltf: GltfFile, buffers: list, views: list) -> list[str]:
    """Check every image's pixel count from its header; notes for images that
    cannot be read (KTX2, unreadable data, missing files)."""
    notes = []
    for index, image in enumerate(gltf.document.get("images", [])):
        what = f"image {index}"
        if image.get("mimeType") == "image/ktx2" or str(image.get("uri", "")).lower().endswith(".ktx2"):
            notes.append(f"{what} is a KTX2 (Basis Universal) texture, which is not read: the exports leave it out.")
            continue
        if "bufferView" in image:
            buffer, offset, length = views[int(image["bufferView"])]
            data = buffers[buffer][offset : offset + length]
        else:
            try:
                data = _uri_bytes(gltf, str(image.get("uri", "")), what)
            except MeshLoadError as error:
                notes.append(f"{what} is left out of the exports: {error}")
                continue
        if not check_image_size(data, gltf.name, what):
            notes.append(f"{what} could not be read as an image: the exports leave it out.")
    return notes


def _drop_second_uv_textures(gltf: GltfFile) -> list[str]:
    """Remove from the materials every texture read through a UV set other than the
    first (TEXCOORD_0, the only one trimesh reads), with a note per texture."""
    notes = []
    for index, material in enumerate(gltf.document.get("materials", [])):
        for owner in (material, material.get("pbrMetallicRoughness", {})):
            for slot in TEXTURE_SLOTS:
                info = owner.get(slot)
                if isinstance(info, dict) and int(info.get("texCoord", 0)) != 0:
                    del owner[slot]
                    notes.append(
                        f"material {index}: its {slot} uses a second UV set (TEXCOORD_{int(info['texCoord'])}), "
                        "which is not read: the exports leave it out."
                    )
    return notes


def read_gltf(path: str, max_faces: int) -> tuple[trimesh.Scene, list[str]]:
    """The scene of a checked .glb / .gltf file and notes on the appearance left out.

    Raises MeshLoadError for corrupt or incomplete files and files referring outside
    their folder, MeshTooLargeError beyond `max_faces` or the texture pixel cap.
    """
    gltf = _parse(path)
    try:
        buffers = _buffers(gltf)
        views = _views(gltf, buffers)
        _check_accessors(gltf, views, VERTICES_PER_FACE * max_faces)
        _check_instanced_size(gltf, max_faces)
        notes = _image_notes(gltf, buffers, views)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise _corrupt(gltf.name, "has a malformed glTF structure") from None
    notes += _drop_second_uv_textures(gltf)
    text = json.dumps(gltf.document).encode()
    if path.lower().endswith(".glb"):
        text += b" " * (-len(text) % 4)
        binary = gltf.binary or b""
        binary += b"\0" * (-len(binary) % 4)
        chunks = struct.pack("<II", len(text), JSON_CHUNK) + text + struct.pack("<II", len(binary), BIN_CHUNK) + binary
        data, kind = struct.pack("<4sII", GLB_MAGIC, 2, 12 + len(chunks)) + chunks, "glb"
    else:
        data, kind = text, "gltf"
    resolver = trimesh.resolvers.FilePathResolver(path)
    scene = trimesh.load(io.BytesIO(data), file_type=kind, resolver=resolver, process=False, maintain_order=True)
    return scene, notes
