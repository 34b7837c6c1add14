"""Hostile and broken mesh files: declared sizes are checked against the bytes a
file holds before anything is allocated, oversized textures are refused from their
header, broken files get a sentence saying what to do, and appearance the loader
cannot keep is reported, never dropped or rebound silently."""

from __future__ import annotations

import io
import json
import os
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
import trimesh
from PIL import Image

from geosam2.errors import EmptyMeshError, GeoSAM2Error, MeshLoadError, MeshTooLargeError
from geosam2.io.mesh import load_mesh
from geosam2.io.limits import MAX_TEXTURE_PIXELS

FLOAT, UINT16 = 5126, 5123
TRIANGLE = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
PYTHON_ERRORS = ("ValueError", "IndexError", "KeyError", "TypeError", "ModuleNotFoundError", "FileNotFoundError")


def glb(document: dict, binary: bytes) -> bytes:
    """GLB bytes: 12-byte header, JSON chunk, BIN chunk (each padded to 4 bytes)."""
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    chunks = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def triangle_document(count: int = 3, nodes: int = 1, extra_attributes: dict | None = None) -> tuple[dict, bytes]:
    """A glTF document of one triangle (positions then uint16 indices in one buffer)
    whose position accessor declares `count` vertices, instanced by `nodes` nodes."""
    binary = TRIANGLE.tobytes() + np.array([0, 1, 2], np.uint16).tobytes() + b"\0\0"
    document = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": list(range(nodes))}],
        "nodes": [{"mesh": 0} for _ in range(nodes)],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, **(extra_attributes or {})}, "indices": 1}]}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 36}, {"buffer": 0, "byteOffset": 36, "byteLength": 6}],
        "accessors": [
            {"bufferView": 0, "componentType": FLOAT, "count": count, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]},
            {"bufferView": 1, "componentType": UINT16, "count": 3, "type": "SCALAR"},
        ],
    }
    return document, binary


def _peak_bytes(function) -> int:
    """Peak traced allocation while `function()` runs (numpy arrays included)."""
    tracemalloc.start()
    try:
        function()
    except GeoSAM2Error:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_vertex_count_beyond_the_data_is_refused_before_allocating(tmp_path):
    path = tmp_path / "bomb.glb"
    path.write_bytes(glb(*triangle_document(count=20_000_000)))
    assert path.stat().st_size < 2000
    with pytest.raises(MeshLoadError, match="declares") as error:
        load_mesh(path)
    assert "20,000,000" in str(error.value) and "corrupt" in str(error.value)
    assert _peak_bytes(lambda: load_mesh(path)) < 20e6


