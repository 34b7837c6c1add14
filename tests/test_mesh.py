"""Mesh loading: formats, scene flattening with part ids, normalisation, bad input."""

import numpy as np
import pytest
import trimesh

from tests.factories import make_box_mesh
from geosam2.errors import EmptyMeshError, GeoSAM2Error, MeshLoadError, MeshTooLargeError
from geosam2.io.mesh import from_arrays, labels_from_colors, load_mesh


def skewed_mesh() -> trimesh.Trimesh:
    """An off-centre, unevenly scaled, rotated box: normalisation has work to do."""
    tm = make_box_mesh((3.0, 1.0, 2.0))
    tm.apply_transform(trimesh.transformations.rotation_matrix(0.3, [1, 2, 3]))
    tm.apply_translation([5.0, -2.0, 7.0])
    return tm


@pytest.mark.parametrize("ext", ["obj", "ply", "stl", "off", "glb"])
def test_normalise_round_trip(tmp_path, ext):
    tm = skewed_mesh()
    path = tmp_path / f"shape.{ext}"
    tm.export(path)
    mesh = load_mesh(path)
    # the normalised frame: centred bbox, longest edge 1
    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    np.testing.assert_allclose((lo + hi) / 2, 0, atol=1e-9)
    assert (hi - lo).max() == pytest.approx(1.0)
    # written back in the file's frame: identical to what the file holds
    reloaded = trimesh.load(path, process=False, force="mesh")
    np.testing.assert_allclose(mesh.file_vertices()[mesh.faces], np.asarray(reloaded.vertices)[reloaded.faces], atol=1e-6)
    assert mesh.num_faces == len(tm.faces)


@pytest.mark.parametrize("ext", ["glb", "obj"])
def test_gltf_and_obj_y_up_become_z_up(tmp_path, ext):
    """glTF and OBJ are Y-up (Blender imports OBJ so for the release's renders): a file
    point (x, y, z) lands at (x, -z, y), then centred and scaled; PLY keeps its axes."""
    tm = skewed_mesh()
    tm.export(tmp_path / f"shape.{ext}")
    mesh = load_mesh(tmp_path / f"shape.{ext}")
    file_points = np.asarray(trimesh.load(tmp_path / f"shape.{ext}", process=False, force="mesh").vertices)
    turned = file_points @ np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]).T
    lo, hi = turned.min(0), turned.max(0)
    np.testing.assert_allclose(mesh.vertices, (turned - (lo + hi) / 2) / (hi - lo).max(), atol=1e-6)
    tall = make_box_mesh((0.2, 1.0, 0.4))
    tall.export(tmp_path / "tall.ply")
    np.testing.assert_allclose(load_mesh(tmp_path / "tall.ply").bbox_size, [0.2, 1.0, 0.4], atol=1e-9)


def test_face_order_is_kept(tmp_path):
    tm = skewed_mesh()
    permuted = trimesh.Trimesh(tm.vertices, tm.faces[::-1], process=False)
    permuted.export(tmp_path / "p.obj")
    mesh = load_mesh(tmp_path / "p.obj")
    np.testing.assert_allclose(mesh.file_vertices()[mesh.faces], permuted.vertices[permuted.faces], atol=1e-6)


def test_scene_keeps_part_ids_and_transforms(tmp_path):
    scene = trimesh.Scene()
    sizes = [(1.0, 1.0, 1.0), (0.2, 0.2, 2.0), (0.5, 0.5, 0.5)]
    offsets = [(0, 0, 0), (2, 0, 0), (0, 3, 0)]
    for i, (size, offset) in enumerate(zip(sizes, offsets)):
        box = trimesh.creation.icosphere(subdivisions=i) if i == 2 else make_box_mesh(size)
        scene.add_geometry(box, node_name=f"part{i}", transform=trimesh.transformations.translation_matrix(offset))
    scene.export(tmp_path / "parts.glb")
    mesh = load_mesh(tmp_path / "parts.glb")
    counts = [12, 12, len(trimesh.creation.icosphere(subdivisions=2).faces)]
    assert mesh.num_faces == sum(counts)
    assert sorted(mesh.part_names) == ["part0", "part1", "part2"]
    for part_id, name in enumerate(mesh.part_names):
        i = int(name[-1])
        assert (mesh.part_ids == part_id).sum() == counts[i]
        # the part's geometry sits where its node put it, in the file's frame
        centre = mesh.file_vertices()[mesh.faces[mesh.part_ids == part_id]].reshape(-1, 3).mean(0)
        np.testing.assert_allclose(centre, offsets[i], atol=1e-6)


