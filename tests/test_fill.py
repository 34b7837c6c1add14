"""The project's fill of faces no view labelled: nearest labelled face over the surface and
through the solid (geosam2.lifting.fill), on welded voxel solids (one connected surface,
as generated meshes are)."""

from __future__ import annotations

import numpy as np

from geosam2.io.mesh import from_arrays
from geosam2.lifting.cleanup import clean_labels, fill_labels
from geosam2.lifting.fill import fill_nearest, through_pairs
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
    filled = fill_nearest(obj.mesh, obj.mesh.graph, labels, hidden)
    assert np.array_equal(filled, obj.labels)  # floor through the floor, walls through the walls
    cleaned = clean_labels(obj.mesh, labels, pa=0, split_disconnected=False)
    assert np.array_equal(cleaned, obj.labels)
    # the fill over the adjacency alone reaches the hidden floor only from the walls
    swept = fill_labels(obj.mesh, obj.mesh.graph, labels, hidden)
    assert (swept[hidden & (obj.labels == FLOOR)] == WALL).mean() > 0.5


def test_a_well_wound_inside_out_is_filled_alike():
    obj, hidden = well()
    inside_out = from_arrays(obj.mesh.vertices, obj.mesh.faces[:, ::-1])
    assert np.allclose(inside_out.face_normals, -obj.mesh.face_normals)
    labels = np.where(hidden, -1, obj.labels).astype(np.int64)
    assert np.array_equal(fill_nearest(inside_out, inside_out.graph, labels, hidden), obj.labels)
