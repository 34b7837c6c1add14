"""Curation of training parts on meshes built here with known parts."""

from __future__ import annotations

import json

import numpy as np
import trimesh

from geosam2.geometry.facegraph import face_graph
from geosam2.io.mesh import from_arrays, load_mesh
from geosam2.training.curate import curate_directory, curate_mesh, split_far_chunks, triangle_quality


def _concat(meshes: list[trimesh.Trimesh]):
    """(vertices, faces, source index per face) of meshes laid side by side."""
    vertices, faces, source, offset = [], [], [], 0
    for i, m in enumerate(meshes):
        vertices.append(m.vertices)
        faces.append(m.faces + offset)
        source.append(np.full(len(m.faces), i))
        offset += len(m.vertices)
    return np.concatenate(vertices), np.concatenate(faces), np.concatenate(source)


def _cubes_on_a_line(count: int, size: float = 0.5, step: float = 1.0) -> list[trimesh.Trimesh]:
    return [trimesh.creation.box(extents=(size,) * 3, transform=trimesh.transformations.translation_matrix((i * step, 0, 0))) for i in range(count)]


def _grid(x0: float, x1: float, y0: float, y1: float, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """A flat z=0 grid of 2*cells^2 right triangles."""
    xs, ys = np.meshgrid(np.linspace(x0, x1, cells + 1), np.linspace(y0, y1, cells + 1), indexing="ij")
    vertices = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], 1)
    idx = np.arange(xs.size).reshape(cells + 1, cells + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    return vertices, np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])


def _constant_within(labels: np.ndarray, groups: np.ndarray) -> bool:
    return all(len(np.unique(labels[groups == g])) == 1 for g in np.unique(groups))


def test_separate_pieces_become_parts_and_cover_every_face():
    vertices, faces, source = _concat(_cubes_on_a_line(6))
    curated = curate_mesh(from_arrays(vertices, faces))
    assert curated.labels.shape == (len(faces),) and curated.labels.min() == 0
    assert curated.stats["parts"] == 6
    assert _constant_within(curated.labels, source)
    assert len(np.unique(curated.labels)) == 6  # every cube its own part


def test_file_geometries_split_a_connected_surface():
    box = trimesh.creation.box()
    part_ids = (box.triangles_center[:, 2] > 0.49).astype(np.int32)  # top side is its own geometry
    curated = curate_mesh(from_arrays(box.vertices, box.faces, part_ids=part_ids))
    assert curated.stats["parts"] == 2
    assert _constant_within(curated.labels, part_ids)
    assert curated.labels[part_ids == 0][0] != curated.labels[part_ids == 1][0]


def test_merge_keeps_at_most_15_contiguous_parts():
    vertices, faces, source = _concat(_cubes_on_a_line(40))
    curated = curate_mesh(from_arrays(vertices, faces), max_parts=15)
    labels = curated.labels
    assert curated.stats["pieces"] == 40 and curated.stats["parts"] == 15
    assert np.array_equal(np.unique(labels), np.arange(15))
    assert _constant_within(labels, source)  # cubes are never cut
    cube_label = np.array([labels[source == i][0] for i in range(40)])
    for part in range(15):  # nearest-first merging keeps neighbours along the line together
        members = np.flatnonzero(cube_label == part)
        assert np.array_equal(members, np.arange(members[0], members[-1] + 1)), members


def test_merge_of_adjacent_geometries_keeps_parts_connected():
    vertices, faces = _grid(0, 1, 0, 1, 20)
    centroids = vertices[faces].mean(axis=1)
    patches = (np.floor(centroids[:, 0] * 5) * 5 + np.floor(centroids[:, 1] * 5)).astype(np.int32)  # 25 patches
    mesh = from_arrays(vertices, faces, part_ids=patches)
    curated = curate_mesh(mesh, max_parts=15)
    assert curated.stats["pieces"] == 25 and curated.stats["parts"] == 15
    assert _constant_within(curated.labels, patches)
    graph = face_graph(mesh)
    pieces = graph.label_components(curated.labels)
    assert len(np.unique(pieces)) == 15, "a merged part is not connected"


def _two_blobs_and_a_sliver_strip(gap: float):
    """Two flat 0.3 x 0.3 grids `gap` apart along x, joined by one 0.02-wide strip."""
    cells = 15
    va, fa = _grid(-gap / 2 - 0.3, -gap / 2, 0, 0.3, cells)
    vb, fb = _grid(gap / 2, gap / 2 + 0.3, 0, 0.3, cells)
    w = 0.3 / cells
    strip_v = np.array([[-gap / 2, 0, 0], [-gap / 2, w, 0], [gap / 2, 0, 0], [gap / 2, w, 0]])
    strip_f = np.array([[0, 2, 3], [0, 3, 1]])
    vertices = np.concatenate([va, vb, strip_v])
    faces = np.concatenate([fa, fb + len(va), strip_f + len(va) + len(vb)])
    source = np.concatenate([np.zeros(len(fa)), np.ones(len(fb)), np.full(2, 2)])
    return from_arrays(vertices, faces), source