def test_vertex_colour_labels_of_ground_truth(gt_paths):
    counts = []
    for path in gt_paths:
        mesh = load_mesh(path)
        assert mesh.face_colors is not None
        labels = labels_from_colors(mesh.face_colors)
        counts.append(labels.max() + 1)
        # faces with equal colours share a label and vice versa
        _, inverse = np.unique(mesh.face_colors, axis=0, return_inverse=True)
        assert len(np.unique(np.stack([labels, inverse.reshape(-1)], 1), axis=0)) == counts[-1]
    assert sorted(counts) == sorted([10, 4, 23, 4, 6, 15])  # the data README's part counts


def test_labels_from_colors_numbers_by_first_appearance():
    colours = np.array([[9, 9, 9], [1, 1, 1], [9, 9, 9], [5, 5, 5], [1, 1, 1]], np.uint8)
    assert labels_from_colors(colours).tolist() == [0, 1, 0, 2, 1]


def test_point_cloud_is_refused_clearly(tmp_path):
    trimesh.PointCloud(np.random.default_rng(0).random((100, 3))).export(tmp_path / "cloud.ply")
    with pytest.raises(EmptyMeshError, match="point cloud"):
        load_mesh(tmp_path / "cloud.ply")


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage\xff" * 50, b"glTF\x02\x00\x00\x00broken"])
def test_corrupt_files_are_refused_clearly(tmp_path, content):
    path = tmp_path / "bad.glb"
    path.write_bytes(content)
    with pytest.raises(GeoSAM2Error):
        load_mesh(path)


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian"])
def test_truncated_ply_mesh_is_corrupt_not_a_point_cloud(tmp_path, encoding):
    whole = make_box_mesh((1.0, 1.0, 1.0)).export(file_type="ply", encoding=encoding.split("_")[0])
    path = tmp_path / "cut.ply"
    path.write_bytes(whole[: len(whole) - 40])  # the last faces are cut off
    with pytest.raises(MeshLoadError, match="declares 12 faces|unexpected length"):
        load_mesh(path)


def test_missing_file(tmp_path):
    with pytest.raises(MeshLoadError, match="does not exist"):
        load_mesh(tmp_path / "nope.obj")


def test_degenerate_and_empty_meshes():
    with pytest.raises(EmptyMeshError):
        from_arrays(np.zeros((3, 3)), [[0, 1, 2]])
    with pytest.raises(EmptyMeshError):
        from_arrays(np.random.default_rng(0).random((4, 3)), np.zeros((0, 3)))
    collinear = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0.0]])
    with pytest.raises(EmptyMeshError, match="zero area"):
        from_arrays(collinear, [[0, 1, 2]])
    with pytest.raises(MeshLoadError, match="NaN"):
        from_arrays(np.array([[0, 0, 0], [1, 0, 0], [np.nan, 1, 0]]), [[0, 1, 2]])
    with pytest.raises(MeshLoadError, match="missing vertices"):
        from_arrays(np.eye(3), [[0, 1, 3]])


def test_face_limit(tmp_path):
    tm = make_box_mesh()
    tm.export(tmp_path / "box.obj")
    assert load_mesh(tmp_path / "box.obj", max_faces=12).num_faces == 12
    with pytest.raises(MeshTooLargeError, match="12 faces"):
        load_mesh(tmp_path / "box.obj", max_faces=11)


