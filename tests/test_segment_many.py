"""`geosam2 segment-many`: every mesh of a folder segmented automatically with the
geometry segmenter, failures listed, re-runs resuming, shards splitting the folder;
results never stale (issue 24): distinct output names, settings and input digests
in the records, outputs never taken as inputs, clear errors for bad folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from tests.factories import make_box_mesh, make_sphere_mesh
from geosam2.pipeline.batch import MARKER, mesh_files, output_key, torchrun_shard
from geosam2.cli import main
from geosam2.io.mesh import load_mesh

ARGS = ["--auto", "--segmenter", "geometry", "--resolution", "64"]


@pytest.fixture
def folder(tmp_path):
    """Two good meshes (one in a sub-folder) and a corrupt one."""
    root = tmp_path / "meshes"
    (root / "sub").mkdir(parents=True)
    left, right = make_box_mesh(), make_box_mesh()
    right.apply_translation((3.0, 0.0, 0.0))
    trimesh.util.concatenate([left, right]).export(root / "boxes.ply")
    make_sphere_mesh(subdivisions=2).export(root / "sub" / "ball.obj")
    (root / "broken.stl").write_bytes(b"solid nothing useful here")
    (root / "notes.txt").write_text("not a mesh")
    return root


def records(out) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}


def test_every_mesh_segmented_failures_listed_and_resumed(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert mesh_files(folder) == ["boxes.ply", "broken.stl", "sub/ball.obj"]
    assert main(["segment-many", str(folder), *ARGS, "--out", str(out)]) == 2  # a failure: non-zero exit
    captured = capsys.readouterr()
    assert "failed: broken.stl" in captured.out and "1 meshes failed" in captured.err
    done = records(out)
    assert {k: r["status"] for k, r in done.items()} == {"boxes.ply": "ok", "broken.stl": "failed", "sub%2Fball.obj": "ok"}
    boxes = load_mesh(folder / "boxes.ply")
    labels = np.load(out / "meshes" / "boxes.ply" / "boxes_labels.npy")
    assert len(labels) == boxes.num_faces and (labels >= 0).all() and done["boxes.ply"]["parts"] >= 2
    assert (out / "meshes" / "sub%2Fball.obj" / "ball_parts.zip").is_file()
    summary = json.loads((out / "summary_0_of_1.json").read_text())
    assert summary["ok"] == ["boxes.ply", "sub/ball.obj"] and [f["file"] for f in summary["failed"]] == ["broken.stl"]

    # resume: finished meshes are not redone, the failed one is tried again
    (folder / "broken.stl").unlink()
    make_box_mesh().export(folder / "broken.stl")
    assert main(["segment-many", str(folder), *ARGS, "--out", str(out)]) == 0
    again = records(out)
    assert again["boxes.ply"] == done["boxes.ply"] and again["sub%2Fball.obj"] == done["sub%2Fball.obj"]
    assert again["broken.stl"]["status"] == "ok"


def test_shards_split_the_folder(folder, tmp_path, monkeypatch):
    (folder / "broken.stl").unlink()
    seen = []
    for index in range(2):
        out = tmp_path / f"shard{index}"
        main(["segment-many", str(folder), *ARGS, "--shard", f"{index}/2", "--out", str(out)])
        seen.append(set(records(out)))
    assert seen == [{"boxes.ply"}, {"sub%2Fball.obj"}]
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert torchrun_shard() == (1, 3)


def segment_many(folder, out, *extra) -> int:
    return main(["segment-many", str(folder), *ARGS, *map(str, extra), "--out", str(out)])


def test_paths_that_flatten_alike_get_their_own_outputs(tmp_path):
    root = tmp_path / "in"
    (root / "a").mkdir(parents=True)
    make_box_mesh().export(root / "a" / "b.ply")
    make_sphere_mesh(subdivisions=2).export(root / "a__b.ply")
    out = tmp_path / "out"
    assert segment_many(root, out) == 0
    done = {r["file"]: r for r in records(out).values()}
    assert set(done) == {"a/b.ply", "a__b.ply"} and all(r["status"] == "ok" for r in done.values())
    for file, stem in (("a/b.ply", "b"), ("a__b.ply", "a__b")):
        labels = np.load(out / "meshes" / output_key(file) / f"{stem}_labels.npy")
        assert len(labels) == load_mesh(root / file).num_faces == done[file]["faces"]


def test_output_keys_are_distinct_and_file_safe():
    files = ["a/b.glb", "a__b.glb", "a%2Fb.glb", "a%b.glb", "x" * 300 + "/y.glb", "x" * 300 + "/z.glb"]
    keys = [output_key(f) for f in files]
    assert len(set(keys)) == len(files)
    assert all("/" not in k and len(k.encode()) <= 200 for k in keys)


def test_other_settings_are_refused_naming_them_and_restart_redoes(folder, tmp_path, capsys):
    (folder / "broken.stl").unlink()
    out = tmp_path / "out"
    assert segment_many(folder, out) == 0
    before = {p.name: p.read_text() for p in (out / "records").glob("*.json")}
    capsys.readouterr()
    assert main(["segment-many", str(folder), "--auto", "--segmenter", "geometry", "--resolution", "96", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "resolution: 64 -> 96" in err and "--restart" in err and "--out" in err, err
    assert {p.name: p.read_text() for p in (out / "records").glob("*.json")} == before  # nothing lost or redone
    assert segment_many(folder, out, "--profile", "official") == 2
    assert "profile: default -> official" in capsys.readouterr().err
    assert segment_many(folder, out, "--profile", "official", "--restart") == 0
    assert "2 meshes segmented (0 kept" in capsys.readouterr().out
    assert {r["settings"]["profile"] for r in records(out).values()} == {"official"}


def test_a_changed_input_is_segmented_again(folder, tmp_path, capsys):
    (folder / "broken.stl").unlink()
    out = tmp_path / "out"
    assert segment_many(folder, out) == 0
    first = records(out)
    capsys.readouterr()
    assert segment_many(folder, out) == 0
    assert "2 meshes segmented (2 kept from an earlier run)" in capsys.readouterr().out
    assert records(out) == first
    make_sphere_mesh(subdivisions=3).export(folder / "boxes.ply")  # another object under the same name
    assert segment_many(folder, out) == 0
    again = records(out)
    assert again["boxes.ply"]["sha256"] != first["boxes.ply"]["sha256"] and again["sub%2Fball.obj"] == first["sub%2Fball.obj"]
    labels = np.load(out / "meshes" / "boxes.ply" / "boxes_labels.npy")
    assert len(labels) == load_mesh(folder / "boxes.ply").num_faces == again["boxes.ply"]["faces"]


def test_outputs_inside_the_input_folder_are_never_inputs(folder, capsys):
    (folder / "broken.stl").unlink()
    for out in (folder / "out", folder / "out", folder / "second"):
        assert segment_many(folder, out) == 0
        assert {r["file"] for r in records(out).values()} == {"boxes.ply", "sub/ball.obj"}
    assert mesh_files(folder) == ["boxes.ply", "sub/ball.obj"]
    assert segment_many(folder / "out", folder / "out") == 2
    assert "inside it" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["missing", "file", "empty", "only outputs"])
def test_a_folder_without_meshes_is_an_error(folder, tmp_path, capsys, kind):
    given = {"missing": tmp_path / "nowhere", "file": folder / "boxes.ply", "empty": tmp_path / "empty", "only outputs": tmp_path / "outputs"}[kind]
    (tmp_path / "empty").mkdir()
    (tmp_path / "outputs" / "old").mkdir(parents=True)
    (tmp_path / "outputs" / "old" / MARKER).write_text("{}")
    make_box_mesh().export(tmp_path / "outputs" / "old" / "box.ply")
    assert segment_many(given, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert {"missing": "does not exist", "file": "is a file", "empty": "no mesh file", "only outputs": "no mesh file"}[kind] in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
