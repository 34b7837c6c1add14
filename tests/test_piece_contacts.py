"""Pieces put together: contact areas between separate pieces, their grouping above the
hierarchy of parts, and the levels coarser than one region per piece."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import trimesh

from geosam2.geometry.contacts import CONTACT_RADIUS, contact_areas, contact_merges
from geosam2.io.mesh import from_arrays
from geosam2.segmenters.geometry import GeometrySegmenter
from tests.factories import make_box_mesh

SCALE = 0.5  # the scene below spans 2 units in x: normalised, a unit is half as long
SLAB, CUBE, ROD, FAR = 0, 1, 2, 3  # pieces of `stacked_pieces`, in the order of their faces


def stacked_pieces():
    """A slab (1 x 1 x 0.2) with a cube (0.3) standing flush on it, a rod (0.05 x 0.05
    x 0.6) standing on its end on it, and a cube far away; and (F,) the piece of each
    face."""
    placed = [  # (extents, centre)
        ((1.0, 1.0, 0.2), (0.0, 0.0, 0.0)),
        ((0.3, 0.3, 0.3), (-0.2, -0.2, 0.25)),
        ((0.05, 0.05, 0.6), (0.3, 0.3, 0.4)),
        ((0.3, 0.3, 0.3), (1.35, 0.0, 0.0)),
    ]
    boxes = []
    for extents, centre in placed:
        box = make_box_mesh(extents)
        box.apply_translation(centre)
        boxes.append(box)
    scene = trimesh.util.concatenate(boxes)
    return from_arrays(scene.vertices, scene.faces), np.repeat(np.arange(len(boxes)), [len(box.faces) for box in boxes])


def test_contact_area_is_the_area_lying_on_the_other_piece():
    mesh, piece = stacked_pieces()
    assert (mesh.graph.pieces == piece).all()
    contact = contact_areas(mesh, piece).toarray()
    bottom, rod_end = (0.3 * SCALE) ** 2, (0.05 * SCALE) ** 2
    strip = 2 * np.sqrt(3) * CONTACT_RADIUS  # at most this far up the sides counts as near
    assert bottom <= contact[CUBE, SLAB] <= bottom + 4 * 0.3 * SCALE * strip
    assert rod_end <= contact[ROD, SLAB] <= rod_end + 4 * 0.05 * SCALE * strip
    assert contact[FAR].sum() == 0 and contact[:, FAR].sum() == 0  # 0.7 units away: touches nothing
    assert contact[SLAB, CUBE] <= (0.3 * SCALE + 2 * strip) ** 2  # the slab's top under the cube (and around it)
    assert np.diag(contact).sum() == 0


def test_groups_merge_by_the_larger_share_lying_on_the_other_summed_over_their_pieces():
    area = np.array([10.0, 1.0, 1.0, 1.0])
    contact = np.zeros((4, 4))
    contact[1, 0] = 0.5  # half of piece 1 lies on piece 0
    contact[2, 0] = contact[2, 1] = 0.1  # piece 2 lies on both: 0.1 each, 0.2 on their group
    contact[3, 0] = 0.15
    merges = contact_merges(sp.csr_matrix(contact), area)
    assert merges.tolist() == [[0, 1], [0, 2], [0, 3]]  # alone, piece 2 (0.1) would come after piece 3 (0.15)
    assert contact_merges(sp.csr_matrix((4, 4)), area).shape == (0, 2)  # nothing touches: nothing merges


def test_levels_coarser_than_the_pieces_group_touching_pieces_and_the_finer_ones_are_kept():
    mesh, piece = stacked_pieces()
    hierarchy = GeometrySegmenter(mesh).hierarchy()
    assert hierarchy.roots == 4 and hierarchy.coarsest == 2  # the far cube touches nothing
    counts = hierarchy.level_counts()
    assert counts[:2] == [2, 3] and counts[2:6] == [4, 5, 7, 9]  # x1.3 from one region per piece, down and up

    def groups(count: int) -> set:
        level = hierarchy.level(count)
        return {frozenset(np.unique(piece[level == region]).tolist()) for region in np.unique(level)}

    assert groups(4) == {frozenset({p}) for p in range(4)}
    assert groups(3) == {frozenset({SLAB, CUBE}), frozenset({ROD}), frozenset({FAR})}  # the cube lies more on the slab than the rod
    assert groups(2) == {frozenset({SLAB, CUBE, ROD}), frozenset({FAR})}
    for face in (0, len(piece) - 1):  # a click's chain still ends at its own piece
        top = hierarchy.chain(hierarchy.superface[face])[-1]
        inside = hierarchy.members(top)[hierarchy.superface]
        assert (inside == (piece == piece[face])).all()


@pytest.mark.parametrize("count", [1, 3])
def test_a_level_coarser_than_any_grouping_is_the_coarsest(count):
    mesh, _ = stacked_pieces()
    hierarchy = GeometrySegmenter(mesh).hierarchy()
    assert len(np.unique(hierarchy.level(count))) == max(count, hierarchy.coarsest)