CUBE_CORNERS = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], float)
CUBE_QUADS = [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [2, 3, 7, 6], [1, 2, 6, 5], [0, 4, 7, 3]]
CUBE_MIXED = [[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5], [0, 5, 4], [2, 3, 7, 6], [1, 2, 6, 5], [0, 4, 7, 3]]  # a quad split


def polygon_ply(polygons: list, encoding: str) -> bytes:
    """A PLY file of the unit cube's corners and `polygons` (lists of corner indices),
    written as Blender does: `property list uchar uint vertex_indices`."""
    header = (
        f"ply\nformat {encoding} 1.0\nelement vertex 8\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(polygons)}\nproperty list uchar uint vertex_indices\nend_header\n"
    ).encode()
    if encoding == "ascii":
        body = "".join(" ".join(map(str, p)) + "\n" for p in CUBE_CORNERS)
        body += "".join(" ".join(map(str, [len(f), *f])) + "\n" for f in polygons)
        return header + body.encode()
    body = CUBE_CORNERS.astype("<f4").tobytes()
    body += b"".join(np.uint8(len(f)).tobytes() + np.asarray(f, "<u4").tobytes() for f in polygons)
    return header + body


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian"])
@pytest.mark.parametrize("polygons", [CUBE_QUADS, CUBE_MIXED], ids=["quads", "mixed"])
def test_ply_with_quads_and_ngons_loads_triangulated(tmp_path, encoding, polygons):
    path = tmp_path / "cube.ply"
    path.write_bytes(polygon_ply(polygons, encoding))
    mesh = load_mesh(path)
    assert mesh.num_faces == 12  # every polygon of k corners gives k - 2 triangles
    assert mesh.face_areas.sum() == pytest.approx(6.0)  # the unit cube's surface, nothing lost
    assert (mesh.face_areas > 0).all()


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian"])
def test_truncated_ply_of_quads_is_still_corrupt(tmp_path, encoding):
    whole = polygon_ply(CUBE_QUADS, encoding)
    path = tmp_path / "cut.ply"
    path.write_bytes(whole[: len(whole) - 12])
    with pytest.raises(MeshLoadError, match="truncated or corrupt"):
        load_mesh(path)


def test_truncated_binary_stl_is_a_clear_error(tmp_path):
    whole = make_box_mesh().export(file_type="stl")  # binary: 84 + 50 bytes per triangle
    path = tmp_path / "cut.stl"
    path.write_bytes(whole[:-30])
    with pytest.raises(MeshLoadError, match="declares 12 triangles") as info:
        load_mesh(path)
    assert "truncated" in str(info.value) and "charset" not in str(info.value)


def test_ascii_stl_still_loads(tmp_path):
    path = tmp_path / "box.stl"
    path.write_bytes(make_box_mesh().export(file_type="stl_ascii").encode())
    assert load_mesh(path).num_faces == 12


def test_directory_is_not_called_missing(tmp_path):
    (tmp_path / "meshes.obj").mkdir()
    with pytest.raises(MeshLoadError, match="is a directory") as info:
        load_mesh(tmp_path / "meshes.obj")
    assert "does not exist" not in str(info.value)


def test_face_limit_from_the_environment_and_its_message(tmp_path, monkeypatch):
    make_box_mesh().export(tmp_path / "box.obj")
    monkeypatch.setenv("GEOSAM2_MAX_FACES", "11")
    with pytest.raises(MeshTooLargeError) as info:
        load_mesh(tmp_path / "box.obj")
    assert "--max-faces" in str(info.value) and "GEOSAM2_MAX_FACES" in str(info.value)
    assert load_mesh(tmp_path / "box.obj", max_faces=12).num_faces == 12  # an explicit limit wins
    monkeypatch.setenv("GEOSAM2_MAX_FACES", "many")
    with pytest.raises(GeoSAM2Error, match="GEOSAM2_MAX_FACES"):
        load_mesh(tmp_path / "box.obj")
