"""The offline geometry segmenter on meshes whose parts are known by construction."""

from __future__ import annotations

import numpy as np
import trimesh
import pytest

from tests.factories import make_box_mesh
from geosam2.errors import GeoSAM2Error, PromptError
from geosam2.segmenters.geometry import GeometrySegmenter, geometric_parts, overlapping_groups
from geosam2.io.mesh import from_arrays
from geosam2.segmenters.prompts import Prompt
from geosam2.render import render_views
from tests.helpers import boxes_mesh, pixel_of_face

RESOLUTION = 128


def l_prism_mesh():
    """A single welded surface: the L made of unit squares (0,0), (1,0), (0,1), height 1.

    Returns the mesh and (F, 3) outward unit normals of its faces by construction.
    """
    grid = np.array([(x, y, z) for z in (0, 1) for y in range(3) for x in range(3)], float)
    index = {tuple(p): i for i, p in enumerate(grid)}
    triangles, outward = [], []

    def quad(a, b, c, d, normal):
        for tri in ((a, b, c), (a, c, d)):
            ids = [index[p] for p in tri]
            n = np.cross(grid[ids[1]] - grid[ids[0]], grid[ids[2]] - grid[ids[0]])
            triangles.append(ids if n @ normal > 0 else ids[::-1])
            outward.append(normal)

    for x, y in ((0, 0), (1, 0), (0, 1)):  # the three squares, top and bottom
        for z, n in ((1, (0, 0, 1)), (0, (0, 0, -1))):
            quad((x, y, z), (x + 1, y, z), (x + 1, y + 1, z), (x, y + 1, z), np.array(n, float))
    loop = [(0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2), (0, 1), (0, 0)]  # counter-clockwise
    for (x0, y0), (x1, y1) in zip(loop[:-1], loop[1:]):
        quad((x0, y0, 0), (x1, y1, 0), (x1, y1, 1), (x0, y0, 1), np.array((y1 - y0, x0 - x1, 0), float))
    return from_arrays(grid, np.array(triangles)), np.array(outward)


def test_l_prism_splits_at_its_right_angle_creases():
    mesh, outward = l_prism_mesh()
    parts = geometric_parts(mesh, concave_only=False)
    # top, bottom and six planar walls (two walls run over two squares each)
    assert parts.max() + 1 == 8
    for p in range(8):
        normals = outward[parts == p]
        assert np.allclose(normals, normals[0])  # one flat side per part
    for n in np.unique(outward, axis=0):  # faces with one outward normal and one plane share a part
        same = (outward == n).all(1)
        offsets = np.round(mesh.triangles[same, 0] @ n, 9)
        for o in np.unique(offsets):
            assert len(np.unique(parts[same][offsets == o])) == 1
    assert (geometric_parts(mesh, crease_angle_deg=180.0) == 0).all()  # one connected surface
    # its one concave crease (the inner corner) is not a loop: one part by default
    assert (geometric_parts(mesh) == 0).all()


def test_concave_crease_loop_separates_a_column_from_its_base():
    # a lathe profile (radius, height): a wide disc with a thin column welded on top
    profile = np.array([(0, 0), (1, 0), (1, 0.3), (0.2, 0.3), (0.2, 1), (0, 1)], float)
    lathe = trimesh.creation.revolve(profile, sections=32)
    mesh = from_arrays(lathe.vertices, lathe.faces)
    centres = mesh.triangles.mean(axis=1)  # normalised frame: the base is the lower part
    radius, height = np.linalg.norm(centres[:, :2], axis=1), centres[:, 2] - centres[:, 2].min()
    base = (height < 0.3 * 0.5 + 1e-6) | (radius > 0.3)  # bottom disc, rim and annulus
    parts = geometric_parts(mesh)
    assert parts.max() + 1 == 2 and len(np.unique(parts[base])) == 1 and len(np.unique(parts[~base])) == 1
    assert parts[base][0] != parts[~base][0]
    assert geometric_parts(mesh, concave_only=False).max() + 1 == 5  # bottom, rim, annulus, column, column top


def test_smooth_sphere_is_one_part():
    from tests.factories import make_sphere_mesh

    sphere = make_sphere_mesh()
    mesh = from_arrays(sphere.vertices, sphere.faces)
    assert (geometric_parts(mesh) == 0).all()


def test_click_on_l_top_selects_the_top_on_every_view():
    mesh, outward = l_prism_mesh()
    views = render_views(mesh, resolution=RESOLUTION)
    top = np.flatnonzero(outward[:, 2] > 0.5)
    view, x, y = pixel_of_face(views, top)
    result = GeometrySegmenter(mesh, concave_only=False).segment(views, [Prompt(view, points=[[x, y]])])
    assert result.masks.shape == (1,) + views.face_ids.shape
    expected = views.silhouette & (views.normals[..., 2] > 0.99)  # pixels of the upward-facing top
    assert (result.masks[0] == expected).all()
    assert (result.scores[0] == expected.any(axis=(1, 2))).all()


