"""Evaluation results never go stale (issue 24): records carry the digests of the
files they were read from (changed -> redone), ambiguous ground-truth names are
refused, and `merge` takes shards 0..n-1 of one run, each exactly once, finished."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from tests.factories import make_box_mesh
from geosam2.cli import main
from geosam2.errors import GeoSAM2Error
from geosam2.evaluation.runner import Predictions, load_records, merge_results, run_evaluation

FACES = 12  # a box


@pytest.fixture
def gt_set(tmp_path):
    """Ground truth: three boxes 'a', 'b', 'c' with per-face labels (two parts each)
    as sidecars; predictions in pred/ (exact) and other/pred/ (one part: 50 %)."""
    root = tmp_path / "set"
    for folder in ("GT", "pred", "other/pred"):
        (root / folder).mkdir(parents=True)
    truth = np.repeat([0, 1], FACES // 2)
    for uid in "abc":
        make_box_mesh().export(root / "GT" / f"{uid}.ply")
        np.save(root / "GT" / f"{uid}.npy", truth)
        np.save(root / "pred" / f"{uid}.npy", truth + 5)
        np.save(root / "other" / "pred" / f"{uid}.npy", np.zeros(FACES, int))
    return root


def scores(out) -> dict:
    return {r["uid"]: round(r["miou"], 2) for r in load_records(out)}


def evaluate(gt_set, pred, out, **kwargs) -> dict:
    return run_evaluation(gt_set, Predictions(pred), out, progress=False, **kwargs)


def test_another_prediction_folder_of_the_same_name_is_scored_anew(gt_set, tmp_path, capsys):
    out = tmp_path / "out"
    assert evaluate(gt_set, gt_set / "pred", out)["miou"] == pytest.approx(100.0)
    summary = evaluate(gt_set, gt_set / "other" / "pred", out)  # same method name, "pred"
    assert summary["miou"] == pytest.approx(50.0) and set(scores(out).values()) == {50.0}
    assert "redoing 3 objects whose files changed" in capsys.readouterr().err


def test_predictions_or_ground_truth_changed_in_place_are_redone(gt_set, tmp_path):
    out = tmp_path / "out"
    evaluate(gt_set, gt_set / "pred", out)
    first = {r["uid"]: r for r in load_records(out)}
    np.save(gt_set / "pred" / "a.npy", np.zeros(FACES, int))  # the prediction of 'a' edited
    np.save(gt_set / "GT" / "b.npy", np.arange(FACES) % 3)  # the ground truth of 'b' edited
    evaluate(gt_set, gt_set / "pred", out)
    again = {r["uid"]: r for r in load_records(out)}
    assert again["a"]["miou"] == pytest.approx(50.0) and again["b"]["miou"] < 100.0
    assert again["c"] == first["c"]  # unchanged files: kept as it was
    assert set(again["a"]["inputs"]) == {"ground truth: a.ply", "ground truth: a.npy", "prediction: a.npy"}


def test_ground_truth_with_two_files_of_one_name_is_refused(gt_set, tmp_path, capsys):
    trimesh.Trimesh(make_box_mesh().vertices, make_box_mesh().faces).export(gt_set / "GT" / "a.obj")
    out = tmp_path / "out"
    assert main(["evaluate", str(gt_set), "--pred-dir", str(gt_set / "pred"), "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "a.obj, a.ply" in err and "one file per object" in err and "Traceback" not in err, err


def test_two_prediction_files_of_one_object_are_a_failure_of_that_object(gt_set, tmp_path):
    pred = tmp_path / "meshes"
    pred.mkdir()
    for suffix in (".ply", ".obj"):
        make_box_mesh().export(pred / f"a{suffix}")
    summary = evaluate(gt_set, pred, tmp_path / "out")
    assert "a.obj, a.ply" in summary["failed"]["a"]


def test_merge_takes_every_shard_exactly_once(gt_set, tmp_path):
    folders = [tmp_path / f"shard{i}" for i in range(3)]
    for i, folder in enumerate(folders):
        evaluate(gt_set, gt_set / "pred", folder, shard=(i, 3))
    whole = merge_results(folders, tmp_path / "merged")
    assert whole["objects"] == 3 and whole["miou"] == pytest.approx(100.0)
    with pytest.raises(GeoSAM2Error, match=r"missing: 2/3"):
        merge_results(folders[:2], tmp_path / "m1")
    with pytest.raises(GeoSAM2Error, match=r"given twice: 1/3"):
        merge_results([*folders, folders[1]], tmp_path / "m2")
    evaluate(gt_set, gt_set / "pred", tmp_path / "halves", shard=(0, 2))
    with pytest.raises(GeoSAM2Error, match="split 2 and 3 ways"):
        merge_results([*folders, tmp_path / "halves"], tmp_path / "m3")
    (folders[0] / "objects" / "a.json").unlink()  # an interrupted shard
    with pytest.raises(GeoSAM2Error, match="no result for 1 of its 1 objects"):
        merge_results(folders, tmp_path / "m4")


def test_merge_on_the_command_line_names_the_missing_shard(gt_set, tmp_path, capsys):
    folders = [tmp_path / f"shard{i}" for i in range(2)]
    for i, folder in enumerate(folders):
        evaluate(gt_set, gt_set / "pred", folder, shard=(i, 2))
    assert main(["merge", str(folders[1]), "--out", str(tmp_path / "merged")]) == 2
    assert "missing: 0/2" in capsys.readouterr().err
    assert main(["merge", *map(str, folders), "--out", str(tmp_path / "merged")]) == 0
    assert json.loads((tmp_path / "merged" / "summary.json").read_text())["objects"] == 3


def test_evaluate_takes_the_face_limit_of_its_flag(gt_set, tmp_path, capsys):
    argv = ["evaluate", str(gt_set), "--pred-dir", str(gt_set / "pred"), "--quiet"]
    assert main(argv + ["--max-faces", "11", "--out", str(tmp_path / "low")]) == 0
    summary = json.loads((tmp_path / "low" / "summary.json").read_text())
    assert set(summary["failed"]) == set("abc") and "--max-faces N" in summary["failed"]["a"]
    assert main(argv + ["--max-faces", "12", "--out", str(tmp_path / "high")]) == 0
    assert json.loads((tmp_path / "high" / "summary.json").read_text())["objects"] == 3
