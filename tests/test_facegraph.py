"""Face adjacency on welded vertices: components, creases, de-indexed meshes."""

import numpy as np
import pytest
import trimesh

from tests.factories import make_box_mesh
from geosam2.geometry.facegraph import creases, face_graph, unique_rows, valleys, weld_vertices
from geosam2.io.mesh import from_arrays


def deindexed(tm: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces with 3 own vertices per face, as the benchmark stores meshes."""
    return tm.vertices[tm.faces].reshape(-1, 3), np.arange(3 * len(tm.faces)).reshape(-1, 3)


def test_deindexed_box_is_one_component_with_right_angle_creases():
    mesh = from_arrays(*deindexed(make_box_mesh()))
    graph = face_graph(mesh)
    assert len(graph.pairs) == 18  # 12 triangles x 3 edges / 2
    assert graph.components().max() == 0
    # 6 diagonals inside the sides are flat, 12 box edges are 90-degree creases
    assert np.isclose(graph.cos_dihedral, 1).sum() == 6
    assert np.isclose(graph.cos_dihedral, 0).sum() == 12
    # cutting the creases leaves the six sides
    assert graph.components(graph.cos_dihedral > 0.5).max() + 1 == 6


def test_separate_boxes_are_separate_components():
    a, b = make_box_mesh(), make_box_mesh()
    b.apply_translation([3, 0, 0])
    both = trimesh.util.concatenate([a, b])
    graph = face_graph(from_arrays(both.vertices, both.faces))
    components = graph.components()
    assert len(set(components[:12])) == 1 and len(set(components[12:])) == 1
    assert components[0] != components[12]


def test_label_components_split_pieces_of_one_label():
    graph = face_graph(from_arrays(*deindexed(make_box_mesh())))
    top_bottom = np.zeros(12, np.int64)
    normals = from_arrays(*deindexed(make_box_mesh())).face_normals
    top_bottom[np.abs(normals[:, 2]) > 0.9] = 1  # top and bottom: one label, two pieces
    pieces = graph.label_components(top_bottom)
    assert len(np.unique(pieces[top_bottom == 1])) == 2
    assert len(np.unique(pieces[top_bottom == 0])) == 1


def test_weld_merges_only_coincident_vertices():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0], [1e-3, 0, 0]], float)
    welded = weld_vertices(vertices, np.array([[0, 1, 2], [3, 4, 2]]))
    assert welded[0, 0] == welded[1, 0]
    assert welded[1, 1] != welded[0, 1]


def test_non_manifold_edge_connects_all_its_faces():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], float)
    faces = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])  # three faces on edge 0-1
    graph = face_graph(from_arrays(vertices, faces))
    assert sorted(map(tuple, graph.pairs.tolist())) == [(0, 1), (0, 2), (1, 2)]


@pytest.mark.parametrize("wall_z, concave", [(1.0, True), (-1.0, False)])
def test_creases_are_sharp_folds_and_concave_ones_valleys(wall_z, concave):
    # a floor (normal +z) and a wall on its edge y = 0, going up (a valley, normal +y)
    # or down (a box's convex edge, normal -y), consistently oriented: a 90 degree fold
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0.5, 1, 0], [0.5, 0, wall_z]], float)
    mesh = from_arrays(vertices, np.array([[0, 1, 2], [1, 0, 3]]))
    graph = face_graph(mesh)
    assert len(graph.pairs) == 1
    assert valleys(mesh, graph).tolist() == [concave]
    assert creases(mesh, graph).tolist() == [concave]
    assert creases(mesh, graph, concave_only=False).tolist() == [True]
    assert not creases(mesh, graph, angle_deg=100.0, concave_only=False).any()


@pytest.mark.parametrize("scale", [1, 2**40])  # digits that fit in 63 bits, and digits that do not
def test_unique_rows_numbers_rows_as_numpy_unique_does(scale):
    rows = np.random.default_rng(0).integers(-3, 4, (500, 3)) * scale
    expected = np.unique(rows, axis=0, return_inverse=True)[1].reshape(-1)
    np.testing.assert_array_equal(unique_rows(rows), expected)
    assert unique_rows(np.zeros((0, 3), np.int64)).shape == (0,)
