"""Lifting per-view masks to per-face labels: analytic meshes, rules, and real ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from tests.factories import make_box_mesh, make_sphere_mesh
from geosam2.evaluation.prompts import view_masks
from geosam2.lifting.lift import (
    OFF_OBJECT,
    VisiblePixels,
    VisibleSamples,
    interior_depth,
    lift_masks,
    visible_pixels,
    vote_labels,
)
from geosam2.io.mesh import from_arrays, labels_from_colors, load_mesh
from geosam2.lifting.cleanup import clean_labels
from geosam2.render import render_views
from tests.helpers import mesh_miou
from tests.stress import exact_visibility_labels, noisy_masks


def exact_masks(views, face_labels: np.ndarray) -> np.ndarray:
    """(P, V, H, W) bool masks of each label of (F,) `face_labels`, read off the face-id maps."""
    ids = views.face_ids
    label_at_pixel = np.where(ids >= 0, face_labels[ids], -1)
    return np.stack([label_at_pixel == p for p in range(face_labels.max() + 1)])


def cube_and_sides(subdivisions: int = 2):
    """A unit cube mesh and the (F,) side index of each face: 2 * axis + (normal > 0)."""
    tm = make_box_mesh()
    for _ in range(subdivisions):
        tm = tm.subdivide()
    mesh = from_arrays(tm.vertices, tm.faces)
    n = mesh.face_normals
    axis = np.argmax(np.abs(n), axis=1)
    return mesh, (2 * axis + (n[np.arange(len(n)), axis] > 0)).astype(np.int32)


# --- lifting rules on a cube ---------------------------------------------------


def test_cube_with_one_mask_per_side_lifts_exactly():
    mesh, sides = cube_and_sides()
    views = render_views(mesh, resolution=96)
    labels = lift_masks(mesh, views, exact_masks(views, sides))
    assert labels.dtype == np.int32 and labels.shape == (mesh.num_faces,)
    assert np.array_equal(labels, sides)


def test_smaller_mask_wins_and_priority_overrides():
    mesh, sides = cube_and_sides()
    views = render_views(mesh, resolution=96)
    whole = views.silhouette[None]
    plus_x = exact_masks(views, sides)[1:2]  # side 1 = +X, fully inside `whole`
    masks = np.concatenate([whole, plus_x])
    on_plus_x = sides == 1
    labels = lift_masks(mesh, views, masks)
    assert (labels[on_plus_x] == 1).all() and (labels[~on_plus_x] == 0).all()
    # a larger mask with a higher priority (prompted over automatic) wins everywhere
    assert (lift_masks(mesh, views, masks, priorities=[1, 0]) == 0).all()
    assert np.array_equal(lift_masks(mesh, views, masks, priorities=[0, 1]), labels)
    # order of the parts does not matter, only their sizes
    assert np.array_equal(lift_masks(mesh, views, masks[::-1]), 1 - labels)


def test_label_per_face_is_the_majority_over_views():
    mesh, sides = cube_and_sides()
    views = render_views(mesh, resolution=96)
    plus_x = exact_masks(views, sides)[1]
    seen_in = np.flatnonzero(plus_x.any(axis=(1, 2)))
    assert len(seen_in) >= 3  # the +X side is seen by several views
    odd_view = seen_in[0]
    masks = np.zeros((2,) + plus_x.shape, bool)
    masks[0] = plus_x
    masks[0, odd_view] = False
    masks[1, odd_view] = plus_x[odd_view]  # one view disagrees
    labels = lift_masks(mesh, views, masks)
    assert (labels[sides == 1] == 0).all() and (labels[sides != 1] == -1).all()


def test_vote_ties_go_to_priority_then_the_smaller_part():
    # one face with two samples; view 0 sees sample 0 at pixel 0, view 1 sees sample 1 at pixel 1
    visible = VisibleSamples(1, 2, samples=np.array([0, 1]), pixels=np.array([0, 1]), offsets=np.array([0, 1, 2]))
    masks = np.zeros((2, 2, 1, 2), bool)  # (parts, views, H, W)
    masks[0, 0, 0, 0] = True  # part 0: one pixel, under sample 0
    masks[1, 1, 0, :] = True  # part 1: two pixels, one under sample 1
    assert vote_labels(visible, masks).tolist() == [0]  # one vote each: the smaller part wins
    assert vote_labels(visible, masks, priorities=[0, 1]).tolist() == [1]
    masks[1, 0, 0, 0] = True  # part 1 also covers sample 0 in view 0, but part 0 is smaller there
    assert vote_labels(visible, masks).tolist() == [0]
    masks[0, 0, 0, 0] = False  # now part 1 has both samples' votes
    assert vote_labels(visible, masks).tolist() == [1]


def test_interior_depth_counts_steps_from_the_nearest_label_boundary():
    image = np.zeros((3, 10), np.int64)
    image[:, 5:] = 1
    image[0] = OFF_OBJECT  # a row showing no face: the silhouette is not a boundary
    assert interior_depth(image)[1:].tolist() == [[3, 3, 3, 2, 1, 1, 2, 3, 3, 3]] * 2
    image[2, 1] = 2  # one pixel of another label
    assert interior_depth(image)[1:, :3].tolist() == [[2, 1, 2], [1, 1, 1]]


def test_interior_pixels_outweigh_more_boundary_pixels():
    """Face 0 shows 5 pixels of part 0 in a thin strip of view 0 (depths 1 2 3 2 1) and
    4 interior pixels of part 1 in view 1 (depth 3 each): 9 against 12 votes."""
    faces = np.ones((2, 12), np.int64)  # (views, pixels) of a 1 x 12 image; face 1 elsewhere
    faces[0, 2:7] = 0
    faces[1, 4:8] = 0
    visible = VisiblePixels(2, faces.ravel(), np.tile(np.arange(12), 2), np.array([0, 12, 24]), (1, 12))
    masks = np.zeros((2, 2, 1, 12), bool)
    masks[0, 0, 0, 2:7] = True
    masks[1, 0, 0] = ~masks[0, 0, 0]
    masks[1, 1, 0] = True
    assert vote_labels(visible, masks).tolist() == [1, 1]
    masks[0, 1, 0, 4:8], masks[1, 1, 0, 4:8] = True, False  # view 1 agrees with view 0
    assert vote_labels(visible, masks).tolist() == [0, 1]


def test_faces_no_view_sees_stay_unlabelled():
    outer, inner = make_box_mesh((1, 1, 1)), make_box_mesh((0.5, 0.5, 0.5))
    tm = trimesh.util.concatenate([outer, inner])
    mesh = from_arrays(tm.vertices, tm.faces)
    views = render_views(mesh, resolution=64)
    labels = lift_masks(mesh, views, views.silhouette[None])
    assert (labels[: len(outer.faces)] == 0).all()
    assert (labels[len(outer.faces) :] == -1).all()


def test_release_depth_test_sees_through_a_surface_the_face_id_test_does_not():
    # an inner box 0.2 thousandths below the outer surface: hidden, but within the 1e-3 tolerance
    outer, inner = make_box_mesh((1, 1, 1)), make_box_mesh((0.9996,) * 3)
    tm = trimesh.util.concatenate([outer, inner])
    mesh = from_arrays(tm.vertices, tm.faces)
    views = render_views(mesh, resolution=64)
    hidden = np.arange(mesh.num_faces) >= len(outer.faces)
    assert not np.isin(views.face_ids, np.flatnonzero(hidden)).any()
    exact = lift_masks(mesh, views, views.silhouette[None])
    release = lift_masks(mesh, views, views.silhouette[None], profile="official")
    assert (exact[hidden] == -1).all() and (exact[~hidden] == 0).all()
    assert (release[hidden] == 0).mean() > 0.5  # not all: grazing views fail the depth test at 64²


def test_torch_masks_give_the_numpy_result(rng):
    tm = make_sphere_mesh(subdivisions=3)
    mesh = from_arrays(tm.vertices, tm.faces)
    views = render_views(mesh, resolution=64)
    masks = rng.random((4,) + views.face_ids.shape) < 0.3  # overlapping random masks
    expected = lift_masks(mesh, views, masks, priorities=[0, 1, 0, 2])
    assert (expected >= 0).mean() > 0.9 and len(np.unique(expected)) == 5
    got = lift_masks(mesh, views, torch.from_numpy(masks), priorities=[0, 1, 0, 2])
    assert got.dtype == np.int32 and np.array_equal(got, expected)
    if torch.cuda.is_available():
        on_gpu = lift_masks(mesh, views, torch.from_numpy(masks).cuda(), priorities=[0, 1, 0, 2])
        assert np.array_equal(on_gpu, expected)


def test_precomputed_visible_pixels_give_the_same_labels():
    mesh, sides = cube_and_sides()
    views = render_views(mesh, resolution=64)
    masks = exact_masks(views, sides)
    pixels = visible_pixels(views, mesh.num_faces)
    assert pixels.num_views == views.num_views and len(pixels.faces) == (views.face_ids >= 0).sum()
    expected = lift_masks(mesh, views, masks)
    assert np.array_equal(expected, sides)
    assert np.array_equal(lift_masks(mesh, views, masks, visible=pixels), expected)
    assert np.array_equal(vote_labels(pixels, masks), expected)
    with pytest.raises(ValueError, match="masks must have shape"):
        vote_labels(pixels, masks[:, :-1])


def test_no_parts_and_bad_shapes():
    mesh, _ = cube_and_sides(0)
    views = render_views(mesh, resolution=32)
    assert (lift_masks(mesh, views, np.zeros((0,) + views.face_ids.shape, bool)) == -1).all()
    with pytest.raises(ValueError, match="masks must have shape"):
        lift_masks(mesh, views, np.zeros((2, views.num_views, 16, 16), bool))
    with pytest.raises(ValueError, match="priorities"):
        lift_masks(mesh, views, views.silhouette[None], priorities=[1, 2])


# --- the benchmark's ground truth ---------------------------------------------


def ground_truth(path, resolution):
    mesh = load_mesh(path)
    truth = labels_from_colors(mesh.face_colors)
    views = render_views(mesh, resolution=resolution)
    return mesh, truth, views


@pytest.mark.slow
def test_oracle_lifting_of_ground_truth_parts(dev_surfaces):
    """Exact per-view masks of the ground-truth parts, lifted back with the official
    12-view rig at 1024²: what the rig can see. GT parts may be disconnected (four
    wheels are one part), so pieces are not split here. The exact-visibility bound
    (every seen face labelled, the rest filled) scores 98.13 mIoU (issue 14); the
    session's clean-up (`Surface.clean`) with 5 samples per face scored 98.27."""
    assert len(dev_surfaces) == 6
    bound, fill_only, with_pa, keep_largest, project = [], [], [], [], []
    for gt, surface in dev_surfaces.values():
        mesh, truth = gt.mesh, gt.labels
        labels = surface.lift(view_masks(surface.views, truth))
        bound.append(mesh_miou(mesh, truth, exact_visibility_labels(mesh, surface.views, truth)))
        fill_only.append(mesh_miou(mesh, truth, clean_labels(mesh, labels, pa=0, split_disconnected=False)))
        with_pa.append(mesh_miou(mesh, truth, clean_labels(mesh, labels, split_disconnected=False)))
        cleaned = clean_labels(mesh, labels, keep_largest_piece=True, split_disconnected=False)
        keep_largest.append(mesh_miou(mesh, truth, cleaned))
        project.append(mesh_miou(mesh, truth, surface.clean(labels, 0.02)))
    bound, fill_only, with_pa, keep_largest, project = (
        100 * np.mean(x) for x in (bound, fill_only, with_pa, keep_largest, project)
    )
    print(
        f"oracle lifting mIoU: exact-visibility bound {bound:.2f}, neighbour fill {fill_only:.2f}, with PA 0.02 "
        f"{with_pa:.2f}, PA keeping each label's largest piece {keep_largest:.2f}, the surface's clean-up {project:.2f}"
    )
    assert fill_only >= bound - 0.5 and fill_only >= 97
    assert with_pa >= 95  # one object loses a true part under 2 % of the largest
    assert keep_largest >= fill_only - 0.1
    assert project >= 98.27 - 0.01


