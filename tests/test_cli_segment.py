"""`geosam2 segment` end to end with the geometry segmenter on a file of two boxes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from conftest import make_box_mesh
from geosam2.cli import main
from geosam2.mesh import load_mesh
from geosam2.render import render_views

RESOLUTION = 96


@pytest.fixture
def two_boxes(output_dir):
    """A PLY file of two separate boxes along x; returns its path, the loaded mesh,
    (F,) bool faces of the box at negative x, and the rendered views."""
    left, right = make_box_mesh(), make_box_mesh()
    right.apply_translation((3.0, 0.0, 0.0))
    path = output_dir / "two_boxes.ply"
    trimesh.util.concatenate([left, right]).export(path)
    mesh = load_mesh(path)
    return path, mesh, mesh.centroids[:, 0] < 0, render_views(mesh, resolution=RESOLUTION)


def centre_pixel(views, faces, view):
    """"X,Y" of the pixel nearest the middle of `faces`' pixels on `view`."""
    pixels = np.argwhere(np.isin(views.face_ids[view], np.flatnonzero(faces)))
    row, column = pixels[np.linalg.norm(pixels - pixels.mean(0), axis=1).argmin()]
    return f"{column + 0.5},{row + 0.5}"


def test_segment_clicks_and_auto_complete_write_the_exports(two_boxes, output_dir, capsys):
    path, mesh, left, views = two_boxes
    out = output_dir / "out"
    argv = ["segment", str(path), "--view", "0", "--click", centre_pixel(views, left, 0), "--resolution", str(RESOLUTION)]
    assert main(argv + ["--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "using the geometry segmenter" in captured.err  # no GeoSAM2 weights here: a clear note
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
    assert not set(labels[left]) & set(labels[~left])  # separate boxes never share a part


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
