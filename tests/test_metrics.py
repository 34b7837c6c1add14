"""Class-agnostic mIoU on hand-made labellings with hand-derived answers."""

import numpy as np
import pytest

from geosam2.evaluation.metrics import (
    class_agnostic_miou,
    dense_labels,
    face_weights,
    iou_matrix,
    mean_over_groups,
    nearest_faces,
    part_ious,
    protocol_miou,
)
from geosam2.io.mesh import from_arrays
from tests.factories import make_box_mesh

GT = np.array([0, 0, 0, 0, 1, 1, 2, 2])


def test_perfect_prediction_scores_one_whatever_the_label_values():
    assert class_agnostic_miou(GT, GT) == 1.0
    assert class_agnostic_miou(GT, GT * 7 + 100) == 1.0


def test_swapped_labels_score_one():
    swapped = np.array([2, 0, 1])[GT]
    assert class_agnostic_miou(GT, swapped) == 1.0


def test_one_part_split_in_two_halves_its_iou():
    pred = np.array([0, 0, 3, 3, 1, 1, 2, 2])  # part 0 (4 faces) split 2 + 2
    np.testing.assert_allclose(part_ious(GT, pred), [0.5, 1.0, 1.0])
    assert class_agnostic_miou(GT, pred) == pytest.approx((0.5 + 1 + 1) / 3)


def test_over_segmentation_gives_one_over_part_size():
    pred = np.arange(len(GT))  # every face its own part
    np.testing.assert_allclose(part_ious(GT, pred), [1 / 4, 1 / 2, 1 / 2])


def test_under_segmentation_gives_part_share_of_the_whole():
    pred = np.zeros(len(GT), int)
    np.testing.assert_allclose(part_ious(GT, pred), [4 / 8, 2 / 8, 2 / 8])


def test_weights_change_the_iou_by_area():
    weights = np.array([3.0, 1, 1, 1, 1, 1, 1, 1])
    pred = np.array([0, 5, 5, 5, 1, 1, 2, 2])
    # part 0: face 0 (weight 3) alone -> 3/6; faces 1-3 -> 3/6; best 0.5
    np.testing.assert_allclose(part_ious(GT, pred, weights), [0.5, 1, 1])
    weights[0] = 5.0  # now face 0 alone is 5/8 of part 0
    np.testing.assert_allclose(part_ious(GT, pred, weights), [5 / 8, 1, 1])


def test_unlabelled_ground_truth_is_ignored():
    gt = np.array([0, 0, 1, 1, -1, -1])
    pred = np.array([0, 0, 1, 1, 0, 1])  # predictions spill over unlabelled faces
    assert class_agnostic_miou(gt, pred) == 1.0
    # PartField's protocol: the unlabelled faces count in the predicted part's union
    np.testing.assert_allclose(part_ious(gt, pred, gt_unlabelled_in_union=True), [2 / 3, 2 / 3])


def test_unlabelled_prediction_belongs_to_no_part():
    gt = np.array([0, 0, 0, 0, 1, 1])
    pred = np.array([-1, -1, 0, 0, 1, 1])
    np.testing.assert_allclose(part_ious(gt, pred), [0.5, 1.0])
    np.testing.assert_allclose(part_ious(gt, np.full(6, -1)), [0.0, 0.0])


def test_iou_matrix_entries():
    gt = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    np.testing.assert_allclose(iou_matrix(gt, pred), [[1 / 2, 1 / 4], [0, 2 / 3]])


def test_errors():
    with pytest.raises(ValueError):
        class_agnostic_miou(np.full(3, -1), np.zeros(3, int))
    with pytest.raises(ValueError):
        class_agnostic_miou(np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(ValueError):
        class_agnostic_miou(np.zeros(3, int), np.zeros(3, int), np.ones(2))


def test_dense_labels():
    labels, count = dense_labels(np.array([7, -1, 3, 7, -5]))
    assert count == 2
    np.testing.assert_array_equal(labels, [1, -1, 0, 1, -1])


def _two_triangle_mesh():
    # one unit right triangle (area 0.5) and one twice as large (area 2)
    vertices = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0], [4, 0, 0], [2, 2, 0]]
    return from_arrays(vertices, [[0, 1, 2], [3, 4, 5]])


