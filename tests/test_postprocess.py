"""Label clean-up on the face graph: small pieces, neighbour fill, k-NN fill, splitting, memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import trimesh

from tests.factories import make_box_mesh
from geosam2.geometry.facegraph import face_graph
from geosam2.io.mesh import from_arrays
from geosam2.lifting.cleanup import clean_labels, fill_from_nearest, fill_from_neighbours, split_components


def grid_mesh(n: int, offset=(0.0, 0.0)):
    """(vertices, faces) of an n x n grid of unit quads in the z = 0 plane, two
    triangles per quad: quad (row i, column j) owns faces 2 (i n + j) and 2 (i n + j) + 1."""
    x, y = np.meshgrid(np.arange(n + 1.0), np.arange(n + 1.0))
    vertices = np.stack([x.ravel() + offset[0], y.ravel() + offset[1], np.zeros(x.size)], axis=1)
    corner = (np.arange(n)[:, None] * (n + 1) + np.arange(n)[None, :]).ravel()
    a, b, c, d = corner, corner + 1, corner + n + 2, corner + n + 1
    faces = np.stack([np.stack([a, b, c], 1), np.stack([a, c, d], 1)], axis=1).reshape(-1, 3)
    return vertices, faces


def quad_faces(n: int, rows, columns) -> np.ndarray:
    """Face indices of the quads (rows x columns) of an n x n grid."""
    quads = (np.asarray(rows)[:, None] * n + np.asarray(columns)[None, :]).ravel()
    return np.concatenate([2 * quads, 2 * quads + 1])


def halves(n: int) -> np.ndarray:
    """(2 n²,) labels: 0 on the left half of the columns, 1 on the right half."""
    column = np.tile(np.repeat(np.arange(n), 2), n)
    return (column >= n // 2).astype(np.int64)


def test_grid_helper_is_what_it_says():
    n = 4
    mesh = from_arrays(*grid_mesh(n))
    graph = face_graph(mesh)
    assert mesh.num_faces == 2 * n * n and len(graph.pairs) == 3 * n * n - 2 * n  # interior edges
    centroid = mesh.centroids[quad_faces(n, [1], [2])].mean(axis=0)
    assert np.allclose(centroid[:2], (np.array([2.5, 1.5]) - n / 2) / n)


def test_small_island_is_cleared_and_takes_its_surroundings_label():
    n = 20
    mesh = from_arrays(*grid_mesh(n))
    expected = halves(n)
    labels = expected.copy()
    labels[quad_faces(n, [5], [3, 4])] = 2  # 4 faces < 2 % of 200
    labels[quad_faces(n, [12], [14])] = 0  # a stray piece of label 0 inside label 1
    assert np.array_equal(clean_labels(mesh, labels, split_disconnected=False), expected)
    kept = clean_labels(mesh, labels, pa=0, split_disconnected=False)  # PA 0 keeps everything
    assert np.array_equal(kept, labels)
    # keeping each label's largest piece saves the small part but not the stray piece of label 0
    protected = clean_labels(mesh, labels, keep_largest_piece=True, split_disconnected=False)
    assert np.array_equal(protected, np.where(labels == 2, 2, expected))


def test_small_piece_is_kept_when_its_area_is_large():
    # a fine grid (800 faces) and, apart from it, one big quad (2 faces, area 1/4 of the grid)
    fine_v, fine_f = grid_mesh(20)
    big_v = np.array([[30.0, 0, 0], [40, 0, 0], [40, 10, 0], [30, 10, 0]])
    tiny_v = big_v * [0.01, 0.01, 1] + [41, 5, 0]  # a tiny quad just beside the big one
    vertices = np.concatenate([fine_v, big_v, tiny_v])
    quad = np.array([[0, 1, 2], [0, 2, 3]])
    faces = np.concatenate([fine_f, quad + len(fine_v), quad + len(fine_v) + 4])
    mesh = from_arrays(vertices, faces)
    labels = np.r_[np.zeros(800, int), [1, 1], [2, 2]]
    cleaned = clean_labels(mesh, labels, split_disconnected=False)
    assert (cleaned[:802] == labels[:802]).all()  # few faces but large area: kept
    assert (cleaned[802:] == 1).all()  # few faces and small area: cleared, nearest labels are the big quad's


def test_whole_mesh_pieces_are_kept_and_fragments_inside_pieces_cleared():
    # a 20 x 20 grid (800 faces) labelled 0 with a 4-face fragment of label 1, and apart from it
    # three small separate quads of label 1: label 1's largest piece is the first quad, the
    # other two lie next to the grid
    grid_v, grid_f = grid_mesh(20)
    quad = np.array([[0, 1, 2], [0, 2, 3]])
    corners = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    quads_v = [corners * size + [x, 0, 0] for x, size in ((60, 2.0), (21, 1.0), (23, 1.0))]  # the first far away
    vertices = np.concatenate([grid_v] + quads_v)
    faces = np.concatenate([grid_f] + [quad + len(grid_v) + 4 * k for k in range(3)])
    mesh = from_arrays(vertices, faces)
    labels = np.r_[np.zeros(800, int), np.ones(6, int)]
    fragment = quad_faces(20, [5], [3, 4])
    labels[fragment] = 1
    largest_only = clean_labels(mesh, labels, keep_largest_piece=True, split_disconnected=False)
    assert (largest_only[fragment] == 0).all() and (largest_only[800:802] == 1).all()
    assert (largest_only[802:] == 0).all()  # the other quads were cleared and took the grid's label
    whole = clean_labels(mesh, labels, keep_largest_piece=True, keep_whole_pieces=True, split_disconnected=False)
    assert (whole[fragment] == 0).all() and (whole[800:] == 1).all()


def test_welded_studs_bordered_by_concave_creases_are_kept():
    # a welded 30 x 20 voxel slab (label 0) with three one-voxel studs on top (label 1)
    from tests.stress import voxel_surface

    voxels = np.full((30, 20, 2), -1)
    voxels[:, :, 0] = 0
    for x in (5, 15, 25):
        voxels[x, 10, 1] = 1
    mesh, truth = voxel_surface("studs", voxels)[1:]
    top = (np.abs(mesh.face_normals[:, 2] - 1) < 1e-9) & (truth == 0)
    corner = (mesh.centroids - mesh.centroids[top].min(0))[:, :2] * 30  # in voxels
    fragment = top & (corner < 1.9).all(1)  # 2 x 2 quads in a corner of the top: flat and convex borders
    assert fragment.sum() == 8
    labels = truth.copy()
    labels[fragment] = 1
    largest_only = clean_labels(mesh, labels, keep_largest_piece=True, split_disconnected=False)
    assert (largest_only[truth == 1] == 1).sum() == 10  # one stud of 5 quads kept, the two others cleared
    whole = clean_labels(mesh, labels, keep_largest_piece=True, keep_whole_pieces=True, split_disconnected=False)
    assert np.array_equal(whole, truth)


def test_neighbour_fill_takes_the_majority():
    n = 5
    mesh = from_arrays(*grid_mesh(n))
    graph = face_graph(mesh)
    face = quad_faces(n, [2], [2])[0]
    neighbours = np.unique(graph.pairs[(graph.pairs == face).any(axis=1)])
    neighbours = neighbours[neighbours != face]
    assert len(neighbours) == 3
    labels = np.full(mesh.num_faces, -1)
    labels[neighbours] = [4, 7, 4]
    targets = np.zeros(mesh.num_faces, bool)
    targets[face] = True
    filled = fill_from_neighbours(graph, labels, targets)
    assert filled[face] == 4
    assert np.array_equal(np.delete(filled, face), np.delete(labels, face))  # only targets change


def test_neighbour_fill_flows_inwards_from_both_sides():
    n = 16
    mesh = from_arrays(*grid_mesh(n))
    graph = face_graph(mesh)
    labels = np.full(mesh.num_faces, -1)
    labels[quad_faces(n, range(n), [0])] = 0
    labels[quad_faces(n, range(n), [n - 1])] = 1
    filled = fill_from_neighbours(graph, labels, labels < 0)
    assert (filled >= 0).all()
    assert (filled[quad_faces(n, range(n), range(n // 2 - 2))] == 0).all()
    assert (filled[quad_faces(n, range(n), range(n // 2 + 2, n))] == 1).all()
    # one sweep only moves one ring of faces
    once = fill_from_neighbours(graph, labels, labels < 0, max_sweeps=1)
    assert (once[quad_faces(n, range(n), [4])] == -1).all()


def test_nearest_fill_takes_the_mode_of_three_then_the_nearest():
    x = np.array([0.0, 1, 2.1, 3.3, 10, 11, 12.1, 13.3])
    centroids = np.stack([x, np.zeros(8), np.zeros(8)], axis=1)
    labels = np.array([-1, 5, 8, 8, -1, 7, 6, 5])
    targets = labels < 0
    filled = fill_from_nearest(centroids, labels, targets)
    assert filled[0] == 8  # nearest three: 5, 8, 8 -> the mode
    assert filled[4] == 7  # nearest three: 7, 6, 5 -> a tie, the nearest wins
    assert np.array_equal(filled[~targets], labels[~targets])


def test_disconnected_unseen_component_is_filled_from_nearest_centroids():
    left_v, left_f = grid_mesh(4)
    right_v, right_f = grid_mesh(4, offset=(6.0, 0.0))
    mesh = from_arrays(np.concatenate([left_v, right_v]), np.concatenate([left_f, right_f + len(left_v)]))
    labels = np.r_[halves(4), np.full(32, -1)]  # the right grid is seen by no view
    cleaned = clean_labels(mesh, labels, pa=0, split_disconnected=False)
    assert (cleaned[32:] == 1).all()  # the nearest labelled faces are the left grid's right half
    assert np.array_equal(cleaned[:32], labels[:32])


def test_unlabelled_faces_can_stay_unlabelled():
    n = 20
    mesh = from_arrays(*grid_mesh(n))
    labels = np.where(halves(n) == 1, -1, 0)
    labels[quad_faces(n, [5, 6, 7], [9])] = 1  # a 6-face piece touching the unlabelled half
    labels[quad_faces(n, [10], [3])] = 2  # a 2-face island inside label 0
    cleaned = clean_labels(mesh, labels, fill_unlabelled=False, split_disconnected=False)
    assert np.array_equal(cleaned < 0, halves(n) == 1)
    assert (cleaned[halves(n) == 0] == 0).all()
    filled = clean_labels(mesh, labels, split_disconnected=False)
    assert (filled >= 0).all() and set(np.unique(filled)) == {0}


def test_unseen_holes_do_not_wipe_a_well_seen_part():
    # the left half is label 0 on a checkerboard of quads, unseen on the others: its pieces
    # (2 faces each) are tiny, but together they are half the object
    n = 20
    mesh = from_arrays(*grid_mesh(n))
    labels = halves(n)
    row, column = np.divmod(np.repeat(np.arange(n * n), 2), n)
    labels[(labels == 0) & ((row + column) % 2 == 1)] = -1
    cleaned = clean_labels(mesh, labels, split_disconnected=False)
    left = column < n // 2 - 1
    assert (cleaned[left] == 0).all()
    assert (cleaned[halves(n) == 1] == 1).all()


def test_disconnected_pieces_become_parts_with_their_sources():
    boxes = [make_box_mesh((1, 1, 1)), make_box_mesh((2, 2, 2)), make_box_mesh((1, 1, 1))]
    for box, x in zip(boxes, [0.0, 5.0, 10.0]):
        box.apply_translation([x, 0, 0])
    tm = trimesh.util.concatenate(boxes)
    mesh = from_arrays(tm.vertices, tm.faces)
    labels = np.repeat([3, 3, 1], 12)  # the small box 0 and the big box 1 share label 3
    graph = face_graph(mesh)
    split, sources = split_components(graph, labels, mesh.face_areas)
    # numbered by source label, then larger piece first
    assert np.array_equal(split, np.repeat([2, 1, 0], 12)) and np.array_equal(sources, [1, 3, 3])
    cleaned, sources_again = clean_labels(mesh, labels, pa=0, graph=graph, return_sources=True)
    assert np.array_equal(cleaned, split) and np.array_equal(sources_again, sources)
    kept, identity = clean_labels(mesh, labels, pa=0, split_disconnected=False, return_sources=True)
    assert np.array_equal(kept, labels) and np.array_equal(identity, np.arange(4))


def test_all_unlabelled_stays_unlabelled():
    mesh = from_arrays(*grid_mesh(3))
    assert (clean_labels(mesh, np.full(mesh.num_faces, -1)) == -1).all()


def test_clean_up_of_300k_faces_stays_under_2_gib():
    tm = trimesh.creation.icosphere(subdivisions=7)  # 327,680 faces
    mesh = from_arrays(tm.vertices, tm.faces)
    rng = np.random.default_rng(0)
    c = mesh.centroids
    labels = ((c[:, 0] > 0) + 2 * (c[:, 1] > 0) + 4 * (c[:, 2] > 0)).astype(np.int64)  # octants
    noisy = labels.copy()
    flip = rng.random(len(labels)) < 0.02
    noisy[flip] = rng.integers(0, 8, flip.sum())
    noisy[rng.random(len(labels)) < 0.05] = -1
    mesh.face_areas, mesh.centroids  # cached with the mesh, not the clean-up's cost
    tracemalloc.start()
    cleaned = clean_labels(mesh, noisy, split_disconnected=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"clean-up of {mesh.num_faces:,} faces: peak {peak / 2**20:.0f} MiB")
    assert peak < 2 * 2**30
    assert (cleaned == labels).mean() > 0.99
