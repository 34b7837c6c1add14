"""Part exports keep the input's appearance: UVs, materials, texture images and
vertex colours, on a textured scene built here and on the official example."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest
import trimesh
from PIL import Image

from tests.factories import SHARED_DATA
from geosam2.io.export import export_mesh
from geosam2.io.filenames import safe_stem
from geosam2.io.mesh import load_mesh
from geosam2.pipeline.parts import Part, part_color, parts_with_stats

DRILL = SHARED_DATA / "official_examples" / "drill.glb"


def textured_box(texture: Image.Image) -> trimesh.Trimesh:
    """A unit box with 4 own vertices per side (24), each side mapped to its own
    sixth of `texture` (a seam between sides, shared vertices inside a side)."""
    vertices, faces, uv = [], [], []
    for side, normal in enumerate(np.eye(3).repeat(2, axis=0) * np.tile([1, -1], 3)[:, None]):
        axes = [a for a in range(3) if normal[a] == 0]
        corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1]])
        square = np.zeros((4, 3))
        square[:, axes] = corners - 0.5
        square[:, np.flatnonzero(normal)[0]] = 0.5 * normal.sum()
        vertices.append(square)
        quad = np.array([[0, 1, 2], [0, 2, 3]]) + 4 * side
        faces.append(quad if np.cross(square[1] - square[0], square[2] - square[0]) @ normal > 0 else quad[:, ::-1])
        uv.append((corners * [1 / 6, 1] + [side / 6, 0]) * 0.98 + 0.01)
    material = trimesh.visual.material.PBRMaterial(name="crate", baseColorTexture=texture)
    visual = trimesh.visual.TextureVisuals(uv=np.concatenate(uv), material=material)
    return trimesh.Trimesh(np.concatenate(vertices), np.concatenate(faces), visual=visual, process=False)


@pytest.fixture
def textured_file(tmp_path, rng):
    """A GLB with a textured box "crate" (generated PNG texture) and a vertex-coloured
    box "painted" beside it, and its texture pixels."""
    pixels = rng.integers(0, 256, (32, 96, 3), dtype=np.uint8)
    texture = Image.open(io.BytesIO(_png(pixels)))  # a PIL image read from PNG bytes, as loaders give
    crate = textured_box(texture)
    painted = trimesh.creation.box()
    painted.apply_translation((2.0, 0, 0))
    painted.visual.vertex_colors = rng.integers(0, 256, (8, 4), dtype=np.uint8)
    scene = trimesh.Scene()
    scene.add_geometry(crate, node_name="crate", geom_name="crate")
    scene.add_geometry(painted, node_name="painted", geom_name="painted")
    path = tmp_path / "crates.glb"
    scene.export(path)
    return path, pixels


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _source(path):
    """name -> trimesh geometry of a GLB, as read (the input's own UVs and colours)."""
    scene = trimesh.load(path, process=False, maintain_order=True)
    return {node: scene.geometry[scene.graph[node][1]] for node in scene.graph.nodes_geometry}


def _member(archive: zipfile.ZipFile, name: str) -> trimesh.Scene:
    return trimesh.load(io.BytesIO(archive.read(name)), file_type="glb", process=False)


def _labelled(mesh, split_piece: int):
    """Labels: one part per input geometry, except that the first faces of
    geometry `split_piece` form a child part, and the last geometry's last
    face and the first geometry's first face share a part "joint"."""
    labels = mesh.part_ids.astype(np.int32).copy()
    faces = np.flatnonzero(mesh.part_ids == split_piece)
    labels[faces[: len(faces) // 3]] = 100
    joint = [0, mesh.num_faces - 1]
    labels[joint] = 200
    parts = [Part(int(i), f"piece_{i}", part_color(int(i))) for i in np.unique(mesh.part_ids)]
    parts += [Part(100, "child", part_color(100), parent=split_piece), Part(200, "joint", part_color(200))]
    return labels, parts_with_stats(parts, labels, mesh.face_areas)


def _texels(image, uv: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(K, C) texels of PIL `image` under the UV centroid of each of (K, 3) `faces`
    (indices into (N, 2) `uv`, v up)."""
    pixels = np.asarray(image)
    centroid = np.asarray(uv)[faces].mean(axis=1)
    columns = np.clip((centroid[:, 0] * pixels.shape[1]).astype(int), 0, pixels.shape[1] - 1)
    rows = np.clip(((1 - centroid[:, 1]) * pixels.shape[0]).astype(int), 0, pixels.shape[0] - 1)
    return pixels[rows, columns]


def _check_parts(mesh, labels, parts, source, paths, exact_pixels: bool) -> None:
    """Every part's GLB holds its faces with the input's vertices, UVs, texture
    pixels and vertex colours, one geometry per input geometry it touches."""
    names = list(source)
    with zipfile.ZipFile(paths["zip"]) as archive:
        for part in parts:
            faces = np.flatnonzero(labels == part.id)
            scene = _member(archive, f"{part.name}.glb")
            assert sum(len(g.faces) for g in scene.geometry.values()) == len(faces)
            for piece in np.unique(mesh.part_ids[faces]):
                own = faces[mesh.part_ids[faces] == piece]
                original = source[names[piece]]
                first_vertex = mesh.visuals[piece][0]
                used = np.unique(mesh.faces[own]) - first_vertex
                node = part.name if len(np.unique(mesh.part_ids[faces])) == 1 else f"{part.name}.{safe_stem(names[piece], '')}"
                exported = scene.geometry[scene.graph[node][1]]
                assert len(exported.vertices) == len(used)  # shared as in the input
                assert np.allclose(exported.vertices, original.vertices[used], atol=1e-5)
                if isinstance(original.visual, trimesh.visual.TextureVisuals):
                    # the part's texture may be cropped: each face's UVs land on the same texels
                    image = exported.visual.material.baseColorTexture
                    expected = original.visual.material.baseColorTexture
                    assert image.size[0] <= expected.size[0] and image.size[1] <= expected.size[1]
                    texels = _texels(image, exported.visual.uv, exported.faces)
                    expected_texels = _texels(expected, original.visual.uv[used], exported.faces)
                    if exact_pixels:
                        assert (texels == expected_texels).all()
                    else:  # JPEG textures are re-encoded
                        assert np.abs(texels.astype(int) - expected_texels).mean() < 3
                else:
                    assert (exported.visual.vertex_colors == original.visual.vertex_colors[used]).all()


def test_textured_and_vertex_coloured_parts_round_trip(textured_file, output_dir):
    path, pixels = textured_file
    mesh = load_mesh(path)
    labels, parts = _labelled(mesh, split_piece=0)
    paths = export_mesh(mesh, labels, output_dir, parts)
    _check_parts(mesh, labels, parts, _source(path), paths, exact_pixels=True)
    scene = trimesh.load(paths["scene"], process=False)
    # the joint spans both boxes: one child node per input geometry, each its own material
    assert scene.graph.transforms.parents["joint.crate"] == "joint"
    assert scene.graph.transforms.parents["joint.painted"] == "joint"
    assert scene.graph.transforms.parents["child"] == "piece_0"
    crate = scene.geometry[scene.graph[f"piece_{mesh.part_names.index('crate')}"][1]]
    assert (np.asarray(crate.visual.material.baseColorTexture) == pixels).all()


def test_obj_in_zip_has_mtl_uvs_and_texture(textured_file, output_dir, tmp_path):
    path, pixels = textured_file
    mesh = load_mesh(path)
    labels, parts = _labelled(mesh, split_piece=mesh.part_names.index("crate"))
    paths = export_mesh(mesh, labels, output_dir, parts)
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(paths["zip"]).extractall(folder)
    crate = f"piece_{mesh.part_names.index('crate')}"
    text = (folder / f"{crate}.obj").read_text()
    assert f"mtllib {crate}.mtl" in text and "\nvt " in text
    mtl = (folder / f"{crate}.mtl").read_text()
    texture = next(line.split(" ", 1)[1] for line in mtl.splitlines() if line.startswith("map_Kd"))
    assert (folder / texture).is_file() and (np.asarray(Image.open(folder / texture).convert("RGB")) == pixels).all()
    # one texture file, shared by every OBJ using it (the crate's child part too)
    assert [p.name for p in folder.glob("*.png")] == [texture]
    assert f"map_Kd {texture}" in (folder / "child.mtl").read_text()
    loaded = trimesh.load(folder / f"{crate}.obj", process=False, maintain_order=True)
    faces = np.flatnonzero(labels == mesh.part_names.index("crate"))
    assert len(loaded.faces) == len(faces) and len(loaded.visual.uv) == len(loaded.vertices)
    used = np.unique(mesh.faces[faces]) - mesh.visuals[mesh.part_names.index("crate")][0]
    assert np.allclose(loaded.visual.uv, _source(path)["crate"].visual.uv[used], atol=1e-6)


@pytest.mark.skipif(not DRILL.is_file(), reason=f"shared example not found at {DRILL}")
def test_official_textured_example_keeps_uvs_and_textures(output_dir):
    mesh = load_mesh(DRILL)
    labels, parts = _labelled(mesh, split_piece=2)
    paths = export_mesh(mesh, labels, output_dir, parts)
    _check_parts(mesh, labels, parts, _source(DRILL), paths, exact_pixels=False)
    scene = trimesh.load(paths["scene"], process=False)
    assert {p.name for p in parts} <= set(scene.graph.nodes)
    assert sum(len(g.faces) for g in scene.geometry.values()) == mesh.num_faces


def test_dev_set_vertex_colours_are_kept_in_the_parts(gt_paths, output_dir):
    path = gt_paths[0]  # vertex-coloured by ground-truth part
    mesh = load_mesh(path)
    labels, parts = _labelled(mesh, split_piece=0)
    paths = export_mesh(mesh, labels, output_dir, parts)
    _check_parts(mesh, labels, parts, _source(path), paths, exact_pixels=True)


@pytest.mark.skipif(not DRILL.is_file(), reason=f"shared example not found at {DRILL}")
def test_parts_zip_of_the_official_example_stays_within_three_times_its_input(output_dir):
    """Twelve slab parts cutting across the texture atlas: the OBJs share one texture
    file and each GLB holds only its faces' texels (it was 17x the input)."""
    mesh = load_mesh(DRILL)
    order = np.argsort(mesh.centroids[:, 0] + 0.3 * mesh.centroids[:, 2])
    labels = np.empty(mesh.num_faces, np.int32)
    labels[order] = np.arange(mesh.num_faces) * 12 // mesh.num_faces
    paths = export_mesh(mesh, labels, output_dir)
    assert os.path.getsize(paths["zip"]) <= 3 * os.path.getsize(DRILL)
    with zipfile.ZipFile(paths["zip"]) as archive:
        assert len([n for n in archive.namelist() if n.startswith("texture_")]) == 1