def test_two_separate_boxes_click_box_negative_and_background():
    mesh = boxes_mesh([(0, 0, 0), (3, 0, 0)])
    views = render_views(mesh, resolution=RESOLUTION)
    segmenter = GeometrySegmenter(mesh, crease_angle_deg=180.0)
    first = np.arange(12)
    view, x, y = pixel_of_face(views, first)
    clicked = segmenter.segment(views, [Prompt(view, points=[[x, y]])])
    assert (clicked.masks[0] == np.isin(views.face_ids, first)).all()

    # a box around the first box's projection selects exactly that box
    xy, _ = views.rig.project(view, mesh.vertices[:8])
    box = np.r_[xy.min(0) - 1, xy.max(0) + 1].clip(0, RESOLUTION)
    boxed = segmenter.segment(views, [Prompt(view, box=box)])
    assert (boxed.masks[0] == clicked.masks[0]).all()
    # a mask prompt over the first box's pixels on that view selects it too
    masked = segmenter.segment(views, [Prompt(view, mask=np.isin(views.face_ids[view], first))])
    assert (masked.masks[0] == clicked.masks[0]).all()

    # a negative click on the same part removes it: empty masks, zero scores
    removed = segmenter.segment(views, [Prompt(view, points=[[x, y], [x, y]], labels=[1, 0])])
    assert not removed.masks.any() and not removed.scores.any()

    background = np.argwhere(~views.silhouette[view])[0]
    with pytest.raises(PromptError, match="background"):
        segmenter.segment(views, [Prompt(view, points=[[background[1] + 0.5, background[0] + 0.5]])])
    with pytest.raises(GeoSAM2Error, match="bind"):
        GeometrySegmenter().segment(views, [Prompt(view, points=[[x, y]])])


def test_candidates_grow_from_side_to_box_to_touching_group():
    # boxes 0 and 1 interpenetrate (no shared vertices); box 2 stands apart
    mesh = boxes_mesh([(0, 0, 0), (0.6, 0.2, 0.2), (4, 0, 0)])
    views = render_views(mesh, resolution=RESOLUTION)
    segmenter = GeometrySegmenter(mesh, concave_only=False)  # sides of a box: the finest level
    view, x, y = pixel_of_face(views, np.arange(12))
    clicked_face = views.face_ids[view, int(y), int(x)]
    side = np.flatnonzero(np.isclose(mesh.face_normals @ mesh.face_normals[clicked_face], 1.0) & (np.arange(36) < 12))
    result = segmenter.candidates(views, Prompt(view, points=[[x, y]]))
    assert result.masks.shape == (3,) + views.face_ids.shape
    assert (result.masks[0] == np.isin(views.face_ids, side)).all()
    assert (result.masks[1] == np.isin(views.face_ids, np.arange(12))).all()
    assert (result.masks[2] == np.isin(views.face_ids, np.arange(24))).all()


def test_proposals_click_each_visible_part_in_the_region_largest_first():
    mesh = boxes_mesh([(0, 0, 0), (3, 0, 0), (0, 3, 0)], extents=(1.0, 1.0, 0.2))
    views = render_views(mesh, resolution=RESOLUTION)
    segmenter = GeometrySegmenter(mesh, crease_angle_deg=180.0)
    view = int(views.silhouette.sum(axis=(1, 2)).argmax())
    region = views.silhouette[view] & ~np.isin(views.face_ids[view], np.arange(12))  # box 0 already taken
    prompts = segmenter.propose_prompts(views, view, region)
    pixels = [np.isin(views.face_ids[view], np.arange(12 * k, 12 * k + 12)).sum() for k in (1, 2)]
    assert min(pixels) >= 16 and pixels[0] != pixels[1]
    expected = [k for k, _ in sorted(zip((1, 2), pixels), key=lambda kp: -kp[1])]
    clicked = [views.face_ids[view, int(p.points[0, 1]), int(p.points[0, 0])] // 12 for p in prompts]
    assert clicked == expected and all(p.view == view and p.labels.tolist() == [1] for p in prompts)
    assert len(segmenter.propose_prompts(views, view, region, max_prompts=1)) == 1
    assert segmenter.propose_prompts(views, view, region, min_pixels=10**6) == []


def test_parts_are_computed_once_per_mesh():
    mesh = boxes_mesh([(0, 0, 0)])
    segmenter = GeometrySegmenter(mesh)
    scales = segmenter.scales
    assert segmenter.bind(mesh).scales is scales
    assert segmenter.bind(boxes_mesh([(0, 0, 0)])).scales is not scales


@pytest.mark.parametrize("max_pairs", [1, 7, 1 << 22])
def test_overlapping_groups_equal_those_of_every_pair_compared(max_pairs):
    rng = np.random.default_rng(4)
    for count, size in ((0, 0.1), (1, 0.1), (300, 0.05), (300, 0.3)):
        lo = rng.uniform(0, 1, (count, 3))
        hi = lo + rng.uniform(0, size, (count, 3)) * (rng.uniform(size=(count, 1)) < 0.9)  # some flat boxes
        lo[: count // 10] = lo[count // 10 : 2 * (count // 10)]  # equal starts
        tolerance = 0.01
        overlap = ((lo[:, None] <= hi[None] + tolerance) & (lo[None] <= hi[:, None] + tolerance)).all(-1)
        from scipy.sparse.csgraph import connected_components

        expected = connected_components(overlap, directed=False)[1]
        groups = overlapping_groups(lo, hi, tolerance, max_pairs=max_pairs)
        assert len(groups) == count
        # the same partition: each group of one maps to exactly one group of the other
        pairs = np.unique(np.stack([groups, expected], 1), axis=0)
        assert len(pairs) == len(np.unique(groups)) == len(np.unique(expected))
        assert count < 300 or 1 < len(np.unique(groups)) < count  # the draw tests something
