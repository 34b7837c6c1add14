"""The project's fill of faces no view labelled: nearest labelled face over the surface and
through the solid (geosam2.lifting.fill), on welded voxel solids (one connected surface,
as generated meshes are)."""

from __future__ import annotations

import numpy as np
import trimesh

from geosam2.io.mesh import from_arrays
from geosam2.lifting.cleanup import clean_labels, fill_labels
from geosam2.lifting.fill import fill_through_solid, through_pairs
from tests.stress import voxel_surface

FLOOR, WALL = 1, 0


def well():
    """A welded 7 x 7 x 8 voxel well: a one-voxel floor (part FLOOR) under walls of one
    voxel (part WALL) around a 5 x 5 shaft 7 voxels deep. Returns the StressObject and
    (F,) bool the faces no view of the well's inside sees: the floor's top inside the
    shaft and the lower 5 voxels of the inner walls."""
    voxels = np.full((7, 7, 8), -1)
    voxels[:, :, 0] = FLOOR
    voxels[:, :, 1:] = WALL
    voxels[1:6, 1:6, 1:] = -1  # the shaft
    obj = voxel_surface("well", voxels)
    centroids = obj.mesh.centroids
    low, high = obj.mesh.vertices.min(0), obj.mesh.vertices.max(0)
    inside = np.all((centroids[:, :2] > low[:2] + 0.1 * (high - low)[:2]) & (centroids[:, :2] < high[:2] - 0.1 * (high - low)[:2]), axis=1)
    height = (centroids[:, 2] - low[2]) / (high - low)[2]  # 0 at the bottom, 1 at the rim
    hidden = inside & (height > 0.05) & (height < 6 / 8)
    return obj, hidden


def test_well_is_what_it_says():
    obj, hidden = well()
    assert obj.mesh.graph.pieces.max() == 0  # one welded surface
    assert (obj.labels[hidden] == FLOOR).sum() == 2 * 25  # the floor's top inside the shaft: 25 quads
    assert (obj.labels[hidden] == WALL).sum() == 2 * 4 * 5 * 5  # 4 inner walls, 5 x 5 quads each
    assert (obj.labels[~hidden] == FLOOR).any()  # the underside and the floor's rim are seen


def test_line_through_the_floor_exits_at_its_underside():
    obj, hidden = well()
    floor_top = np.flatnonzero(hidden & (obj.labels == FLOOR))
    pairs = through_pairs(obj.mesh, obj.mesh.graph, floor_top)
    assert len(pairs) == len(floor_top)
    exits = obj.mesh.centroids[pairs[:, 1]]
    voxel = 1 / 8  # the well is 8 voxels tall, normalised to a longest side of 1
    assert (np.abs(exits[:, :2] - obj.mesh.centroids[pairs[:, 0], :2]) < voxel / 2).all()  # straight down
    assert (obj.mesh.face_normals[pairs[:, 1], 2] < -0.99).all()  # onto the underside
    assert (obj.labels[pairs[:, 1]] == FLOOR).all()


def test_hidden_floor_of_a_well_keeps_the_floor_label():
    obj, hidden = well()
    labels = np.where(hidden, -1, obj.labels).astype(np.int64)
    through = fill_through_solid(obj.mesh, obj.mesh.graph, labels, hidden)
    floor = hidden & (obj.labels == FLOOR)
    assert (through[floor] == FLOOR).all()  # reached through the floor from the underside
    assert (through[~hidden] == obj.labels[~hidden]).all() and (through[hidden] >= 0).any()
    cleaned = clean_labels(obj.mesh, labels, pa=0, split_disconnected=False)
    assert np.array_equal(cleaned, obj.labels)  # the rest of the walls over the surface
    # the fill over the adjacency alone reaches the hidden floor only from the walls
    swept = fill_labels(obj.mesh, obj.mesh.graph, labels, hidden)
    assert (swept[floor] == WALL).mean() > 0.5


def test_faces_reached_sooner_over_the_surface_are_left_to_it():
    # a hidden band just under the well's rim is one face from the seen inner wall above
    # it and a wall's thickness from the outside: the line through the wall is no sooner
    obj, hidden = well()
    labels = obj.labels.astype(np.int64).copy()
    height = obj.mesh.centroids[:, 2] - obj.mesh.vertices[:, 2].min()
    band = hidden & (obj.labels == WALL) & (height > height[hidden].max() - 0.05)
    labels[hidden & ~band] = obj.labels[hidden & ~band]  # only the band is hidden
    labels[band] = -1
    through = fill_through_solid(obj.mesh, obj.mesh.graph, labels, band)
    assert (through[band] == -1).all()


def test_a_well_wound_inside_out_is_filled_alike():
    obj, hidden = well()
    inside_out = from_arrays(obj.mesh.vertices, obj.mesh.faces[:, ::-1])
    assert np.allclose(inside_out.face_normals, -obj.mesh.face_normals)
    labels = np.where(hidden, -1, obj.labels).astype(np.int64)
    assert np.array_equal(clean_labels(inside_out, labels, pa=0, split_disconnected=False), obj.labels)


def test_faces_buried_in_another_solid_get_no_line():
    # a small box sunk halfway into a big one through its x = 0.3 side, both one piece of
    # the face graph (two bridging triangles join an edge of each, as an artist's welded
    # boxes): the buried side looks out onto the big box's faces from behind
    big, small = trimesh.creation.box((1, 1, 1)), trimesh.creation.box((0.4, 0.4, 0.4))
    small.apply_translation((0.5, 0, 0))
    vertices = np.concatenate([big.vertices, small.vertices])
    top_big = np.flatnonzero((big.vertices[:, 2] > 0) & (big.vertices[:, 0] > 0))  # 2 vertices
    top_small = len(big.vertices) + np.flatnonzero((small.vertices[:, 2] > 0) & (small.vertices[:, 0] > 0.6))
    bridge = np.array([[top_big[0], top_big[1], top_small[0]], [top_big[1], top_small[1], top_small[0]]])
    faces = np.concatenate([big.faces, small.faces + len(big.vertices), bridge])
    mesh = from_arrays(vertices, faces)
    assert mesh.graph.pieces.max() == 0
    small_faces = np.arange(len(big.faces), len(big.faces) + len(small.faces))
    x = mesh.face_normals[small_faces, 0]
    buried = small_faces[x < -0.99]
    # into the solid, their line leaves the big box from behind (an exit but for the guard)
    assert len(through_pairs(mesh, mesh.graph, buried)) == 0


def test_faces_kept_unlabelled_are_measured_without_rays():
    # a clean-up that keeps unseen faces unlabelled (a proxy's transfer to a full mesh of
    # millions of faces) fills them over the adjacency only: no ray caster is built
    from geosam2.lifting import fill

    obj, hidden = well()
    labels = np.where(hidden, -1, obj.labels).astype(np.int64)
    cleaned = clean_labels(obj.mesh, labels, fill_unlabelled=False, split_disconnected=False)
    assert (cleaned[hidden] == -1).all() and np.array_equal(cleaned[~hidden], obj.labels[~hidden])
    assert obj.mesh not in fill._CASTERS
    clean_labels(obj.mesh, labels, split_disconnected=False)
    assert obj.mesh in fill._CASTERS
