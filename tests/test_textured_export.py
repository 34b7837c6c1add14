"""Part exports keep the input's appearance: UVs, materials, texture images and
vertex colours, on a textured scene built here and on the official example."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import trimesh
from PIL import Image

from tests.factories import SHARED_DATA
from geosam2.io.export import export_mesh
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
                node = part.name if len(np.unique(mesh.part_ids[faces])) == 1 else f"{part.name}.{names[piece]}"
                exported = scene.geometry[scene.graph[node][1]]
                assert len(exported.vertices) == len(used)  # shared as in the input
                assert np.allclose(exported.vertices, original.vertices[used], atol=1e-5)
                if isinstance(original.visual, trimesh.visual.TextureVisuals):
                    assert np.allclose(exported.visual.uv, original.visual.uv[used], atol=1e-6)
                    image = np.asarray(exported.visual.material.baseColorTexture)
                    expected = np.asarray(original.visual.material.baseColorTexture)
                    assert image.shape == expected.shape
                    if exact_pixels:
                        assert (image == expected).all()
                    else:  # JPEG textures are re-encoded
                        assert np.abs(image.astype(int) - expected).mean() < 3
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
    labels, parts = _labelled(mesh, split_piece=0)
    paths = export_mesh(mesh, labels, output_dir, parts)
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(paths["zip"]).extractall(folder)
    crate = f"piece_{mesh.part_names.index('crate')}"
    text = (folder / f"{crate}.obj").read_text()
    assert f"mtllib {crate}.mtl" in text and "\nvt " in text
    mtl = (folder / f"{crate}.mtl").read_text()
    texture = next(line.split(" ", 1)[1] for line in mtl.splitlines() if line.startswith("map_Kd"))
    assert texture.startswith(f"{crate}_") and (folder / texture).is_file()
    assert (np.asarray(Image.open(folder / texture).convert("RGB")) == pixels).all()
    loaded = trimesh.load(folder / f"{crate}.obj", process=False, maintain_order=True)
    faces = np.flatnonzero(labels == mesh.part_names.index("crate"))
    assert len(loaded.faces) == len(faces) and len(loaded.visual.uv) == len(loaded.vertices)


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