def test_faces_of_instanced_meshes_count_against_the_limit_before_loading(tmp_path):
    """One triangle instanced by 20,000 nodes is 20,000 faces: refused at a limit of
    1,000 before the scene is built."""
    path = tmp_path / "instances.glb"
    path.write_bytes(glb(*triangle_document(nodes=20_000)))
    with pytest.raises(MeshTooLargeError, match="20,000 faces"):
        load_mesh(path, max_faces=1_000)
    assert _peak_bytes(lambda: load_mesh(path, max_faces=1_000)) < 20e6


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height pixels (its data is a 1x1 image's)."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def textured_document(image: bytes, mime: str = "image/png", occlusion_uv: int | None = None) -> tuple[dict, bytes]:
    """The triangle with UVs (and a second UV set when `occlusion_uv` is given) and a
    material whose base colour texture is `image` (and an occlusion map on UV set
    `occlusion_uv`)."""
    document, binary = triangle_document()
    uv = np.array([[0, 0], [1, 0], [0, 1]], np.float32).tobytes()
    attributes = {"TEXCOORD_0": 2}
    views = [{"buffer": 0, "byteOffset": len(binary), "byteLength": 24}]
    if occlusion_uv is not None:
        attributes["TEXCOORD_1"] = 3
        views.append({"buffer": 0, "byteOffset": len(binary) + 24, "byteLength": 24})
    binary += uv * len(views)
    image_view = len(document["bufferViews"]) + len(views)
    views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(image)})
    binary += image
    document["bufferViews"] += views
    document["buffers"][0]["byteLength"] = len(binary)
    document["accessors"] += [{"bufferView": 2 + k, "componentType": FLOAT, "count": 3, "type": "VEC2"} for k in range(len(views) - 1)]
    document["meshes"][0]["primitives"][0]["attributes"].update(attributes)
    document["meshes"][0]["primitives"][0]["material"] = 0
    document["images"] = [{"bufferView": image_view, "mimeType": mime}]
    texture = {"source": 0} if mime != "image/ktx2" else {"extensions": {"KHR_texture_basisu": {"source": 0}}}
    document["textures"] = [texture]
    material = {"name": "paint", "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}
    if occlusion_uv is not None:
        material["occlusionTexture"] = {"index": 0, "texCoord": occlusion_uv}
    document["materials"] = [material]
    if mime == "image/ktx2":
        document["extensionsUsed"] = ["KHR_texture_basisu"]
    return document, binary


def test_texture_pixels_are_capped_from_the_image_header(tmp_path):
    path = tmp_path / "big_texture.glb"
    path.write_bytes(glb(*textured_document(_png_header(10_000, 10_000))))
    with pytest.raises(MeshTooLargeError, match="10000 x 10000") as error:
        load_mesh(path)
    assert f"{MAX_TEXTURE_PIXELS:,}" in str(error.value)
    assert _peak_bytes(lambda: load_mesh(path)) < 20e6


def test_a_ktx2_texture_is_reported(tmp_path):
    path = tmp_path / "ktx2.glb"
    path.write_bytes(glb(*textured_document(b"\xabKTX 20\xbb\r\n\x1a\n" + b"\0" * 100, mime="image/ktx2")))
    mesh = load_mesh(path)
    assert any("KTX2" in note for note in mesh.notes)


def _png(size=(4, 4)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_occlusion_map_on_the_second_uv_set_is_dropped_with_a_note(tmp_path):
    path = tmp_path / "two_uv_sets.glb"
    path.write_bytes(glb(*textured_document(_png(), occlusion_uv=1)))
    mesh = load_mesh(path)
    material = mesh.visuals[0][1].material
    assert material.baseColorTexture is not None  # on the first UV set: kept
    assert material.occlusionTexture is None  # on the second: not rebound to the first
    assert any("occlusionTexture" in note and "second UV set" in note for note in mesh.notes)
    # on the first UV set the occlusion map is kept and nothing is said
    path.write_bytes(glb(*textured_document(_png(), occlusion_uv=0)))
    mesh = load_mesh(path)
    assert mesh.visuals[0][1].material.occlusionTexture is not None and mesh.notes == ()


def test_a_gltf_without_its_bin_file_says_which_file_is_missing(tmp_path):
    trimesh.creation.box().export(tmp_path / "box.gltf")
    for binary in tmp_path.glob("*.bin"):
        binary.unlink()
    with pytest.raises(MeshLoadError, match="not beside it") as error:
        load_mesh(tmp_path / "box.gltf")
    assert ".bin" in str(error.value) and not any(name in str(error.value) for name in PYTHON_ERRORS)


@pytest.mark.parametrize("ext", ["glb", "gltf", "obj", "ply", "stl", "off"])
def test_an_empty_file_is_refused_with_a_sentence(tmp_path, ext):
    path = tmp_path / f"empty.{ext}"
    path.write_bytes(b"")
    with pytest.raises(MeshLoadError, match="is empty \\(0 bytes\\)"):
        load_mesh(path)


@pytest.mark.parametrize("ext", ["glb", "gltf", "obj", "off"])
def test_a_corrupt_file_is_refused_without_a_traceback_word(tmp_path, ext):
    path = tmp_path / f"junk.{ext}"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
    with pytest.raises(MeshLoadError, match="corrupt") as error:
        load_mesh(path)
    assert not any(name in str(error.value) for name in PYTHON_ERRORS), str(error.value)


@pytest.mark.parametrize("ext", ["glb", "obj", "ply"])
def test_a_point_cloud_where_a_mesh_is_needed_is_named_so(tmp_path, ext):
    points = np.random.default_rng(0).random((50, 3))
    path = tmp_path / f"cloud.{ext}"
    if ext == "obj":
        path.write_text("".join(f"v {x} {y} {z}\n" for x, y, z in points))
    else:
        trimesh.PointCloud(points).export(path)
    with pytest.raises(EmptyMeshError, match="50 points and no triangles") as error:
        load_mesh(path)
    assert "point cloud" in str(error.value)


def test_a_glb_whose_buffer_is_shorter_than_declared_is_corrupt(tmp_path):
    document, binary = triangle_document()
    document["buffers"][0]["byteLength"] = 10_000
    path = tmp_path / "short.glb"
    path.write_bytes(glb(document, binary))
    with pytest.raises(MeshLoadError, match="corrupt"):
        load_mesh(path)
    assert os.path.getsize(path) < 10_000


def test_a_gltf_referring_outside_its_folder_is_refused(tmp_path):
    """A .gltf naming ../file would read (and export back) any file of the server."""
    inner = tmp_path / "inner"
    inner.mkdir()
    trimesh.creation.box().export(inner / "box.gltf")
    document = json.loads((inner / "box.gltf").read_text())
    for buffer in document["buffers"]:
        (inner / buffer["uri"]).rename(tmp_path / buffer["uri"])
        buffer["uri"] = "../" + buffer["uri"]
    (inner / "box.gltf").write_text(json.dumps(document))
    with pytest.raises(MeshLoadError, match="outside its folder"):
        load_mesh(inner / "box.gltf")
