"""Exports load back with trimesh to the same faces (in the file's frame) and labels."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh

from tests.factories import make_box_mesh
from geosam2.evaluation.readers import face_labels, transfer_face_labels
from geosam2.io.export import UNLABELLED_NAME, export_mesh, preview_face_colors, preview_face_order
from geosam2.io.mesh import from_arrays, load_mesh
from geosam2.io.palette import UNLABELLED_COLOR
from geosam2.pipeline.parts import Part, part_color, parts_with_stats


@pytest.fixture
def labelled():
    """Three boxes in a Y-up file frame, off-centre and not unit sized, with a
    parts tree: part 0 (box 0), its child 3 (one side of box 0), part 5 (box 1),
    box 2 unlabelled."""
    vertices, faces = [], []
    for k in range(3):
        box = make_box_mesh((2.0, 1.0, 0.5))
        vertices.append(box.vertices * 3.0 + (10.0 + 7.0 * k, -4.0, 2.0))
        faces.append(box.faces + 8 * k)
    mesh = from_arrays(np.concatenate(vertices), np.concatenate(faces), y_up=True, name="boxes")
    labels = np.repeat([0, 5, -1], 12).astype(np.int32)
    labels[[0, 1]] = 3
    parts = [
        Part(0, "body", part_color(0)),
        Part(3, "body side/lid", part_color(3), parent=0),
        Part(5, "wheel", part_color(5)),
    ]
    return mesh, labels, parts_with_stats(parts, labels, mesh.face_areas)


def glb_json(path) -> dict:
    """The JSON chunk of a GLB file (its first chunk, after the 12-byte header)."""
    data = open(path, "rb").read()
    length = int.from_bytes(data[12:16], "little")
    return json.loads(data[20 : 20 + length])


def file_triangles(mesh, faces):
    return mesh.file_vertices()[mesh.faces[faces]]


def test_preview_has_one_node_and_material_per_part(labelled, output_dir):
    mesh, labels, parts = labelled
    labels = np.where(labels < 0, 3, labels)  # three parts, part 3 in two boxes
    paths = export_mesh(mesh, labels, output_dir, parts)
    preview = trimesh.load_scene(paths["glb"], process=False)
    nodes = {"body": 0, "body_side_lid": 3, "wheel": 5}  # in the order of the parts list
    assert [node["name"] for node in glb_json(paths["glb"])["nodes"]] == list(nodes)  # the file's order
    order = preview_face_order(labels, parts)
    assert np.array_equal(order, np.concatenate([np.flatnonzero(labels == part) for part in nodes.values()]))
    by_id = {p.id: p for p in parts}
    for node, part in nodes.items():
        faces = np.flatnonzero(labels == part)
        transform, geometry_name = preview.graph[node]
        geometry = preview.geometry[geometry_name]
        material = geometry.visual.material
        assert material.name == node and tuple(material.baseColorFactor) == by_id[part].color
        assert len(geometry.vertices) == len(np.unique(mesh.faces[faces]))  # vertices shared inside the part
        corners = trimesh.transform_points(geometry.vertices, transform)[geometry.faces]
        assert np.allclose(corners, file_triangles(mesh, faces), atol=1e-4)  # faces increasing inside the part
    colours = preview_face_colors(paths["glb"], labels, parts)
    assert all((colours[labels == p.id] == p.color).all() for p in parts)
    # no vertex colours: glTF viewers would multiply them with the material's colour
    written = glb_json(paths["glb"])
    primitives = [primitive for mesh_ in written["meshes"] for primitive in mesh_["primitives"]]
    assert len(primitives) == 3 and not any("COLOR_0" in primitive["attributes"] for primitive in primitives)
    assert [material["name"] for material in written["materials"]] == list(nodes)


def test_preview_round_trips_the_labels(labelled, output_dir):
    mesh, labels, parts = labelled
    paths = export_mesh(mesh, labels, output_dir, parts)
    ids = {p["file_name"]: p["id"] for p in json.loads(open(paths["json"]).read())["parts"]} | {UNLABELLED_NAME: -1}
    # a loader keeping the file's node order (three.js, Blender) gets the faces of preview_face_order
    preview = trimesh.load_scene(paths["glb"], process=False)
    names = [node["name"] for node in glb_json(paths["glb"])["nodes"]]
    in_file_order = [preview.geometry[preview.graph[name][1]] for name in names]
    order = preview_face_order(labels, parts)
    assert np.allclose(np.concatenate([g.vertices[g.faces] for g in in_file_order]), file_triangles(mesh, order), atol=1e-4)
    read = np.empty_like(labels)
    read[order] = np.concatenate([np.full(len(g.faces), ids[name]) for name, g in zip(names, in_file_order)])
    assert np.array_equal(read, labels)
    assert (preview_face_colors(paths["glb"], labels, parts)[labels < 0] == UNLABELLED_COLOR).all()
    # the project's own loader and the evaluation's reader: one scene geometry per part
    again = load_mesh(paths["glb"])
    assert sorted(again.part_names) == sorted(ids)
    for node, name in enumerate(again.part_names):
        faces = np.flatnonzero(labels == ids[name])
        assert np.allclose(again.file_vertices()[again.faces[again.part_ids == node]], file_triangles(mesh, faces), atol=1e-4)
    decoded = transfer_face_labels(again, face_labels(again, Path(paths["glb"])), mesh)
    assert len(np.unique(np.c_[decoded, labels], axis=0)) == len(np.unique(labels)) == len(np.unique(decoded))


def test_scene_has_one_named_node_per_part_in_the_tree(labelled, output_dir):
    mesh, labels, parts = labelled
    paths = export_mesh(mesh, labels, output_dir, parts)
    scene = trimesh.load(paths["scene"], process=False)
    expected = {"body": 0, "body_side_lid": 3, "wheel": 5, UNLABELLED_NAME: -1}
    geometry_nodes = {n for n in scene.graph.nodes_geometry}
    assert geometry_nodes == set(expected)
    for node, part in expected.items():
        transform, geometry_name = scene.graph[node]
        geometry = scene.geometry[geometry_name]
        corners = trimesh.transform_points(geometry.vertices, transform)[geometry.faces]
        assert np.allclose(corners, file_triangles(mesh, np.flatnonzero(labels == part)), atol=1e-4)
    assert scene.graph.transforms.parents["body_side_lid"] == "body"


def test_zip_npy_json_round_trip(labelled, output_dir):
    mesh, labels, parts = labelled
    paths = export_mesh(mesh, labels, output_dir, parts)
    assert (np.load(paths["npy"]) == labels).all()
    record = json.loads(open(paths["json"]).read())
    assert record["labels"] == labels.tolist() and record["num_faces"] == mesh.num_faces
    tree = {p["id"]: p for p in record["parts"]}
    assert tree[3]["parent"] == 0 and tree[0]["parent"] is None and tree[3]["name"] == "body side/lid"
    assert tree[0]["faces"] == 10 and tree[3]["faces"] == 2 and tree[5]["faces"] == 12
    share = mesh.face_areas[labels == 5].sum() / mesh.face_areas.sum()
    assert tree[5]["area_share"] == pytest.approx(share)
    names = {p["file_name"]: p["id"] for p in record["parts"]} | {UNLABELLED_NAME: -1}
    with zipfile.ZipFile(paths["zip"]) as archive:
        members = set(archive.namelist())
        assert members == {f"{n}.{kind}" for n in names for kind in ("glb", "obj", "mtl")}
        for member in members - {f"{n}.mtl" for n in names}:
            name, kind = member.rsplit(".", 1)
            part = trimesh.load(io.BytesIO(archive.read(member)), file_type=kind, process=False, force="mesh")
            expected = file_triangles(mesh, np.flatnonzero(labels == names[name]))
            assert np.allclose(part.vertices[part.faces], expected, atol=1e-4), member


def test_plain_labels_get_default_parts_and_wrong_shapes_fail(labelled, output_dir):
    mesh, labels, _ = labelled
    paths = export_mesh(mesh, labels, output_dir)
    record = json.loads(open(paths["json"]).read())
    assert [p["id"] for p in record["parts"]] == [0, 3, 5]
    with pytest.raises(ValueError):
        export_mesh(mesh, labels[:-1], output_dir)
    with pytest.raises(ValueError, match="not in parts"):
        export_mesh(mesh, labels, output_dir, parts=[Part(0, "a", part_color(0))])


def test_vertices_stay_shared_inside_a_part(labelled, output_dir):
    mesh, labels, parts = labelled
    paths = export_mesh(mesh, labels, output_dir, parts)
    # preview: a box corner is duplicated once per part around it: box 0's 8 corners
    # plus the 4 of the side it shares with part 3, boxes 1 and 2 8 each
    preview = trimesh.load_scene(paths["glb"], process=False)
    assert sum(len(g.vertices) for g in preview.geometry.values()) == 8 + 4 + 8 + 8
    with zipfile.ZipFile(paths["zip"]) as archive:
        wheel = trimesh.load(io.BytesIO(archive.read("wheel.glb")), file_type="glb", process=False, force="mesh")
        side = trimesh.load(io.BytesIO(archive.read("body_side_lid.glb")), file_type="glb", process=False, force="mesh")
    assert (len(wheel.vertices), len(wheel.faces)) == (8, 12)
    assert (len(side.vertices), len(side.faces)) == (4, 2)


def test_parts_without_appearance_get_their_colour_as_material(labelled, output_dir):
    mesh, labels, parts = labelled
    scene = trimesh.load(export_mesh(mesh, labels, output_dir, parts)["scene"], process=False)
    for p in parts:
        node = p.name.replace(" ", "_").replace("/", "_")  # the file-safe name
        material = scene.geometry[scene.graph[node][1]].visual.material
        assert tuple(material.baseColorFactor) == p.color and material.name == node


def test_a_part_colour_is_its_entry_of_the_palette():
    from geosam2.io.palette import part_palette

    palette = part_palette(600)
    assert [part_color(i) for i in range(600)] == [tuple(int(c) for c in row) for row in palette]
    assert len({part_color(i) for i in range(500)}) == 500  # distinct for the first 500 ids
