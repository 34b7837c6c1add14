"""`geosam2 segment-many`: every mesh of a folder segmented automatically with the
geometry segmenter, failures listed, re-runs resuming, shards splitting the folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from tests.factories import make_box_mesh, make_sphere_mesh
from geosam2.pipeline.batch import mesh_files, torchrun_shard
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
    assert {k: r["status"] for k, r in done.items()} == {"boxes.ply": "ok", "broken.stl": "failed", "sub__ball.obj": "ok"}
    boxes = load_mesh(folder / "boxes.ply")
    labels = np.load(out / "meshes" / "boxes.ply" / "boxes_labels.npy")
    assert len(labels) == boxes.num_faces and (labels >= 0).all() and done["boxes.ply"]["parts"] >= 2
    assert (out / "meshes" / "sub__ball.obj" / "ball_parts.zip").is_file()
    summary = json.loads((out / "summary_0_of_1.json").read_text())
    assert summary["ok"] == ["boxes.ply", "sub/ball.obj"] and [f["file"] for f in summary["failed"]] == ["broken.stl"]

    # resume: finished meshes are not redone, the failed one is tried again
    (folder / "broken.stl").unlink()
    make_box_mesh().export(folder / "broken.stl")
    assert main(["segment-many", str(folder), *ARGS, "--out", str(out)]) == 0
    again = records(out)
    assert again["boxes.ply"] == done["boxes.ply"] and again["sub__ball.obj"] == done["sub__ball.obj"]
    assert again["broken.stl"]["status"] == "ok"


def test_shards_split_the_folder(folder, tmp_path, monkeypatch):
    (folder / "broken.stl").unlink()
    seen = []
    for index in range(2):
        out = tmp_path / f"shard{index}"
        main(["segment-many", str(folder), *ARGS, "--shard", f"{index}/2", "--out", str(out)])
        seen.append(set(records(out)))
    assert seen == [{"boxes.ply"}, {"sub__ball.obj"}]
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert torchrun_shard() == (1, 3)
