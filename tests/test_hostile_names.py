"""Names from an input file or a user (part, node, geometry, material names) never
become paths or statements: every ZIP entry is a short plain file name, extraction
stays inside its folder, the MTL holds only the statements the writer makes, and
textures survive."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import trimesh
from PIL import Image

from geosam2.io.export import export_mesh
from geosam2.io.filenames import NAME_CAP
from geosam2.io.mesh import load_mesh
from geosam2.io.pointcloud import point_cloud_from_arrays
from geosam2.io.pointexport import export_point_cloud
from geosam2.pipeline.parts import Part, part_color, parts_with_stats
from tests.test_textured_export import textured_box

HOSTILE = ["../../../../tmp/x", "..\\..\\x", "a\nmap_Kd evil.png\nnewmtl b", "nul\x00cut", "n" * 300, "/abs/olute", ""]
OBJ_STATEMENTS = {"#", "mtllib", "o", "usemtl", "v", "vt", "f"}
MTL_STATEMENTS = {"newmtl", "Kd", "d", "map_Kd"}


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def hostile_file(tmp_path, rng):
    """A GLB whose nodes and materials have hostile names: a textured box under
    each of the first names, a vertex-coloured box under the last ones; and the
    texture pixels."""
    pixels = rng.integers(0, 256, (32, 96, 3), dtype=np.uint8)
    scene = trimesh.Scene()
    for k, name in enumerate(HOSTILE):
        if k < 4:
            box = textured_box(Image.open(io.BytesIO(_png(pixels))))
            box.visual.material.name = HOSTILE[-1 - k] or "x"
        else:
            box = trimesh.creation.box()
            box.visual.vertex_colors = rng.integers(0, 256, (8, 4), dtype=np.uint8)
        box.apply_translation((2.0 * k, 0, 0))
        scene.add_geometry(box, node_name=name or "empty", geom_name=f"{name}geometry")
    path = tmp_path / "hostile.glb"
    scene.export(path)
    return path, pixels


def _hostile_parts(mesh):
    """Labels and parts: one part per input geometry named after a hostile name,
    and a last part spanning two geometries (child nodes per geometry)."""
    labels = mesh.part_ids.astype(np.int32).copy()
    labels[mesh.part_ids >= 5] = 5
    names = HOSTILE[:5] + ["n" * 300]  # the same long name twice: unique after capping
    parts = [Part(i, names[i], part_color(i)) for i in range(6)]
    return labels, parts_with_stats(parts, labels, mesh.face_areas)


def _check_entries(archive: zipfile.ZipFile, folder) -> None:
    """Every entry a plain relative name under the cap, no two alike; extraction
    stays inside `folder`; every entry's checksum correct."""
    names = archive.namelist()
    assert len(set(names)) == len(names)
    for name in names:
        assert len(name.encode()) <= NAME_CAP + 4, name
        assert name.isascii() and name.isprintable() and "/" not in name and "\\" not in name, name
        assert not name.startswith(".") and ".." not in name, name
    assert archive.testzip() is None
    archive.extractall(folder)
    written = sorted(p.name for p in folder.rglob("*") if p.is_file())
    assert written == sorted(names)


def test_hostile_names_make_plain_zip_entries_and_clean_mtl(hostile_file, output_dir, tmp_path):
    path, pixels = hostile_file
    mesh = load_mesh(path)
    labels, parts = _hostile_parts(mesh)
    paths = export_mesh(mesh, labels, output_dir, parts)
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(paths["zip"]) as archive:
        _check_entries(archive, folder)
        objs = [n for n in archive.namelist() if n.endswith(".obj")]
        assert len(objs) == len(parts)
        for obj in objs:
            text = archive.read(obj).decode()
            assert {line.split(" ", 1)[0] for line in text.splitlines() if line} <= OBJ_STATEMENTS
            libraries = [line.split(" ", 1)[1] for line in text.splitlines() if line.startswith("mtllib ")]
            assert len(libraries) <= 1 and set(libraries) <= set(archive.namelist())  # none for vertex colours
            mtl = archive.read(libraries[0]).decode() if libraries else ""
            statements = [line.split(" ", 1) for line in mtl.splitlines() if line]
            assert {s[0] for s in statements} <= MTL_STATEMENTS
            used = {line.split(" ", 1)[1] for line in text.splitlines() if line.startswith("usemtl ")}
            assert used == {s[1] for s in statements if s[0] == "newmtl"}
            for _, texture in (s for s in statements if s[0] == "map_Kd"):
                assert texture in archive.namelist()
    textured = [p for p in folder.glob("*.png")]
    assert textured and all((np.asarray(Image.open(p).convert("RGB")) == pixels).all() for p in textured)
    # the textured parts' OBJs load back with their texture
    textured_parts = [p for p in folder.glob("*.mtl") if "map_Kd" in p.read_text()]
    assert textured_parts
    for mtl in textured_parts:
        loaded = trimesh.load(mtl.with_suffix(".obj"), process=False, force="scene")
        images = [g.visual.material.image for g in loaded.geometry.values() if isinstance(g.visual, trimesh.visual.TextureVisuals)]
        assert images and all((np.asarray(image.convert("RGB")) == pixels).all() for image in images)


def test_hostile_names_in_the_scene_stay_names(hostile_file, output_dir):
    """Node names of the scene GLB are sanitised too (viewers show them; tools may
    write files after them)."""
    path, _ = hostile_file
    mesh = load_mesh(path)
    labels, parts = _hostile_parts(mesh)
    scene = trimesh.load(export_mesh(mesh, labels, output_dir, parts)["scene"], process=False)
    for node in scene.graph.nodes:
        if node != scene.graph.base_frame:
            assert node.isascii() and node.isprintable() and "/" not in node and ".." not in node
            assert len(node) <= 2 * NAME_CAP + 1, node


def test_hostile_part_names_of_point_clouds(output_dir, tmp_path, rng):
    cloud = point_cloud_from_arrays(rng.random((70, 3)), name="cloud")
    labels = np.repeat(np.arange(7), 10).astype(np.int32)
    labels[:3] = -1
    names = HOSTILE[:6] + ["unlabelled"]
    paths = export_point_cloud(cloud, labels, output_dir, part_names=names)
    with zipfile.ZipFile(paths["zip"]) as archive:
        _check_entries(archive, tmp_path / "unzipped")
        assert len(archive.namelist()) == 8  # 7 parts and the unlabelled points
