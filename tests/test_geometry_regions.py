"""The geometry segmenter in 3-D: region copies, splits between clicks, and the
automatic completion's rules, on meshes whose parts are known by construction."""

from __future__ import annotations

import numpy as np
import trimesh

from geosam2.geometry.facegraph import face_graph
from geosam2.segmenters.geometry import GeometrySegmenter
from geosam2.io.mesh import from_arrays
from geosam2.segmenters.prompts import Prompt
from geosam2.geometry.regions import (
    closest_labels,
    congruent_families,
    region_signatures,
    shared_edge_lengths,
    random_walk_split,
)
from geosam2.pipeline.session import Session
from geosam2.geometry.boundaries import boundaries
from tests import stress
from tests.helpers import pixel_of_face

RESOLUTION = 128


def assemble(pieces):
    """One mesh of separate trimesh pieces (own vertices); returns it and (F,) piece index per face."""
    built = stress.assemble("pieces", [(piece, k) for k, piece in enumerate(pieces)])
    return built.mesh, built.labels


def box(extents, centre, subdivisions=1):
    return stress.box(extents, centre, subdivisions)


def stool():
    """A seat (piece 0) on four congruent separate legs (pieces 1-4), and a small bolt (piece 5)
    sunk into the seat's front."""
    seat = box((2.0, 2.0, 0.2), (0, 0, 1.6), subdivisions=2)
    legs = [box((0.3, 0.3, 1.5), (x, y, 0.75)) for x in (-0.8, 0.8) for y in (-0.8, 0.8)]
    bolt = box((0.06, 0.04, 0.06), (0, -1.01, 1.6))
    return assemble([seat, *legs, bolt])


def welded_bar():
    """A 6 x 1 x 1 box welded into one surface of small triangles: one crease-free region."""
    bar = trimesh.creation.box(extents=(6.0, 1.0, 1.0))
    return from_arrays(*trimesh.remesh.subdivide_to_size(bar.vertices, bar.faces, max_edge=0.3))


def split(mesh, graph, faces, seeds, owners):
    """`random_walk_split` over the boundary conductances (`geosam2.geometry.boundaries`)."""
    return random_walk_split(graph, boundaries(mesh, graph).conductance, faces, np.asarray(seeds), np.asarray(owners))


def click(session, faces):
    view, x, y = pixel_of_face(session.views, np.flatnonzero(faces))
    return Prompt(view, points=[[x, y]])


def test_congruent_copies_are_translated_rotated_or_mirrored_regions_of_equal_shape():
    legs = [box((0.2, 0.2, 1.0), (0, 0, 0)), box((0.2, 1.0, 0.2), (3, 0, 0)), box((0.2, 0.2, 1.0), (0, 3, 0))]
    other = box((0.2, 0.2, 1.2), (3, 3, 0))  # longer: not a copy
    mesh, piece = assemble(legs + [other])
    signatures = region_signatures(mesh, piece)
    assert np.allclose(signatures[:, 0] / signatures[0, 0], [1, 1, 1, 1.04 / 0.88])  # 2 * 0.2^2 + 4 * 0.2 * length
    families = congruent_families(signatures)
    assert families[0] == families[1] == families[2] != families[3]
    # a region id missing from the faces (-1) is ignored
    assert np.allclose(region_signatures(mesh, np.where(piece == 3, -1, piece))[:3], signatures[:3])


def test_shared_edge_lengths_of_a_cube_are_its_sides_and_face_diagonals():
    cube = trimesh.creation.box()
    mesh = from_arrays(cube.vertices, cube.faces)
    graph = face_graph(mesh)
    side = np.ptp(mesh.vertices[:, 0])
    lengths = shared_edge_lengths(mesh, graph)
    assert len(lengths) == 18  # 12 cube edges + 6 face diagonals
    assert np.isclose(lengths, side).sum() == 12 and np.isclose(lengths, side * np.sqrt(2)).sum() == 6


def test_split_between_two_clicks_on_a_welded_bar_meets_in_the_middle():
    mesh = welded_bar()
    graph = face_graph(mesh)
    x = mesh.centroids[:, 0]
    ends = [int(np.argmin(x)), int(np.argmax(x))]
    owner = split(mesh, graph, np.ones(mesh.num_faces, bool), ends, [0, 1])
    assert (owner[x < -0.15] == 0).all() and (owner[x > 0.15] == 1).all()  # within 15 % of the length
    # faces outside the region to split are not reached
    half = x < 0
    owner = split(mesh, graph, half, ends[:1], [7])
    assert (owner[half] == 7).all() and (owner[~half] == -1).all()


