"""The `geosam2` command line under bad input (issue 16): each case is a clear error
before the expensive work, or a warning with nothing lost; never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.factories import make_box_mesh
from geosam2.pipeline import session
from geosam2.cli import main
from geosam2.evaluation import runner
from tests.helpers import CLI_RESOLUTION as RESOLUTION, centre_pixel


def test_out_naming_an_existing_file_is_refused_before_any_work(tmp_path, capsys):
    taken = tmp_path / "taken.txt"
    taken.write_text("keep me")
    missing = str(tmp_path / "missing.obj")  # the --out check must come before the mesh is even read
    for argv in (
        ["render", missing],
        ["segment", missing, "--click", "1,1"],
        ["evaluate", str(tmp_path), "--segmenter", "geometry"],
        ["curate", str(tmp_path)],
        ["merge", str(tmp_path)],
    ):
        assert main(argv + ["--out", str(taken)]) == 2, argv
        err = capsys.readouterr().err
        assert "--out" in err and "existing file" in err and "Traceback" not in err, err
    assert taken.read_text() == "keep me"


@pytest.fixture
def hub_unreachable(offline, monkeypatch):  # noqa: F811
    """No network and HF_HUB_OFFLINE unset: connecting to the Hub fails. Returns the list
    of attempted downloads (whose retries take ~30 s offline): it must stay empty."""
    import socket

    import huggingface_hub
    import huggingface_hub.constants

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    downloads = []

    def no_download(*args, **kwargs):
        downloads.append(kwargs)
        raise OSError("no network")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    return downloads


def test_unreachable_hub_means_the_geometry_segmenter_without_waiting(hub_unreachable, two_boxes, output_dir, capsys):
    path, mesh, left, views = two_boxes
    out = output_dir / "out"
    argv = ["segment", str(path), "--click", centre_pixel(views, left, 0), "--resolution", str(RESOLUTION), "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "cannot be reached" in err and "using the geometry segmenter" in err
    assert hub_unreachable == []  # no download tried
    assert len(np.load(out / "two_boxes_labels.npy")) == mesh.num_faces


def test_unreachable_hub_point_cloud_error_without_waiting(hub_unreachable, boxes_npy, output_dir, capsys):
    path, _ = boxes_npy
    out = output_dir / "out"
    assert main(["segment", str(path), "--click", "48,48", "--resolution", str(RESOLUTION), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot be reached" in err and "needs a mesh with faces" in err
    assert hub_unreachable == []
    assert not out.exists()


@pytest.mark.parametrize(
    "command, option, value",
    [
        ("segment", "--resolution", "0"),
        ("segment", "--resolution", "-5"),
        ("render", "--resolution", "100000"),
        ("evaluate", "--resolution", "1.5"),
        ("segment", "--pa", "-1"),
        ("segment", "--pa", "5"),
        ("evaluate", "--pa", "1"),
        ("evaluate", "--pa", "nan"),
        ("segment", "--face-budget", "1"),
        ("segment-many", "--face-budget", "50"),
    ],
)
def test_bad_numbers_are_refused_by_the_parser(tmp_path, capsys, command, option, value):
    first = {
        "render": ["m.obj"],
        "segment": ["m.obj", "--click", "1,1"],
        "segment-many": [str(tmp_path), "--auto"],
        "evaluate": [str(tmp_path), "--segmenter", "geometry"],
    }
    with pytest.raises(SystemExit) as info:
        main([command, *first[command], option, value, "--out", str(tmp_path / "out")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert option in err and value in err and ("between" in err or "from" in err or "at least" in err), err


def test_negative_click_is_parsed_then_reported_outside_the_image(two_boxes, output_dir, capsys):
    path = two_boxes[0]
    argv = ["segment", str(path), "--segmenter", "geometry", "--resolution", str(RESOLUTION), "--out", str(output_dir / "out")]
    for click in (["--click", "-10,20"], ["--click=-10,20"], ["--box", "-5,-5,10,10"]):
        assert main(argv + click) == 2, click
        err = capsys.readouterr().err
        assert "outside" in err and f"{RESOLUTION}x{RESOLUTION}" in err, err
    assert not (output_dir / "out").exists()


def test_nan_click_is_an_invalid_click_not_a_background_click(two_boxes, output_dir, capsys):
    argv = ["segment", str(two_boxes[0]), "--segmenter", "geometry", "--out", str(output_dir / "out")]
    for click in ("nan,256", "10,inf"):
        with pytest.raises(SystemExit):
            main(argv + ["--click", click])
        err = capsys.readouterr().err
        assert "finite" in err and "background" not in err, err


def test_a_background_click_is_dropped_with_a_warning_and_the_good_one_kept(two_boxes, output_dir, capsys):
    path, mesh, left, views = two_boxes
    row, column = np.argwhere(~views.silhouette[0])[0]
    out = output_dir / "out"
    argv = ["segment", str(path), "--segmenter", "geometry", "--resolution", str(RESOLUTION), "--out", str(out)]
    argv += ["--click", centre_pixel(views, left, 0), "--click", f"{column + 0.5},{row + 0.5}"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "warning" in captured.err and "click 2" in captured.err and "background" in captured.err, captured.err
    assert "1 of 2 prompts dropped" in captured.out
    labels = np.load(out / "two_boxes_labels.npy")
    clicked = labels[left]
    assert (clicked >= 0).any() and (clicked[clicked >= 0] == 0).all() and (labels[~left] == -1).all()


def test_prompt_errors_come_before_rendering(two_boxes, output_dir, capsys, monkeypatch):
    def no_session(*args, **kwargs):
        raise AssertionError("the views were rendered before the prompts were checked")

    monkeypatch.setattr(session, "Session", no_session)
    argv = ["segment", str(two_boxes[0]), "--segmenter", "geometry", "--resolution", str(RESOLUTION), "--out", str(output_dir / "out")]
    for extra, message in (
        (["--view", "99", "--click", "10,10"], "View 99 does not exist"),
        (["--click", f"{RESOLUTION + 5},10"], "outside"),
        (["--box", f"0,0,{RESOLUTION + 1},10"], "outside"),
    ):
        assert main(argv + extra) == 2, extra
        assert message in capsys.readouterr().err


def test_ctrl_c_during_evaluate_says_how_to_resume(dev_set, tmp_path, capsys, monkeypatch):
    evaluate_object, calls = runner.evaluate_object, []

    def interrupted_at_the_second_object(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return evaluate_object(*args, **kwargs)

    monkeypatch.setattr(runner, "evaluate_object", interrupted_at_the_second_object)
    out = tmp_path / "out"
    argv = ["evaluate", str(dev_set), "--pred-dir", str(dev_set / "Ours"), "--out", str(out)]
    assert main(argv) == 130
    err = capsys.readouterr().err
    message = err.strip().splitlines()[-1]  # one line, after the progress bar's
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "stopped" in message and "re-run" in message and str(out) in message, err
    assert [p.stem for p in (out / "objects").glob("*.json")] == calls[:1]  # the finished object is kept


def test_a_directory_given_as_the_mesh_is_called_a_directory(tmp_path, capsys):
    (tmp_path / "meshes").mkdir()
    for command in (["render"], ["segment", "--auto"]):
        assert main([command[0], str(tmp_path / "meshes"), *command[1:], "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert "is a directory" in err and "does not exist" not in err, err


def test_face_limit_has_a_flag_and_a_variable(tmp_path, capsys, monkeypatch):
    make_box_mesh().export(tmp_path / "box.obj")  # 12 faces
    render = ["render", str(tmp_path / "box.obj"), "--resolution", "16", "--out", str(tmp_path / "render")]
    segment = ["segment", str(tmp_path / "box.obj"), "--auto", "--segmenter", "geometry", "--resolution", "16", "--out", str(tmp_path / "seg")]
    assert main(render + ["--max-faces", "11"]) == 2
    err = capsys.readouterr().err
    assert "--max-faces" in err and "GEOSAM2_MAX_FACES" in err
    monkeypatch.setenv("GEOSAM2_MAX_FACES", "11")
    assert main(render) == 2 and main(segment) == 2
    assert main(render + ["--max-faces", "12"]) == 0  # the flag wins over the variable
    assert main(segment + ["--max-faces", "12"]) == 0
    import os

    assert os.environ["GEOSAM2_MAX_FACES"] == "11"  # the flag leaves the environment as it was


@pytest.mark.parametrize("where", ["under a file", "unwritable"])
def test_out_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys, where):
    taken = tmp_path / "taken.txt"
    taken.write_text("keep me")
    out = {"under a file": taken / "results", "unwritable": Path("/proc/geosam2_no_such_folder/out")}[where]
    missing = str(tmp_path / "missing.obj")  # the --out check comes before the mesh is even read
    for argv in (["render", missing], ["segment", missing, "--auto"], ["segment-many", str(tmp_path), "--auto"], ["evaluate", str(tmp_path), "--segmenter", "geometry"]):
        assert main(argv + ["--out", str(out)]) == 2, argv
        err = capsys.readouterr().err
        expected = "an existing file" if where == "under a file" else "cannot be written"
        assert "--out" in err and expected in err and "Traceback" not in err, err
    assert taken.read_text() == "keep me"


def test_a_failed_command_leaves_no_empty_out_folder(tmp_path, capsys):
    out = tmp_path / "new" / "out"
    assert main(["segment", str(tmp_path / "missing.obj"), "--auto", "--out", str(out)]) == 2
    assert not (tmp_path / "new").exists()
