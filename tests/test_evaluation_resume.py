"""Evaluation folders cannot go stale (issue 16): every record carries the settings
that produced it, a run with other settings refuses the folder (or `--restart`s it),
and missing or failed objects are retried on the next run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import geosam2
from geosam2.cli import main
from geosam2.errors import GeoSAM2Error
from geosam2.evaluation.runner import Predictions, load_records, merge_results, run_evaluation
from geosam2.evaluation.settings import code_version, evaluation_settings


@pytest.fixture
def small_set(dev_set, tmp_path):
    """Two dev-set objects with their ground truth and two methods' predictions."""
    root = tmp_path / "set"
    for folder in ("GT", "Ours", "SAMesh"):
        (root / folder).mkdir(parents=True)
        for path in sorted((dev_set / folder).glob("*.glb"))[:2]:
            shutil.copy(path, root / folder / path.name)
    return root


def evaluate(*argv) -> int:
    return main(["evaluate", *map(str, argv), "--quiet"])


def test_records_carry_the_settings_that_produced_them(small_set, tmp_path):
    out = tmp_path / "out"
    assert evaluate(small_set, "--pred-dir", small_set / "Ours", "--weighting", "count", "--out", out) == 0
    records = load_records(out)
    assert len(records) == 2
    settings = records[0]["settings"]
    assert all(r["settings"] == settings for r in records)
    assert settings["method"] == "Ours" and settings["weighting"] == "count" and settings["protocol"] == "geosam2"
    assert settings["code"].startswith(geosam2.__version__)


def test_segmenter_settings_name_resolution_and_checkpoint(tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"not really weights")
    settings = evaluation_settings("geosam2", "area", "geosam2", resolution=512, pa=0.02, checkpoint=weights)
    assert settings["resolution"] == 512 and settings["checkpoint"]["bytes"] == len(b"not really weights")
    weights.write_bytes(b"other weights, same file")
    assert evaluation_settings("geosam2", "area", "geosam2", resolution=512, pa=0.02, checkpoint=weights) != settings


def test_a_run_with_other_settings_refuses_the_folder(small_set, tmp_path, capsys):
    out = tmp_path / "out"
    assert evaluate(small_set, "--pred-dir", small_set / "Ours", "--out", out) == 0
    before = {p.name: p.read_text() for p in (out / "objects").glob("*.json")}
    capsys.readouterr()
    assert evaluate(small_set, "--pred-dir", small_set / "SAMesh", "--weighting", "count", "--out", out) == 2
    err = capsys.readouterr().err
    assert "method" in err and "Ours" in err and "SAMesh" in err and "weighting" in err, err
    assert "--restart" in err and "--out" in err  # the two ways out
    assert {p.name: p.read_text() for p in (out / "objects").glob("*.json")} == before  # nothing lost


def test_restart_starts_afresh_with_the_new_settings(small_set, tmp_path, capsys):
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    assert evaluate(small_set, "--pred-dir", small_set / "Ours", "--out", out) == 0
    assert evaluate(small_set, "--pred-dir", small_set / "SAMesh", "--out", out, "--restart") == 0
    assert "restart" in capsys.readouterr().err
    assert evaluate(small_set, "--pred-dir", small_set / "SAMesh", "--out", fresh) == 0
    assert json.loads((out / "summary.json").read_text()) == json.loads((fresh / "summary.json").read_text())
    assert {r["settings"]["method"] for r in load_records(out)} == {"SAMesh"}


def test_records_without_settings_are_refused(small_set, tmp_path):
    out = tmp_path / "out"
    run_evaluation(small_set, Predictions(small_set / "Ours"), out, progress=False)
    for path in (out / "objects").glob("*.json"):  # as written before records carried settings
        record = json.loads(path.read_text())
        del record["settings"]
        path.write_text(json.dumps(record))
    with pytest.raises(GeoSAM2Error, match="no settings"):
        run_evaluation(small_set, Predictions(small_set / "Ours"), out, progress=False)


def test_missing_and_failed_objects_are_retried(small_set, tmp_path, capsys):
    pred = tmp_path / "pred"
    shutil.copytree(small_set / "Ours", pred)
    missing, broken = sorted(pred.glob("*.glb"))
    kept = missing.read_bytes(), broken.read_bytes()
    missing.unlink()
    broken.write_bytes(b"not a mesh")
    out = tmp_path / "out"
    summary = run_evaluation(small_set, Predictions(pred), out, progress=False)
    assert list(summary["missing"]) == [missing.stem] and list(summary["failed"]) == [broken.stem]
    missing.write_bytes(kept[0])  # the predictions are put back
    broken.write_bytes(kept[1])
    summary = run_evaluation(small_set, Predictions(pred), out, progress=False)
    assert not summary["missing"] and not summary["failed"] and summary["objects"] == 2
    assert "retrying 2" in capsys.readouterr().err


def test_merge_refuses_shards_of_other_settings(small_set, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    run_evaluation(small_set, Predictions(small_set / "Ours"), first, shard=(0, 2), progress=False)
    run_evaluation(small_set, Predictions(small_set / "Ours"), second, shard=(1, 2), weighting="count", progress=False)
    with pytest.raises(GeoSAM2Error, match="weighting"):
        merge_results([first, second], tmp_path / "merged")


def test_code_version_names_the_commit_of_a_checkout():
    version = code_version()
    assert version.startswith(geosam2.__version__)
    source = Path(geosam2.__file__).parents[1]
    if (source / ".git").exists():  # a git checkout (a worktree has a .git file)
        assert "+g" in version