def test_split_settles_at_the_fold_and_neck_between_a_base_and_its_column():
    # a lathe: a wide base whose upper side rises gently to a tall thin column, the fold
    # between them concave but shallower than a crease (one region); seeds at the
    # bottom's centre and the column's top: the cut follows the fold, where the nearest
    # seed along the surface would cut the base's upper side
    profile = np.array([(0, 0), (1, 0), (1, 0.2), (0.3, 0.7), (0.2, 2.0), (0, 2.0)], float)  # (radius, height)
    lathe = trimesh.creation.revolve(profile, sections=48)
    vertices, faces = trimesh.remesh.subdivide_to_size(lathe.vertices, lathe.faces, max_edge=0.1)
    mesh = from_arrays(vertices, faces)
    assert (GeometrySegmenter(mesh).parts == 0).all()  # one crease region
    graph = face_graph(mesh)
    radius = np.linalg.norm(mesh.centroids[:, :2], axis=1) / np.ptp(mesh.vertices[:, 0]) * 2  # file units
    height = (mesh.centroids[:, 2] - mesh.vertices[:, 2].min()) / np.ptp(mesh.vertices[:, 0]) * 2
    seeds = np.array([int(np.argmin(height + radius)), int(np.argmax(height - radius))])
    upper_side = (radius > 0.35) & (height > 0.25)  # the base's rising upper side
    column = (radius < 0.25) & (height > 0.8) & (height < 1.9)
    everything = np.ones(mesh.num_faces, bool)
    owner = split(mesh, graph, everything, seeds, [0, 1])
    assert (owner[upper_side] == 0).all() and (owner[column] == 1).all()


def test_closest_labels_joins_touching_units_and_the_nearest_across_a_gap():
    mesh, piece = assemble([box((1, 1, 1), (0, 0, 0)), box((1, 1, 1), (3, 0, 0)), box((0.2, 0.2, 0.2), (0.6, 0, 0)), box((0.2, 0.2, 0.2), (2.2, 0, 0))])
    labels = np.where(piece < 2, piece * 10, -1)
    units = np.where(piece >= 2, piece - 2, -1)
    assert closest_labels(mesh, labels, units).tolist() == [0, 10]
    assert closest_labels(mesh, np.full(mesh.num_faces, -1), units).tolist() == [-1, -1]
    assert closest_labels(mesh, labels, np.full(mesh.num_faces, -1)).tolist() == []  # no unit


def test_click_selects_hidden_faces_of_its_region():
    # a cube sunk into a plate: its bottom is inside the plate, no view sees it; a click
    # on the cube returns every face of the cube, the bottom too, and only them
    mesh, piece = assemble([box((2, 2, 0.2), (0, 0, 0)), box((0.5, 0.5, 0.5), (0, 0, 0.34))])
    session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
    assert not np.isin(np.flatnonzero((piece == 1) & (mesh.face_normals[:, 2] < -0.9)), session.views.face_ids).any()
    answer = session.segmenter.segment(session.views, [click(session, piece == 1)])
    assert (answer.faces[0] == (piece == 1)).all()
    assert (session.add_part(click(session, piece == 1)).labels == np.where(piece == 1, 0, -1)).all()


def test_two_clicks_in_one_welded_region_split_it_and_the_earlier_wins_a_shared_face():
    mesh = welded_bar()
    session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
    x = mesh.centroids[:, 0]
    left, right = click(session, x < -0.4), click(session, x > 0.4)
    update = session.add_parts([left, right])
    assert (update.labels[x < -0.2] == 0).all() and (update.labels[x > 0.2] == 1).all()
    twice = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION).add_parts([left, left])
    assert (twice.labels == 0).all() and twice.skipped == (1,)


def test_completion_joins_leg_copies_to_the_clicked_leg_and_the_bolt_to_the_seat():
    mesh, piece = stool()
    session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
    session.add_parts([click(session, piece == 0), click(session, piece == 1)])
    update = session.auto_complete()
    assert len(update.parts) == 2
    assert (update.labels[piece == 0] == 0).all() and (update.labels[piece == 5] == 0).all()  # the bolt: a detail of the seat
    assert (update.labels[np.isin(piece, [1, 2, 3, 4])] == 1).all()


def test_completion_joins_studs_welded_on_a_panel_to_the_clicked_stud():
    # one welded surface: a slab (0) with 8 one-voxel studs on top (1); each stud is a crease
    # part of the slab's piece, a copy of the clicked one in the same piece
    voxels = np.full((16, 8, 4), -1)
    voxels[:, :, :3] = 0
    voxels[2:16:4, 2, 3] = voxels[2:16:4, 5, 3] = 1
    _, mesh, truth = stress.voxel_surface("panel", voxels)
    session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
    assert session.segmenter.scales.connected.max() == 0  # welded
    regions = session.segmenter.parts
    first_stud = regions == regions[np.flatnonzero(truth == 1)[0]]
    assert first_stud.sum() < (truth == 1).sum() / 4
    session.add_parts([click(session, truth == 0), click(session, first_stud)])
    update = session.auto_complete()
    assert len(update.parts) == 2 and np.array_equal(update.labels, truth)