def test_split_cuts_far_chunks_joined_by_slivers():
    mesh, source = _two_blobs_and_a_sliver_strip(gap=0.6)
    assert (triangle_quality(mesh)[source == 2] < 0.1).all() and (triangle_quality(mesh)[source < 2] > 0.8).all()
    graph = face_graph(mesh)
    assert len(np.unique(graph.components())) == 1  # one connected surface
    curated = curate_mesh(mesh)
    labels = curated.labels
    assert curated.stats["pieces"] == 1 and curated.stats["parts"] == 2
    assert len(np.unique(labels[source == 0])) == 1 and len(np.unique(labels[source == 1])) == 1
    assert labels[source == 0][0] != labels[source == 1][0]


def test_split_keeps_close_chunks_and_sliver_dominated_parts():
    close, _ = _two_blobs_and_a_sliver_strip(gap=0.01)  # blobs nearly touch: one part
    assert curate_mesh(close).stats["parts"] == 1
    cylinder = trimesh.creation.cylinder(radius=0.05, height=1.0, sections=32)  # sides are slivers
    mesh = from_arrays(cylinder.vertices, cylinder.faces)
    labels = split_far_chunks(mesh, face_graph(mesh), np.zeros(mesh.num_faces, np.int32))
    assert (labels == 0).all()


def test_curate_directory_skips_and_reports_unusable_files(tmp_path):
    src = tmp_path / "meshes"
    src.mkdir()
    vertices, faces, _ = _concat(_cubes_on_a_line(3))
    trimesh.Trimesh(vertices, faces, process=False).export(src / "three_cubes.obj")
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box(), geom_name="body")
    scene.add_geometry(trimesh.creation.icosphere(radius=0.3), geom_name="head", transform=trimesh.transformations.translation_matrix((0, 0, 0.4)))
    scene.export(src / "scene.glb")
    trimesh.creation.box().export(src / "one_part.stl")
    (src / "broken.glb").write_bytes(b"glTF\x02\x00\x00\x00garbage")
    (src / "empty.obj").write_text("# nothing here\n")
    out = tmp_path / "curated"
    report = curate_directory(src, out, preview_resolution=32)
    assert sorted(report["kept"]) == ["scene", "three_cubes"]
    skipped = {entry["file"].split("/")[-1]: entry["reason"] for entry in report["skipped"]}
    assert sorted(skipped) == ["broken.glb", "empty.obj", "one_part.stl"]
    assert "one part" in skipped["one_part.stl"]
    assert json.loads((out / "curation.json").read_text()) == report
    for name, parts in [("three_cubes", 3), ("scene", 2)]:
        stats = json.loads((out / name / "stats.json").read_text())
        labels = np.load(out / name / "labels.npy")
        assert labels.shape == (load_mesh(stats["source"]).num_faces,)
        assert stats["parts"] == parts == labels.max() + 1
        assert (out / name / "preview.png").stat().st_size > 0


def test_curate_command_line(tmp_path, capsys):
    from geosam2.cli import main

    src = tmp_path / "meshes"
    src.mkdir()
    vertices, faces, _ = _concat(_cubes_on_a_line(20))
    trimesh.Trimesh(vertices, faces, process=False).export(src / "twenty.ply")
    (src / "broken.obj").write_text("f 1 2 3\n")  # a face without vertices
    assert main(["curate", str(src), "--out", str(tmp_path / "out"), "--max-parts", "6", "--preview-resolution", "24"]) == 0
    printed = capsys.readouterr().out
    assert "kept 1 objects, skipped 1" in printed and "broken.obj" in printed
    labels = np.load(tmp_path / "out" / "twenty" / "labels.npy")
    assert labels.max() + 1 == 6 and len(labels) == len(faces)


def test_curation_of_the_dev_set_merges_whole_pieces(gt_paths):
    for path in gt_paths:
        mesh = load_mesh(path)
        curated = curate_mesh(mesh)
        labels = curated.labels
        assert labels.shape == (mesh.num_faces,) and labels.min() == 0
        assert 2 <= curated.stats["parts"] <= 15 and labels.max() + 1 == curated.stats["parts"]
        pieces = face_graph(mesh).label_components(mesh.part_ids)
        assert len(np.unique(pieces)) == curated.stats["pieces"]
        if curated.stats["after_split"] == curated.stats["pieces"]:  # nothing was cut: parts are unions of pieces
            assert _constant_within(labels, pieces), path.name
        areas = np.bincount(labels, mesh.face_areas)
        assert (np.diff(areas) <= 0).all()  # numbered by decreasing area


def test_curate_command_takes_max_faces_and_skips_larger_meshes(tmp_path, capsys):
    from geosam2.cli import main

    src = tmp_path / "meshes"
    src.mkdir()
    vertices, faces, _ = _concat(_cubes_on_a_line(3))  # 36 faces
    trimesh.Trimesh(vertices, faces, process=False).export(src / "three_cubes.obj")
    out = tmp_path / "curated"
    assert main(["curate", str(src), "--out", str(out), "--preview-resolution", "16", "--max-faces", "35"]) == 0
    report = json.loads((out / "curation.json").read_text())
    assert report["kept"] == [] and "36" in report["skipped"][0]["reason"]
    assert main(["curate", str(src), "--out", str(out), "--preview-resolution", "16", "--max-faces", "36"]) == 0
    assert json.loads((out / "curation.json").read_text())["kept"] == ["three_cubes"]