def test_face_weights_by_area_and_count():
    mesh = _two_triangle_mesh()
    area = face_weights(mesh, "area")
    assert area[1] / area[0] == pytest.approx(4.0)
    np.testing.assert_array_equal(face_weights(mesh, "count"), [1, 1])
    with pytest.raises(ValueError):
        face_weights(mesh, "volume")
    gt, pred = np.array([0, 0]), np.array([0, 1])
    assert class_agnostic_miou(gt, pred, area) == pytest.approx(4 / 5)
    assert class_agnostic_miou(gt, pred, face_weights(mesh, "count")) == pytest.approx(1 / 2)


def test_point_labels_come_from_the_nearest_face():
    box = make_box_mesh()
    mesh = from_arrays(box.vertices, box.faces)
    face_labels = np.arange(mesh.num_faces)
    # points just outside each face's centroid, along its normal
    points = mesh.centroids + 0.01 * mesh.face_normals
    np.testing.assert_array_equal(face_labels[nearest_faces(mesh, points)], face_labels)


def test_mean_over_groups():
    scores = {"a": 1.0, "b": 0.5, "c": 0.0, "d": 0.25}
    overall, per_group = mean_over_groups(scores, {"a": "x", "b": "x", "c": "y"})
    assert per_group == {"": 0.25, "x": 0.75, "y": 0.0}
    assert overall == pytest.approx((0.25 + 0.75 + 0.0) / 3)


def test_nearest_face_of_points_on_large_and_small_triangles(rng):
    # a big triangle next to many tiny ones: the nearest centroid would be wrong
    big = [[0, 0, 0], [10, 0, 0], [0, 10, 0]]
    tiny = [[[11 + i * 0.1, 0, 0], [11.05 + i * 0.1, 0, 0], [11 + i * 0.1, 0.05, 0]] for i in range(20)]
    vertices = np.concatenate([np.array(big, float)[None], np.array(tiny, float)]).reshape(-1, 3)
    mesh = from_arrays(vertices, np.arange(len(vertices)).reshape(-1, 3))
    to_norm = np.linalg.inv(mesh.to_file)
    points = np.array([[9.0, 0.5, 0.2], [11.02, 0.01, -0.1]])  # above the big one's corner / a tiny one
    points = points @ to_norm[:3, :3].T + to_norm[:3, 3]
    labels = np.arange(mesh.num_faces)
    np.testing.assert_array_equal(labels[nearest_faces(mesh, points)], [0, 1])


def test_sampart3d_protocol_excludes_unlabelled_on_both_sides():
    gt = np.array([0, 0, 0, 0, 1, 1, -1, -1])
    pred = np.array([-1, -1, 0, 0, 1, 1, 0, 1])
    # default: the two unpredicted faces of part 0 are missed -> 2/4; part 1 -> 1
    assert protocol_miou(gt, pred) == pytest.approx((0.5 + 1.0) / 2)
    assert protocol_miou(gt, pred, protocol="sampart3d") == pytest.approx(1.0)
    with pytest.raises(ValueError):
        protocol_miou(gt, np.stack([pred, pred]), protocol="sampart3d")


def test_partfield_protocol_takes_the_best_level_and_counts_unlabelled_in_union():
    gt = np.array([0, 0, 1, 1, -1, -1])
    coarse = np.array([0, 0, 0, 0, 0, 0])  # one part: IoU 2/6 with each GT part
    fine = np.array([0, 0, 1, 1, 1, 2])  # part 1 spills over one unlabelled face: 2/3
    assert protocol_miou(gt, coarse, protocol="partfield") == pytest.approx(2 / 6)
    assert protocol_miou(gt, np.stack([coarse, fine]), protocol="partfield") == pytest.approx((1 + 2 / 3) / 2)
    with pytest.raises(ValueError):
        protocol_miou(gt, fine, protocol="mine")
