"""Large meshes through a decimated proxy: decimation, closest-face
label transfer and `geosam2 segment --face-budget` exporting the full mesh."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from tests.factories import make_box_mesh, make_sphere_mesh
from geosam2.cli import main
from geosam2.io.mesh import from_arrays
from geosam2.geometry.facegraph import weld_vertices
from geosam2.geometry.proxy import ProxyError, ProxyMap, closest_faces, collapse_map, decimate, labels_by_corners, proxy_or_mesh, transfer_labels
from geosam2.lifting.cleanup import clean_labels
from geosam2.profiles import IMPROVED, OFFICIAL

PA = 0.02


@pytest.fixture
def two_spheres():
    """Two separate icospheres (5,120 faces each) along x, as scene parts 0 and 1."""
    left, right = make_sphere_mesh(subdivisions=4), make_sphere_mesh(subdivisions=4)
    right.apply_translation((1.5, 0.0, 0.0))
    vertices = np.concatenate([left.vertices, right.vertices])
    faces = np.concatenate([left.faces, right.faces + len(left.vertices)])
    part_ids = np.repeat([0, 1], len(left.faces))
    return from_arrays(vertices, faces, part_ids, name="spheres")


def test_decimate_keeps_frame_shape_and_scene_parts(two_spheres):
    proxy, _ = decimate(two_spheres, 1000)
    assert 900 <= proxy.num_faces <= 1000
    assert np.array_equal(proxy.to_file, two_spheres.to_file)
    assert np.allclose(proxy.vertices.min(0), two_spheres.vertices.min(0), atol=0.02)
    assert np.allclose(proxy.vertices.max(0), two_spheres.vertices.max(0), atol=0.02)
    assert proxy.face_areas.sum() == pytest.approx(two_spheres.face_areas.sum(), rel=0.02)
    left = proxy.centroids[:, 0] < np.mean(two_spheres.vertices[:, 0])
    assert (proxy.part_ids[left] == 0).all() and (proxy.part_ids[~left] == 1).all()


def test_closest_face_is_found_on_a_large_triangle_far_from_its_centroid():
    large = [[0, 0, 0], [10, 0, 0], [0, 10, 0]]  # centroid (3.3, 3.3, 0)
    small = [[[9, 0.5, 1], [9.2, 0.5, 1], [9, 0.7, 1]], [[0.5, 9, 1], [0.7, 9, 1], [0.5, 9.2, 1]]]
    triangles = np.array([large] + small, float)
    points = np.array([[9.0, 0.5, 0.01], [0.5, 9.0, 0.01], [9.1, 0.55, 1.0]])
    assert closest_faces(triangles, points, k=2).tolist() == [0, 0, 1]


def test_coincident_surfaces_facing_apart_keep_their_own_labels():
    """A puck resting on a slab: the puck's bottom lies in the slab's top face (a
    common modelling shortcut). Distance alone cannot tell them apart; the face
    facing the same way can, in the decimation's part ids and in the transfer."""
    slab = trimesh.creation.box((2.0, 2.0, 0.2)).subdivide().subdivide()
    slab.apply_translation((0, 0, -0.1))
    puck = trimesh.creation.cylinder(radius=0.5, height=0.1, sections=48).subdivide()
    puck.apply_translation((0, 0, 0.05))
    vertices = np.concatenate([slab.vertices, puck.vertices])
    faces = np.concatenate([slab.faces, puck.faces + len(slab.vertices)])
    mesh = from_arrays(vertices, faces, np.repeat([0, 1], [len(slab.faces), len(puck.faces)]))
    proxy, _ = decimate(mesh, mesh.num_faces // 3)
    bottom = (mesh.part_ids == 1) & (mesh.face_normals[:, 2] < -0.99)
    assert bottom.sum() > 50
    down = proxy.face_normals[:, 2] < -0.99  # the puck's bottom, and the slab's, the lowest plane
    assert np.array_equal(proxy.part_ids[down], (proxy.centroids[down, 2] > proxy.vertices[:, 2].min() + 1e-6).astype(int))
    labels = transfer_labels(proxy, proxy.part_ids, mesh, PA, IMPROVED)
    assert np.array_equal(labels, mesh.part_ids)
    points = mesh.centroids[bottom]
    found = closest_faces(mesh.triangles, points + 1e-9, normals=mesh.face_normals[bottom])
    assert (mesh.part_ids[found] == 1).all()


def test_labels_carry_to_every_face_with_their_boundary(two_spheres):
    proxy, _ = decimate(two_spheres, 1000)
    # parts: the left sphere, the right sphere's top half, its bottom half left unlabelled
    proxy_labels = np.where(proxy.part_ids == 0, 3, np.where(proxy.centroids[:, 2] > 0, 7, -1))
    labels = transfer_labels(proxy, proxy_labels, two_spheres, PA, IMPROVED)
    expected = np.where(two_spheres.part_ids == 0, 3, np.where(two_spheres.centroids[:, 2] > 0, 7, -1))
    areas = two_spheres.face_areas
    assert (labels[two_spheres.part_ids == 0] == 3).all()
    assert areas[labels == expected].sum() / areas.sum() > 0.98  # the cut across the sphere follows the proxy's


def test_the_mesh_itself_is_segmented_under_the_budget(two_spheres):
    for budget in (0, two_spheres.num_faces):
        segmented, sources = proxy_or_mesh(two_spheres, budget)
        assert segmented is two_spheres and sources is None
    proxy, _ = proxy_or_mesh(two_spheres, 2000)
    assert proxy.num_faces <= 2000
    assert np.array_equal(transfer_labels(proxy, proxy.part_ids, two_spheres, PA, IMPROVED), two_spheres.part_ids)


def test_cli_segments_a_proxy_and_exports_the_full_mesh(two_spheres, output_dir, capsys):
    path = output_dir / "spheres.ply"
    trimesh.Trimesh(two_spheres.file_vertices(), two_spheres.faces, process=False).export(path)
    out = output_dir / "out"
    argv = ["segment", str(path), "--auto", "--segmenter", "geometry", "--resolution", "96", "--face-budget", "2000"]
    assert main(argv + ["--out", str(out)]) == 0
    assert "segmenting a proxy" in capsys.readouterr().err
    labels = np.load(out / "spheres_labels.npy")
    assert len(labels) == two_spheres.num_faces and (labels >= 0).all()
    record = json.loads((out / "spheres_labels.json").read_text())
    assert sum(p["faces"] for p in record["parts"]) == two_spheres.num_faces  # stats of the full mesh
    assert len(np.unique(labels[two_spheres.part_ids == 0])) == 1  # a sphere has no crease: one part


def test_the_transfer_cleans_up_with_the_given_profile():
    """A sphere stored unwelded (every triangle its own three vertices, as many files
    split their UV seams): the improved clean-up welds it and clears a stray patch of
    the bottom's label in the top; the release's adjacency is of the file's vertices,
    where every face is a piece of its own, so nothing is small and the patch stays."""
    sphere = make_sphere_mesh(subdivisions=3)
    triangles = sphere.vertices[sphere.faces]
    mesh = from_arrays(triangles.reshape(-1, 3), np.arange(3 * len(triangles)).reshape(-1, 3))
    proxy = from_arrays(mesh.vertices.copy(), mesh.faces.copy())  # the same surface: each face finds itself
    labels = (mesh.centroids[:, 2] < 0).astype(np.int32)
    patch = np.argsort(np.linalg.norm(mesh.centroids - [0, 0, 0.5], axis=1))[:6]  # 6 faces around the top pole
    labels[patch] = 1
    improved = transfer_labels(proxy, labels, mesh, PA, IMPROVED)
    official = transfer_labels(proxy, labels, mesh, PA, OFFICIAL)
    assert (improved[patch] == 0).all() and np.array_equal(improved, (mesh.centroids[:, 2] < 0).astype(np.int32))
    assert np.array_equal(official, labels)
    for profile, transferred in ((IMPROVED, improved), (OFFICIAL, official)):
        expected = clean_labels(mesh, labels, PA, fill_unlabelled=False, split_disconnected=False, keep_largest_piece=True, profile=profile)
        assert np.array_equal(transferred, expected)


@pytest.fixture(scope="module")
def many_boxes():
    """600 separate small boxes of random sizes (12 faces each, box i = scene part i)
    scattered in a unit cube: decimated to 800 faces, most boxes lose faces and many vanish."""
    rng = np.random.default_rng(0)
    box = trimesh.creation.box((0.02, 0.02, 0.02))
    count = 600
    vertices = np.concatenate([box.vertices * rng.uniform(0.5, 2.0) + centre for centre in rng.uniform(0, 1, (count, 3))])
    faces = np.concatenate([box.faces + len(box.vertices) * i for i in range(count)])
    return from_arrays(vertices, faces, np.repeat(np.arange(count), len(box.faces)))


@pytest.mark.parametrize("profile", [IMPROVED, OFFICIAL])
def test_the_transfer_never_splits_a_piece_the_proxy_does_not_split(many_boxes, profile):
    proxy, sources = decimate(many_boxes, 800)
    on_proxy = np.unique(proxy.part_ids)
    assert 50 < len(on_proxy) < 550  # some boxes vanished, most kept a few faces
    proxy_labels = proxy.part_ids % 5  # parts of many boxes each
    labels = transfer_labels(proxy, proxy_labels, many_boxes, PA, profile, sources).reshape(-1, 12)
    assert (labels == labels[:, :1]).all()  # no box split
    np.testing.assert_array_equal(labels[on_proxy, 0], on_proxy % 5)  # a box on the proxy keeps its own faces' label
    # sources found again by distance: the closest full face of a shrunk box's proxy face may be another box's
    by_distance = transfer_labels(proxy, proxy_labels, many_boxes, PA, profile).reshape(-1, 12)
    assert (by_distance != labels).any(axis=1).mean() < 0.03


def test_a_piece_split_on_the_proxy_stays_split(two_spheres):
    proxy, sources = decimate(two_spheres, 1000)
    proxy_labels = np.where(proxy.centroids[:, 2] > 0, 1, 2)  # both spheres cut in halves
    labels = transfer_labels(proxy, proxy_labels, two_spheres, PA, IMPROVED, sources)
    expected = np.where(two_spheres.centroids[:, 2] > 0, 1, 2)
    assert two_spheres.face_areas[labels == expected].sum() / two_spheres.face_areas.sum() > 0.97  # the cuts follow the proxy


def test_a_proxy_without_faces_is_a_clear_error(two_spheres):
    with pytest.raises(ProxyError, match="left none"):
        decimate(two_spheres, 1)


def test_the_collapse_map_gives_each_proxy_face_the_full_face_it_was(two_spheres):
    proxy, proxy_map = decimate(two_spheres, 1000)
    assert proxy_map.corners.shape == (two_spheres.num_faces, 3)
    np.testing.assert_array_equal(proxy_map.corners[proxy_map.sources], proxy.faces)
    assert proxy_map.corners.min() >= -1 and proxy_map.corners.max() == len(proxy.vertices) - 1


def test_collapses_that_do_not_give_the_proxy_are_refused():
    """Two triangles sharing edge 1-2 (welded): collapsing vertex 3 into 1 removes the second."""
    welded = np.array([[0, 1, 2], [1, 3, 2]])
    collapsed = collapse_map(welded, np.array([[1, 3]]), np.array([[0, 1, 2]]))
    np.testing.assert_array_equal(collapsed.sources, [0])
    np.testing.assert_array_equal(collapsed.corners, [[0, 1, 2], [1, 1, 2]])
    assert collapse_map(welded, np.zeros((0, 2), np.int64), np.array([[0, 1, 2]])) is None  # the second face would stay


def test_the_collapse_map_transfer_agrees_with_the_closest_faces():
    """A subdivided box and a sphere, the proxy's labels cut by a grid of planes
    (boundaries everywhere): the faces whose collapsed corners agree take that
    label, the others the closest proxy face's; against the closest face for
    every face, they differ on a sliver of the surface along the cuts."""
    box = make_box_mesh((1.0, 0.6, 0.4)).subdivide_to_size(0.02)
    sphere = make_sphere_mesh(radius=0.3, subdivisions=5).apply_translation((0.9, 0.0, 0.0))
    mesh = from_arrays(np.concatenate([box.vertices, sphere.vertices]), np.concatenate([box.faces, sphere.faces + len(box.vertices)]))
    proxy, proxy_map = decimate(mesh, mesh.num_faces // 10)
    cells = np.floor(proxy.centroids * [6, 5, 4]).astype(np.int32)
    proxy_labels = (cells[:, 0] + 3 * cells[:, 1] + 7 * cells[:, 2]) % 5
    _, decided = labels_by_corners(proxy, proxy_labels, proxy_map, mesh.graph.pieces)
    assert decided.mean() > 0.4  # ten full faces a proxy face, cuts every few proxy faces
    by_corners = transfer_labels(proxy, proxy_labels, mesh, PA, IMPROVED, proxy_map)
    by_distance = transfer_labels(proxy, proxy_labels, mesh, PA, IMPROVED, ProxyMap(proxy_map.sources))
    areas = mesh.face_areas
    assert areas[by_corners != by_distance].sum() / areas.sum() < 0.002


def test_without_the_collapses_the_sources_are_found_by_distance(two_spheres, monkeypatch):
    monkeypatch.setattr("geosam2.geometry.proxy.collapse_map", lambda *args: None)
    proxy, proxy_map = decimate(two_spheres, 1000)
    assert proxy_map.corners is None
    left = proxy.centroids[:, 0] < np.mean(two_spheres.vertices[:, 0])
    assert (proxy.part_ids[left] == 0).all() and (proxy.part_ids[~left] == 1).all()
    assert np.array_equal(transfer_labels(proxy, proxy.part_ids, two_spheres, PA, IMPROVED, proxy_map), two_spheres.part_ids)
