"""Evaluation: readers, simulated user, runner (resume, shards, failures), CLI, and the
reference scores of ../shared/data."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import trimesh

from geosam2.cli import main
from geosam2.errors import GeoSAM2Error
from geosam2.evaluation.policies import LabelSegmenter, Oracle, SimulatedUser, make_method
from geosam2.evaluation.prompts import bounding_box, candidate_views, simulate_prompts, view_masks
from geosam2.evaluation.readers import (
    find_dataset,
    read_categories,
    read_ground_truth,
    read_prediction,
    transfer_face_labels,
)
from geosam2.evaluation.runner import Predictions, run_evaluation, score, shard_of
from geosam2.segmenters.geometry import GeometrySegmenter
from geosam2.io.mesh import from_arrays, transform_points
from geosam2.segmenters.prompts import completion_prompts, interior_point
from geosam2.render import Views, render_views
from geosam2.pipeline.session import Session
from geosam2.lifting.surface import MeshSurface
from tests.factories import make_box_mesh

METHODS = ("Ours", "SAMesh", "Partfield", "SAMPart3D", "Find3D")


# ---------------------------------------------------------------- readers


def _three_boxes() -> list[trimesh.Trimesh]:
    boxes = []
    for i, extents in enumerate([(1, 1, 1), (0.5, 0.5, 2), (2, 0.3, 0.3)]):
        box = make_box_mesh(extents)
        box.apply_translation([2.0 * i, 0, 0])
        boxes.append(box)
    return boxes


def test_scene_parts_become_labels(tmp_path):
    path = tmp_path / "scene.glb"
    trimesh.Scene(_three_boxes()).export(path)
    gt = read_ground_truth(path)
    assert gt.num_parts == 3
    np.testing.assert_array_equal(np.bincount(gt.labels), [12, 12, 12])


def test_vertex_colours_become_labels(tmp_path):
    boxes = _three_boxes()
    palette = np.array([[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]], np.uint8)
    for box, colour in zip(boxes, palette):
        box.visual.vertex_colors = np.tile(colour, (len(box.vertices), 1))
    path = tmp_path / "coloured.glb"
    trimesh.util.concatenate(boxes).export(path)
    gt = read_ground_truth(path)
    np.testing.assert_array_equal(gt.labels, np.repeat([0, 1, 2], 12))


def test_face_label_sidecar_wins_and_is_checked(tmp_path):
    path = tmp_path / "box.ply"
    trimesh.util.concatenate(_three_boxes()).export(path)
    labels = np.arange(36) % 5 - 1  # includes -1
    np.save(tmp_path / "box.npy", labels)
    np.testing.assert_array_equal(read_ground_truth(path).labels, labels)
    np.save(tmp_path / "box.npy", labels[:10])
    with pytest.raises(GeoSAM2Error):
        read_ground_truth(path)


def test_unlabelled_mesh_is_a_clear_error(tmp_path):
    path = tmp_path / "plain.ply"
    make_box_mesh().export(path)
    with pytest.raises(GeoSAM2Error, match="no part labels"):
        read_ground_truth(path)


def test_point_ground_truth_is_scored_on_points(tmp_path):
    boxes = _three_boxes()
    path = tmp_path / "points.ply"
    whole = trimesh.util.concatenate(boxes)
    whole.export(path)
    points = np.concatenate([trimesh.sample.sample_surface(b, 200, seed=i)[0] for i, b in enumerate(boxes)])
    np.save(tmp_path / "points.points.npy", points)
    np.save(tmp_path / "points.npy", np.repeat([0, 1, 2], 200))
    gt = read_ground_truth(path)
    assert gt.points.shape == (600, 3) and np.abs(gt.points).max() <= 0.5 + 1e-9  # normalised frame
    assert score(gt, np.repeat([5, 6, 7], 12)) == pytest.approx(1.0)
    assert score(gt, np.repeat([5, 5, 7], 12)) == pytest.approx((0.5 + 0.5 + 1.0) / 3)


def test_labels_follow_a_rescaled_and_reordered_mesh(rng):
    box = trimesh.creation.icosphere(2)
    source = from_arrays(box.vertices, box.faces)
    order = rng.permutation(len(box.faces))
    target = from_arrays(box.vertices * 2.0 + 3.0, box.faces[order])
    labels = rng.integers(0, 5, len(box.faces))
    np.testing.assert_array_equal(transfer_face_labels(source, labels, target), labels[order])
    np.testing.assert_array_equal(transfer_face_labels(source, labels, source), labels)


def test_categories_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"u1": "cars", "u2": "plants"}))
    (tmp_path / "b.json").write_text(json.dumps({"cars": ["u1"], "plants": {"u2": ["leaf"]}}))
    (tmp_path / "c.csv").write_text("uid,category\nu1,cars\nu2,plants\n")
    for name in ("a.json", "b.json", "c.csv"):
        assert read_categories(tmp_path / name) == {"u1": "cars", "u2": "plants"}


# ---------------------------------------------------------------- reference scores


def test_baselines_reproduce_the_reference_scores(dev_set, gt_paths):
    reference = json.loads((dev_set / "scores.json").read_text())
    detail = json.loads((dev_set / "scores_detail.json").read_text())["per_object"]
    gts = [read_ground_truth(p) for p in gt_paths]
    for method in METHODS:
        per_object = {gt.uid: 100 * score(gt, read_prediction(dev_set / method, gt)) for gt in gts}
        for uid, value in per_object.items():
            assert value == pytest.approx(detail[method][uid], abs=0.5), (method, uid)
        assert np.mean(list(per_object.values())) == pytest.approx(reference[method], abs=0.5), method


def test_cli_evaluate_writes_every_report(dev_set, tmp_path):
    (tmp_path / "cats.json").write_text(json.dumps({p.stem: "even" if i % 2 else "odd" for i, p in enumerate(sorted((dev_set / "GT").glob("*.glb")))}))
    out = tmp_path / "ours"
    code = main(["evaluate", str(dev_set), "--pred-dir", str(dev_set / "SAMesh"), "--categories", str(tmp_path / "cats.json"), "--out", str(out), "--quiet"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    reference = json.loads((dev_set / "scores.json").read_text())["SAMesh"]
    assert summary["miou"] == pytest.approx(reference, abs=0.5)
    assert summary["objects"] == 6 and len(summary["per_object"]) == 6
    assert set(summary["per_category"]) == {"even", "odd"}
    assert summary["miou_over_categories"] == pytest.approx(np.mean(list(summary["per_category"].values())))
    assert (out / "objects.csv").read_text().count("\n") == 7
    assert "| odd | 3 |" in (out / "summary.md").read_text()
    assert "plotly" in (out / "chart.html").read_text()


# ---------------------------------------------------------------- runner


class CountingPredictions(Predictions):
    def __init__(self, pred_dir):
        super().__init__(pred_dir)
        self.calls = []

    def predict(self, gt):
        self.calls.append(gt.uid)
        return super().predict(gt)


def _tables(out: Path) -> tuple[str, dict]:
    return (out / "summary.md").read_text(), json.loads((out / "summary.json").read_text())


def test_resume_and_shards_give_the_full_run_table(dev_set, tmp_path):
    pred = dev_set / "Ours"
    full = tmp_path / "full"
    run_evaluation(dev_set, Predictions(pred), full, progress=False)
    # resume: drop two results (as if killed) and rerun; only those two are redone
    resumed = tmp_path / "resumed"
    shutil.copytree(full, resumed)
    dropped = sorted((resumed / "objects").glob("*.json"))[1:3]
    for path in dropped:
        path.unlink()
    (resumed / "summary.json").unlink()
    counting = CountingPredictions(pred)
    run_evaluation(dev_set, counting, resumed, progress=False)
    assert sorted(counting.calls) == sorted(p.stem for p in dropped)
    # shards: disjoint, covering, then merged
    uids = [p.stem for p in sorted((dev_set / "GT").glob("*.glb"))]
    shards = [shard_of(uids, (i, 4)) for i in range(4)]
    assert sorted(sum(shards, [])) == uids
    dirs = [tmp_path / f"shard{i}" for i in range(4)]
    for i, folder in enumerate(dirs):
        assert main(["evaluate", str(dev_set), "--pred-dir", str(pred), "--shard", f"{i}/4", "--out", str(folder), "--quiet"]) == 0
    merged = tmp_path / "merged"
    assert main(["merge", *map(str, dirs), "--out", str(merged)]) == 0
    assert _tables(resumed) == _tables(full)
    assert _tables(merged) == _tables(full)


def test_failed_and_missing_objects_are_listed_not_dropped(dev_set, tmp_path):
    pred = tmp_path / "pred"
    shutil.copytree(dev_set / "Ours", pred)
    files = sorted(pred.glob("*.glb"))
    files[0].unlink()  # missing
    files[1].write_bytes(b"not a mesh")  # failed
    summary = run_evaluation(dev_set, Predictions(pred), tmp_path / "out", progress=False)
    assert summary["objects"] == 4 and summary["total"] == 6
    assert list(summary["missing"]) == [files[0].stem]
    assert list(summary["failed"]) == [files[1].stem]
    assert summary["miou_failures_as_zero"] == pytest.approx(summary["miou"] * 4 / 6)
    table = (tmp_path / "out" / "summary.md").read_text()
    assert files[0].stem in table and files[1].stem in table


def test_bad_arguments_are_clear_errors(dev_set, tmp_path):
    with pytest.raises(GeoSAM2Error):
        shard_of(["a"], (2, 2))
    with pytest.raises(GeoSAM2Error):
        make_method("magic")
    with pytest.raises(GeoSAM2Error):  # no weights: a clear error, not a crash
        make_method("geosam2", checkpoint=str(tmp_path / "missing.pt"))
    with pytest.raises(GeoSAM2Error):
        find_dataset(tmp_path / "nowhere")
    with pytest.raises(GeoSAM2Error):
        Predictions(tmp_path / "nowhere")
    with pytest.raises(SystemExit):
        main(["evaluate", str(dev_set), "--pred-dir", str(dev_set / "Ours"), "--shard", "3/2", "--out", str(tmp_path)])


# ---------------------------------------------------------------- simulated user


def test_interior_point_is_the_centre_of_the_largest_region():
    mask = np.zeros((40, 60), bool)
    mask[10:21, 5:16] = True  # 11 x 11 square, centre pixel (row 15, col 10)
    mask[30:32, 40:42] = True  # small region
    np.testing.assert_array_equal(interior_point(mask), [10.5, 15.5])
    np.testing.assert_array_equal(bounding_box(mask), [5, 10, 42, 32])
    assert interior_point(np.zeros((4, 4), bool)) is None
    edge = np.zeros((9, 9), bool)
    edge[:, :3] = True  # touches the image border: the click stays off the border
    assert interior_point(edge)[0] == pytest.approx(1.5)


def test_simulated_prompts_click_each_visible_part():
    masks = np.zeros((4, 30, 30), bool)
    masks[0, 0:10, 0:10] = True
    masks[1, 10:30, 0:30] = True
    masks[2, 0:2, 20:22] = True  # 4 pixels: too small
    prompts, parts = simulate_prompts(masks, view=3, min_pixels=5, box=True, negative_clicks=1)
    np.testing.assert_array_equal(parts, [0, 1])
    for prompt, part in zip(prompts, parts):
        assert prompt.view == 3
        x, y = prompt.points[0].astype(int)
        assert masks[part, y, x] and prompt.labels[0] == 1
        x, y = prompt.points[1].astype(int)
        assert not masks[part, y, x] and prompt.labels[1] == 0
        np.testing.assert_array_equal(prompt.box, bounding_box(masks[part]))


def test_view_masks_and_candidate_views():
    views = Views(None, np.array([[[-1, 0, 1], [2, 2, 0]]]), None, None, None)
    masks = view_masks(views, np.array([1, 0, -1]))
    np.testing.assert_array_equal(masks[0, 0], [[False, False, True], [False, False, False]])
    np.testing.assert_array_equal(masks[1, 0], [[False, True, False], [False, False, True]])
    np.testing.assert_array_equal(view_masks(views, np.array([1, 0, -1]), view=0), masks[:, 0])
    box = make_box_mesh()
    views = render_views(from_arrays(box.vertices, box.faces), resolution=8)
    chosen = candidate_views(views)
    azimuths = views.rig.azimuths_deg[chosen]
    np.testing.assert_allclose((azimuths - azimuths[0]) % 360, [0, 90, 180, 270])


def test_prompted_segmenter_with_a_perfect_segmenter_recovers_the_parts(tmp_path):
    path = tmp_path / "scene.glb"
    trimesh.Scene(_three_boxes()).export(path)
    gt = read_ground_truth(path)
    method = SimulatedUser(LabelSegmenter(gt.labels), resolution=64)
    assert score(gt, method.predict(gt)) == pytest.approx(1.0)


def test_multi_piece_parts_stay_whole(tmp_path):
    path = tmp_path / "pieces.ply"
    boxes = _three_boxes()
    trimesh.util.concatenate(boxes).export(path)
    np.save(tmp_path / "pieces.npy", np.repeat([0, 1, 0], 12))  # part 0 = boxes 0 and 2
    gt = read_ground_truth(path)
    whole = SimulatedUser(LabelSegmenter(gt.labels), resolution=64)
    assert score(gt, whole.predict(gt)) == pytest.approx(1.0)


def test_automatic_completion_finds_the_part_the_prompt_view_cannot_see(tmp_path):
    # a cube whose back side (seen from view 0) is its own part, attached to the rest
    box = make_box_mesh()
    mesh = from_arrays(box.vertices, box.faces)
    views = render_views(mesh, resolution=64)
    back = views.rig.opposite(0)
    towards_back = views.rig.origins[back] / np.linalg.norm(views.rig.origins[back])
    labels = (mesh.face_normals @ towards_back > 0.9).astype(np.int32)
    assert labels.sum() == 2 and not np.isin(np.flatnonzero(labels), views.face_ids[0]).any()
    path = tmp_path / "cube.ply"
    box.export(path)
    np.save(tmp_path / "cube.npy", labels)
    gt = read_ground_truth(path)
    segmenter = LabelSegmenter(gt.labels)
    complete = SimulatedUser(segmenter, resolution=64, candidates=1)
    assert score(gt, complete.predict(gt)) == pytest.approx(1.0)
    partial = SimulatedUser(segmenter, resolution=64, candidates=1, auto_complete=False)
    # the back part is lost: one part everywhere, IoU 10/12 and 2/12 with the two parts
    assert score(gt, partial.predict(gt)) == pytest.approx((10 / 12 + 2 / 12) / 2)


def _spheres(tmp_path, name: str, count: int):
    """`count` separate icospheres in a row (one smooth geometric part each), each its own GT part."""
    spheres = []
    for i in range(count):
        sphere = trimesh.creation.icosphere(2, radius=0.4)
        sphere.apply_translation([1.0 * i, 0.1 * i, 0])
        spheres.append(sphere)
    path = tmp_path / f"{name}.glb"
    trimesh.Scene(spheres).export(path)
    return read_ground_truth(path)


def test_geometry_method_binds_each_objects_mesh(tmp_path):
    # separate smooth spheres: the geometric parts are the GT parts, so simulated clicks are exact
    method = make_method("geometry", resolution=64, candidates=1)
    for name, count in (("two", 2), ("three", 3)):
        gt = _spheres(tmp_path, name, count)
        assert score(gt, method.predict(gt)) == pytest.approx(1.0)


def test_completion_prompts_click_the_largest_uncovered_regions():
    uncovered = np.zeros((30, 30), bool)
    uncovered[0:9, 0:9] = True  # 81 px
    uncovered[20:30, 10:30] = True  # 200 px
    uncovered[15, 15] = True  # 1 px: ignored
    prompts = completion_prompts(uncovered, view=5, min_pixels=4, max_prompts=2)
    assert [p.view for p in prompts] == [5, 5]
    np.testing.assert_array_equal([p.points[0] for p in prompts], [interior_point(uncovered & (np.arange(30) >= 20)[:, None]), [4.5, 4.5]])
    assert len(completion_prompts(uncovered, view=5, min_pixels=4, max_prompts=1)) == 1


# ---------------------------------------------------------------- oracle


@pytest.mark.slow
def test_oracle_lifting_reaches_97_miou_on_the_dev_set(dev_surfaces):
    oracle = Oracle()
    per_object = {uid: 100 * score(gt, oracle.predict_on(gt, surface)) for uid, (gt, surface) in dev_surfaces.items()}
    assert np.mean(list(per_object.values())) >= 97.0, per_object


# ---------------------------------------------------------------- one pipeline


def _session_script(gt, resolution: int) -> float:
    """The paper's protocol written against the public Session API alone: for each of
    the 4 candidate views, a new session, one click per visible ground-truth part,
    automatic completion; the best score."""
    surface = MeshSurface(gt.mesh, resolution=resolution)
    best = 0.0
    for view in candidate_views(surface.views):
        masks = view_masks(surface.views, gt.labels, gt.labels.max() + 1, view)
        prompts, _ = simulate_prompts(masks, view)
        session = Session(gt.mesh, GeometrySegmenter(), surface=surface)
        session.add_parts(prompts)
        session.auto_complete()
        best = max(best, score(gt, session.labels))
    return 100 * best


def test_evaluate_scores_what_a_session_gives_for_the_same_prompts(gt_paths, tmp_path):
    (tmp_path / "gt").mkdir()
    chosen = gt_paths[:2]
    for path in chosen:
        (tmp_path / "gt" / path.name).symlink_to(path)
    args = ["evaluate", str(tmp_path / "gt"), "--segmenter", "geometry", "--resolution", "256", "--out", str(tmp_path / "out"), "--quiet"]
    assert main(args) == 0
    for path in chosen:
        record = json.loads((tmp_path / "out" / "objects" / f"{path.stem}.json").read_text())
        assert record["miou"] == pytest.approx(_session_script(read_ground_truth(path), 256), abs=1e-9)


# ---------------------------------------------------------------- protocols


def test_partfield_protocol_reads_levels_and_averages_per_category(tmp_path):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    (pred_dir / "level_a").mkdir(parents=True)
    (pred_dir / "level_b").mkdir()
    whole = trimesh.util.concatenate(_three_boxes())
    truth = np.repeat([0, 1, 2], 12)
    for uid in ("u1", "u2", "u3"):
        whole.export(gt_dir / f"{uid}.ply")
        np.save(gt_dir / f"{uid}.npy", truth)
    coarse, fine = np.zeros(36, int), truth
    # u1: levels as sub-folders (the fine one is perfect); u2: a 2-D npy; u3: coarse only
    np.save(pred_dir / "level_a" / "u1.npy", coarse)
    np.save(pred_dir / "level_b" / "u1.npy", fine)
    np.save(pred_dir / "u2.npy", np.stack([coarse, fine]))
    np.save(pred_dir / "u3.npy", coarse)
    categories = {"u1": "x", "u2": "x", "u3": "y"}
    summary = run_evaluation(gt_dir, Predictions(pred_dir), tmp_path / "out", categories, protocol="partfield", progress=False)
    areas = [box.area for box in _three_boxes()]
    coarse_score = 100 * np.mean([a / sum(areas) for a in areas])
    assert summary["per_object"]["u1"] == pytest.approx(100) and summary["per_object"]["u2"] == pytest.approx(100)
    assert summary["per_object"]["u3"] == pytest.approx(coarse_score)
    assert summary["protocol_miou"] == pytest.approx((100 + coarse_score) / 2)
    assert summary["miou"] == pytest.approx((200 + coarse_score) / 3)
    # one labelling per shape in the other protocols: several levels fail, listed
    summary = run_evaluation(gt_dir, Predictions(pred_dir), tmp_path / "other", protocol="sampart3d", progress=False)
    assert sorted(summary["failed"]) == ["u1", "u2"] and summary["objects"] == 1


def _nested_scene() -> trimesh.Scene:
    """Three geometries under nested transforms, one of them mirrored."""
    scene = trimesh.Scene()
    boxes = _three_boxes()
    scene.add_geometry(boxes[0], node_name="root_box", geom_name="a")
    mirror = np.diag([-1.0, 1, 1, 1])
    mirror[:3, 3] = [0.3, 0.2, 0.1]
    scene.add_geometry(boxes[1], node_name="mirrored", geom_name="b", parent_node_name="root_box", transform=mirror)
    turn = trimesh.transformations.rotation_matrix(0.7, [0, 1, 0])
    scene.add_geometry(trimesh.creation.icosphere(1), node_name="sphere", geom_name="c", parent_node_name="mirrored", transform=turn)
    return scene


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_partobjaverse_tiny_layout_and_its_face_order(tmp_path):
    (tmp_path / "PartObjaverse-Tiny_mesh").mkdir()
    (tmp_path / "PartObjaverse-Tiny_instance_gt").mkdir()
    path = tmp_path / "PartObjaverse-Tiny_mesh" / "u1.glb"
    _nested_scene().export(path)
    dumped = trimesh.load(path).dump(concatenate=True)  # the order the dataset's labels follow
    np.save(tmp_path / "PartObjaverse-Tiny_instance_gt" / "u1.npy", np.arange(len(dumped.faces)))
    (tmp_path / "PartObjaverse-Tiny_semantic.json").write_text(json.dumps({"toys": {"u1": ["box", "ball"]}}))
    dataset = find_dataset(tmp_path)
    assert list(dataset.objects) == ["u1"] and dataset.categories == {"u1": "toys"}
    gt = dataset.read("u1")
    # face i of our mesh carries label i of the dump: the same triangle, in the file's frame
    ours = transform_points(gt.mesh.centroids, gt.mesh.to_file)
    np.testing.assert_allclose(ours, dumped.triangles_center[gt.labels], atol=1e-6)
    np.testing.assert_array_equal(gt.labels, np.arange(gt.mesh.num_faces))


# ---------------------------------------------------------------- point clouds (PartNetE layout)


def _partnete_set(root: Path, points_per_box: int = 1500) -> np.ndarray:
    """Two PartNetE-style objects (category Toy) sampled from three separate boxes;
    returns the instance labels (the same for both)."""
    boxes = _three_boxes()
    samples = [trimesh.sample.sample_surface(b, points_per_box, seed=i)[0] for i, b in enumerate(boxes)]
    labels = np.repeat([0, 1, 2], points_per_box)
    labels[::50] = -1  # some unlabelled points, as in PartNetE
    for name in ("1", "2"):
        folder = root / "Toy" / name
        folder.mkdir(parents=True)
        trimesh.PointCloud(np.concatenate(samples)).export(folder / "pc.ply")
        np.save(folder / "label.npy", {"semantic_seg": labels, "instance_seg": labels}, allow_pickle=True)
    return labels


def test_partnete_layout_is_scored_per_point(tmp_path):
    labels = _partnete_set(tmp_path / "gt")
    pred_dir = tmp_path / "pred" / "Toy"
    pred_dir.mkdir(parents=True)
    np.save(pred_dir / "1.npy", np.where(labels == 2, 1, labels).clip(0))  # boxes 1 and 2 merged
    summary = run_evaluation(tmp_path / "gt", Predictions(tmp_path / "pred"), tmp_path / "out", progress=False)
    assert summary["per_category"] and list(summary["per_category"]) == ["Toy"]
    assert list(summary["missing"]) == ["Toy/2"]
    # box 0 exact; boxes 1 and 2 merged: IoU n1 / (n1 + n2) and n2 / (n1 + n2), summing to 1
    assert summary["per_object"]["Toy/1"] == pytest.approx(100 * 2 / 3)
    assert (tmp_path / "out" / "objects" / "Toy__1.json").is_file()


def test_oracle_on_point_clouds(tmp_path):
    _partnete_set(tmp_path / "gt", points_per_box=800)
    summary = run_evaluation(tmp_path / "gt", Oracle(resolution=128), tmp_path / "out", progress=False)
    assert summary["objects"] == 2, summary["failed"]
    assert summary["miou"] >= 95.0


def test_pieces_baseline_labels_each_connected_piece(tmp_path):
    path = tmp_path / "pieces.ply"
    trimesh.util.concatenate(_three_boxes()).export(path)
    np.save(tmp_path / "pieces.npy", np.repeat([0, 1, 0], 12))  # part 0 = boxes 0 and 2
    gt = read_ground_truth(path)
    pred = make_method("pieces").predict(gt)
    assert [len(np.unique(pred[12 * k : 12 * k + 12])) for k in range(3)] == [1, 1, 1] and len(np.unique(pred)) == 3
    areas = np.array([b.area for b in _three_boxes()])
    assert score(gt, pred) == pytest.approx((max(areas[0], areas[2]) / (areas[0] + areas[2]) + 1) / 2)
