"""`geosam2 render`: PNGs and camera metadata on disk; clear errors for bad input."""

import json

import numpy as np
from PIL import Image

from tests.factories import make_box_mesh
from geosam2.cli import main


def test_render_writes_images_and_cameras(tmp_path):
    make_box_mesh().export(tmp_path / "box.obj")
    out = tmp_path / "out"
    assert main(["render", str(tmp_path / "box.obj"), "--out", str(out), "--resolution", "32"]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["resolution"] == 32 and len(meta["cam_to_world"]) == 12
    np.testing.assert_allclose(meta["elevations_deg"], [0, 25, 0, -25] * 3)
    for v in range(12):
        normal = np.asarray(Image.open(out / f"normal_{v:02d}.png"))
        assert normal.shape == (32, 32, 3)
        assert (normal == 255).all(axis=2).any() and not (normal == 255).all()
        assert (out / f"points_{v:02d}.png").exists()


def test_render_reports_bad_input(tmp_path, capsys):
    (tmp_path / "bad.obj").write_text("this is not a mesh")
    assert main(["render", str(tmp_path / "bad.obj"), "--out", str(tmp_path / "o")]) == 2
    assert "error:" in capsys.readouterr().err