def test_completion_keeps_instances_and_unclicked_copies_apart():
    mesh, piece = stool()
    session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
    # two legs clicked as two parts: the legs are instances, each other leg its own new part
    session.add_parts([click(session, piece == 0), click(session, piece == 1), click(session, piece == 2)])
    update = session.auto_complete()
    legs = [np.unique(update.labels[piece == k]) for k in (1, 2, 3, 4)]
    assert all(len(leg) == 1 for leg in legs) and len({int(leg[0]) for leg in legs}) == 4
    # the seat and the bolt clicked: nothing says whether the four legs are one part or
    # four, each leg is a part (merging instances wrongly would cost more than splitting
    # one part); the bolt sets the scale of a part, so the legs are no details
    session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
    session.add_parts([click(session, piece == 0), click(session, piece == 5)])
    update = session.auto_complete()
    legs = [np.unique(update.labels[piece == k]) for k in (1, 2, 3, 4)]
    assert len(update.parts) == 6 and len({int(leg[0]) for leg in legs if len(leg) == 1}) == 4
    # the seat alone clicked: a leg is below half its size, but no detail of the object
    # (above SMALL_SHARE of the surface): each leg still a part, the bolt the seat's
    session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
    session.add_part(click(session, piece == 0))
    update = session.auto_complete()
    assert len(update.parts) == 5 and (update.labels[piece == 5] == 0).all()


def test_completion_gives_a_piece_holding_one_part_to_that_part():
    # convex edges cut too: each side of the welded bar is its own region; a click on the
    # top, and completion gives the rest of the piece to that part
    mesh = welded_bar()
    segmenter = GeometrySegmenter(concave_only=False)  # every side of the bar its own region
    session = Session(mesh, segmenter, resolution=RESOLUTION)
    top = mesh.face_normals[:, 2] > 0.9
    first = session.add_part(click(session, top))
    assert (first.labels == np.where(top, 0, -1)).all()
    assert (session.auto_complete().labels == 0).all()


def test_segment_everything_makes_each_piece_a_part_and_details_join():
    mesh, piece = stool()
    session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
    update = session.segment_everything()
    assert (update.labels >= 0).all()
    parts = [np.unique(update.labels[piece == k]) for k in range(5)]  # the seat and each leg
    assert all(len(p) == 1 for p in parts) and len({int(p[0]) for p in parts}) == 5
    assert (update.labels[piece == 5] == parts[0][0]).all()  # the bolt: a detail of the seat


def test_segment_everything_keeps_many_small_pieces_of_similar_size_apart():
    # 150 separate boxes, each under 1 % of the surface: none is a detail of another
    rng = np.random.default_rng(0)
    centres = [(x * 2.0, y * 2.0, 0) for x in range(15) for y in range(10)]
    mesh, piece = assemble([box(rng.uniform(0.8, 1.2, 3), centre, subdivisions=0) for centre in centres])
    session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
    labels = session.segment_everything().labels
    assert len(np.unique(np.stack([labels, piece], 1), axis=0)) == len(np.unique(labels)) == len(centres)


def test_clicks_on_a_welded_table_split_it_at_the_legs():
    # one welded surface whose legs run flush with the top's sides: one crease region;
    # a click on the top and on each leg divides it where the surface narrows and folds in
    from tests.helpers import mesh_miou
    from tests.stress import table

    _, mesh, truth = table()
    session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
    assert (session.segmenter.parts == 0).all()
    update = session.add_parts([click(session, truth == k) for k in range(5)])
    assert mesh_miou(mesh, truth, update.labels) > 0.75  # by the nearest click alone: 0.58


def test_coincident_faces_split_like_the_others():
    # a face repeated at the same place (common in artist meshes): zero distance between
    # the two copies must not make an infinite conductance
    import warnings

    bar = welded_bar()
    mesh = from_arrays(bar.vertices, np.concatenate([bar.faces, bar.faces[:1]]))
    x = mesh.centroids[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        session = Session(mesh, GeometrySegmenter(), resolution=RESOLUTION)
        update = session.add_parts([click(session, x < -0.4), click(session, x > 0.4)])
    assert (update.labels[x < -0.2] == 0).all() and (update.labels[x > 0.2] == 1).all()
