"""`geosam2 evaluate --segmenter geometry --no-prompts`: segment everything, scored by the
best level of the hierarchy of parts (PartField's protocol)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from geosam2.cli import main
from tests.factories import make_box_mesh


def _separate_boxes(folder, count: int = 3):
    """A ground-truth scene of `count` separate boxes, one part each."""
    folder.mkdir()
    boxes = []
    for i in range(count):
        box = make_box_mesh((1.0, 0.6 + 0.2 * i, 0.8)).subdivide().subdivide()  # 192 faces: room for a proxy
        box.apply_translation([2.0 * i, 0, 0])
        boxes.append(box)
    trimesh.Scene(boxes).export(folder / "boxes.glb")
    return folder


def test_no_prompts_scores_the_best_level(tmp_path):
    """Separate pieces never merge inside a level, so some level holds exactly the three
    boxes: the best level scores 100."""
    gt = _separate_boxes(tmp_path / "GT")
    out = tmp_path / "eval"
    assert main(["evaluate", str(gt), "--segmenter", "geometry", "--no-prompts", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "geometry-levels" and summary["protocol_miou"] == pytest.approx(100.0)


def test_no_prompts_also_scores_the_default_level(tmp_path, capsys):
    """Beside the best level, the level segment everything shows (`GeometrySegmenter.level`):
    on three separate boxes it is the three boxes, and it is printed and summarised; a
    default level that is not the best scores below it."""
    from geosam2.evaluation.everything import DEFAULT_LEVEL, HierarchyLevels
    from geosam2.evaluation.readers import find_dataset

    gt = _separate_boxes(tmp_path / "GT")
    out = tmp_path / "eval"
    assert main(["evaluate", str(gt), "--segmenter", "geometry", "--no-prompts", "--out", str(out), "--quiet"]) == 0
    assert f"{DEFAULT_LEVEL}: 100.00 %" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["extra"] == {DEFAULT_LEVEL: pytest.approx(100.0)}
    method, truth = HierarchyLevels(), find_dataset(gt).read("boxes")
    levels = method.predict(truth)
    finest = method.extra_scores(truth, np.stack([levels[-1]] * len(levels)))  # every level replaced by the finest
    assert finest[DEFAULT_LEVEL] < 0.9


def test_no_prompts_needs_the_geometry_segmenter(tmp_path, capsys):
    gt = _separate_boxes(tmp_path / "GT")
    assert main(["evaluate", str(gt), "--segmenter", "oracle", "--no-prompts", "--out", str(tmp_path / "e")]) != 0
    assert "--segmenter geometry" in capsys.readouterr().err


def test_segment_levels_writes_every_level_of_the_full_mesh(tmp_path, capsys):
    """`segment --auto --levels`: one row per level, coarse to fine, every face labelled;
    with a proxy the levels are of the full mesh's faces."""
    from geosam2.io.mesh import load_mesh

    path = _separate_boxes(tmp_path / "in") / "boxes.glb"
    mesh = load_mesh(path)
    for budget in ("0", "300"):  # the mesh itself, then a proxy of 300 of its 576 faces
        out = tmp_path / f"out_{budget}"
        args = ["segment", str(path), "--auto", "--levels", "--segmenter", "geometry", "--resolution", "128"]
        assert main([*args, "--face-budget", budget, "--out", str(out)]) == 0
        assert ("segmenting a proxy" in capsys.readouterr().err) == (budget != "0")
        levels = np.load(next(out.glob("*_levels.npy")))
        assert levels.shape[1] == mesh.num_faces and (levels >= 0).all()
        counts = [len(np.unique(level)) for level in levels]
        assert counts == sorted(counts) and 3 in counts  # coarse to fine; one level is the three boxes
