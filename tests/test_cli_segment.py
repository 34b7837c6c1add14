"""`geosam2 segment` end to end: the geometry segmenter on a file of two boxes, and a
point-cloud file (its exports, and the clear error without GeoSAM2 weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from tests.factories import make_box_mesh
from geosam2.cli import segment as cli_segment
from geosam2.cli import main
from geosam2.io.mesh import load_mesh
from geosam2.io.pointreaders import load_geometry
from geosam2.render import render_views
from geosam2.render.splat import splat_views
from geosam2.evaluation.policies import LabelSegmenter
from tests.helpers import CLI_RESOLUTION as RESOLUTION, centre_pixel, pixel_of_face


def test_segment_clicks_and_auto_complete_write_the_exports(offline, two_boxes, output_dir, capsys):
    path, mesh, left, views = two_boxes
    out = output_dir / "out"
    argv = ["segment", str(path), "--view", "0", "--click", centre_pixel(views, left, 0), "--resolution", str(RESOLUTION)]
    assert main(argv + ["--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "using the geometry segmenter" in captured.err  # no GeoSAM2 weights (offline): a clear note
    labels = np.load(out / "two_boxes_labels.npy")
    assert len(labels) == mesh.num_faces
    clicked = labels[left]  # the side of the left box under the click, as one part
    assert (clicked[clicked >= 0] == 0).all() and (labels[~left] == -1).all()
    for suffix in ("_parts.glb", "_scene.glb", "_parts.zip", "_labels.json"):
        assert (out / f"two_boxes{suffix}").is_file()

    out = output_dir / "auto"
    argv[argv.index("--click") : argv.index("--click") + 2] = ["--click", centre_pixel(views, ~left, 0)]
    assert main(argv + ["--segmenter", "geometry", "--auto", "--out", str(out)]) == 0
    labels = np.load(out / "two_boxes_labels.npy")
    assert (labels >= 0).all()
    record = json.loads((out / "two_boxes_labels.json").read_text())
    assert {p["id"] for p in record["parts"]} == set(np.unique(labels))
    assert len(set(labels[left])) == len(set(labels[~left])) == 1  # each box one part (the unclicked copy may join)


def test_segment_user_mistakes_are_plain_errors(two_boxes, output_dir, capsys):
    path, _, _, views = two_boxes
    background = np.argwhere(~views.silhouette[0])[0]
    argv = ["segment", str(path), "--segmenter", "geometry", "--resolution", str(RESOLUTION), "--out", str(output_dir)]
    assert main(argv + ["--click", f"{background[1] + 0.5},{background[0] + 0.5}"]) == 2
    assert "background" in capsys.readouterr().err
    assert main(argv) == 2
    assert "Nothing to segment" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(argv + ["--click", "12"])


def test_point_cloud_without_weights_is_a_clear_error(offline, boxes_npy, output_dir, capsys):
    path, _ = boxes_npy
    out = output_dir / "no_weights"
    argv = ["segment", str(path), "--click", "48,48", "--resolution", str(RESOLUTION), "--out", str(out)]
    for extra in ([], ["--segmenter", "geometry"], ["--segmenter", "geosam2"]):
        assert main(argv + extra) == 2
        err = capsys.readouterr().err
        assert "needs a mesh with faces, not a point cloud" in err, err
        assert "--checkpoint" in err and "GEOSAM2_CHECKPOINT" in err
    assert not out.exists()  # nothing written


def test_point_cloud_segment_writes_the_point_cloud_exports(boxes_npy, output_dir, monkeypatch, capsys):
    path, box = boxes_npy
    monkeypatch.setattr(cli_segment, "choose_segmenter", lambda name, checkpoint, settings, point_cloud: LabelSegmenter(box))
    views = splat_views(load_geometry(path), resolution=RESOLUTION)
    view, x, y = pixel_of_face(views, np.flatnonzero(box == 0))
    out = output_dir / "points"
    argv = ["segment", str(path), "--view", str(view), "--click", f"{x},{y}", "--auto", "--resolution", str(RESOLUTION)]
    assert main(argv + ["--out", str(out)]) == 0
    assert "3 parts, 0 of 6000 points unlabelled" in capsys.readouterr().out
    labels = np.load(out / "boxes_labels.npy")
    assert (labels[box == 0] == 0).all()  # the clicked box is part 0, the others one part each
    assert all(len(np.unique(labels[box == k])) == 1 for k in range(3)) and len(np.unique(labels)) == 3
    raw = trimesh.load(out / "boxes_parts.ply", process=False).metadata["_ply_raw"]["vertex"]["data"]
    np.testing.assert_array_equal(raw["label"], labels)
    record = json.loads((out / "boxes_labels.json").read_text())
    assert [p["name"] for p in record["parts"]] == ["part_0", "part_1", "part_2"]
    assert (out / "boxes_parts.zip").is_file()