def test_clean_up_repairs_noisy_masks(gt_paths):
    """Boundaries eroded or dilated by up to 2 px, 0.5 % flipped pixels, one view dropped.
    Before the pixel votes (5 samples per face): raw 71.5, neighbour fill 81.7, PA clean-up
    (largest piece kept) 92.8 mIoU; the project's clean-up must stay above that."""
    rng = np.random.default_rng(0)
    raw, fill_only, with_pa, keep_largest, keep_pieces = [], [], [], [], []
    for path in gt_paths:
        mesh, truth, views = ground_truth(path, 256)
        labels = lift_masks(mesh, views, noisy_masks(exact_masks(views, truth), rng))
        raw.append(mesh_miou(mesh, truth, labels))
        fill_only.append(mesh_miou(mesh, truth, clean_labels(mesh, labels, pa=0, split_disconnected=False)))
        with_pa.append(mesh_miou(mesh, truth, clean_labels(mesh, labels, split_disconnected=False)))
        cleaned = clean_labels(mesh, labels, keep_largest_piece=True, split_disconnected=False)
        keep_largest.append(mesh_miou(mesh, truth, cleaned))
        cleaned = clean_labels(mesh, labels, keep_largest_piece=True, keep_whole_pieces=True, split_disconnected=False)
        keep_pieces.append(mesh_miou(mesh, truth, cleaned))
    raw, fill_only, with_pa, keep_largest, keep_pieces = (
        100 * np.mean(x) for x in (raw, fill_only, with_pa, keep_largest, keep_pieces)
    )
    print(
        f"noisy masks mIoU: raw lift {raw:.2f}, neighbour fill {fill_only:.2f}, PA clean-up {with_pa:.2f}, "
        f"keeping each label's largest piece {keep_largest:.2f}, and whole mesh pieces {keep_pieces:.2f}"
    )
    assert fill_only >= raw
    assert min(with_pa, keep_largest, keep_pieces) >= fill_only + 3
    assert keep_pieces >= 92.8
