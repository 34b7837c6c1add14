"""The demo as a newcomer meets it (issue 23): what each event says and keeps, at 256 px.

Driven as the page drives DemoApp (a fake gr.Request per test, the offline
geometry segmenter); results are checked on the examples' scene parts.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest
import trimesh

from demo.callbacks import DemoApp
from demo.downloads import BEING_PREPARED, DOWNLOAD_LABELS, click_message
from demo.images import overlay_labels
from demo.layout import profile_choices
from demo.meshes import Y_UP, Z_UP, Z_UP_TO_Y_UP
from demo.model import GEOMETRY, SharedModel
from demo.prompting import empty_prompt
from demo.screen import LOAD_OUTPUTS, only
from demo.state import DEMO_DEFAULTS
from geosam2.io.mesh import transform_points
from geosam2.io.palette import cielab
from tests.test_demo import SHOWCASE, click_part, download_files, example, no_progress, on_part, segment, session_of, value

RESOLUTION = 256


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> DemoApp:
    return DemoApp(SharedModel(), DEMO_DEFAULTS.with_values(demo_max_faces=5_000), temp_root=str(tmp_path_factory.mktemp("demo")))


@pytest.fixture
def request_(request):
    return types.SimpleNamespace(session_hash=request.node.name)


def load(app, request, path, up: str = "") -> dict:
    settings = app.page_settings(0.02, 5, RESOLUTION, GEOMETRY, None, up)
    return dict(zip(LOAD_OUTPUTS, app.load(str(path), settings, False, request, no_progress)))


def test_downloads_hold_the_newest_parts_after_quick_changes_and_say_when_they_are_not_ready(app, request_):
    load(app, request_, example("figure"))
    user = app.store.get(request_.session_hash)
    with pytest.warns(UserWarning, match="No parts to download yet"):
        app.download_clicked(request_)  # no part: a message, not silence
    names = user.session.mesh.part_names
    screens = [segment(app, request_, on_part(app, request_, names.index(name))) for name in ("head", "torso", "arm_left")]
    assert all(value(s["download_json"]) is None and "preparing" in s["download_json"]["label"] for s in screens)
    assert click_message(user) == BEING_PREPARED  # three changes, one export (of the newest state)
    record = json.loads(Path(download_files(app, request_)["json"]).read_text())
    assert np.array_equal(record["labels"], user.session.labels) and len(record["parts"]) == 3
    assert len(list(user.folder.glob("export_*"))) == 1
    app.reset(empty_prompt(), request_)
    app.segment_everything(empty_prompt(), request_, no_progress)
    record = json.loads(Path(download_files(app, request_)["json"]).read_text())
    assert np.array_equal(record["labels"], session_of(app, request_).labels)


def test_download_labels_say_what_the_files_are_and_profiles_do_not_promise_geosam2():
    assert "coloured by part" in DOWNLOAD_LABELS["glb"] and "input's look" in DOWNLOAD_LABELS["scene"]
    assert not any("GeoSAM2" in label for label, _ in profile_choices(False))
    assert any("GeoSAM2" in label for label, _ in profile_choices(True))


def test_a_part_taking_faces_of_others_says_so_and_a_candidate_keeps_them(app, request_):
    load(app, request_, example("figure"))
    session = session_of(app, request_)
    head = session.mesh.part_names.index("head")
    segment(app, request_, on_part(app, request_, head))
    box = {"view": 0, "clicks": [], "box": [[0.5, 0.5], [RESOLUTION - 0.5, RESOLUTION - 0.5]]}
    with pytest.warns(UserWarning, match="took faces of part_0 \\(all of it\\)"):
        segment(app, request_, box)  # the whole figure, asked for explicitly
    app.undo(empty_prompt(), request_)
    prompt = click_part(app, request_, empty_prompt(), session.mesh.part_names.index("torso"))
    app.candidates(prompt, None, False, request_)
    app.pick_candidate(len(app.store.get(request_.session_hash).candidates.masks) - 1, 0.02, False, request_, no_progress)
    assert (session.labels[session.mesh.part_ids == head] == 0).all()  # the widest candidate left the head alone


def test_refine_refuses_a_child_equal_to_its_parent_and_splits_a_part(app, request_):
    load(app, request_, example("figure"))
    session = session_of(app, request_)
    arm = session.mesh.part_names.index("arm_left")
    segment(app, request_, on_part(app, request_, arm))
    (parent,) = session.parts
    with pytest.warns(UserWarning, match="the child would be part_0 itself"):
        segment(app, request_, on_part(app, request_, arm), part=parent.id, refine=True)
    assert session.parts == (parent,)
    box = {"view": 0, "clicks": [], "box": [[0.5, 0.5], [RESOLUTION - 0.5, RESOLUTION - 0.5]]}
    app.reset(empty_prompt(), request_)
    session = session_of(app, request_)
    whole = segment(app, request_, box)["part"]["value"]
    screen = dict(zip(LOAD_OUTPUTS, app.complete_inside(empty_prompt(), whole, request_, no_progress)))
    assert screen["part"]["value"] == whole and len(session.children(whole)) > 1


def test_reset_numbers_parts_from_zero_undo_brings_them_back_and_rename(app, request_):
    load(app, request_, example("figure"))
    names = session_of(app, request_).mesh.part_names
    for name in ("head", "torso"):
        segment(app, request_, on_part(app, request_, names.index(name)))
    before = session_of(app, request_)
    app.reset(empty_prompt(), request_)
    segment(app, request_, on_part(app, request_, names.index("torso")))
    assert [p.name for p in session_of(app, request_).parts] == ["part_0"]
    app.undo(empty_prompt(), request_)
    app.undo(empty_prompt(), request_)  # past the Reset
    assert session_of(app, request_) is before and len(before.parts) == 2
    app.redo(empty_prompt(), request_)
    assert session_of(app, request_) is not before
    app.undo(empty_prompt(), request_)
    screen = dict(zip(LOAD_OUTPUTS, app.rename(1, "torso", empty_prompt(), request_)))
    assert before.part(1).name == "torso" and any(row[1] == "torso" for row in screen["parts"])
    with pytest.warns(UserWarning, match="Type the part's new name"):
        app.rename(1, "  ", empty_prompt(), request_)


def test_nothing_left_to_segment_says_so(app, request_):
    load(app, request_, example("lamp"))
    app.segment_everything(empty_prompt(), request_, no_progress)
    labels = session_of(app, request_).labels
    with pytest.warns(UserWarning, match="nothing left to segment"):
        assert app.segment_everything(empty_prompt(), request_, no_progress) == only()
    assert session_of(app, request_).labels is labels


def adjacent_parts(mesh, labels, reach: float = 0.02) -> set:
    """Pairs (a, b), a < b, of parts with vertices closer than `reach` (normalised units;
    the drill's pieces share no vertices)."""
    from scipy.spatial import cKDTree

    points = mesh.triangles.reshape(-1, 3)
    owners = np.repeat(labels, 3)
    pairs = cKDTree(points).query_pairs(reach, output_type="ndarray")
    differ = owners[pairs[:, 0]] != owners[pairs[:, 1]]
    return {tuple(sorted(map(int, p))) for p in owners[pairs[differ]]}


def test_neighbouring_parts_of_the_drill_look_far_apart(app, request_):
    load(app, request_, SHOWCASE)
    session = session_of(app, request_)
    session.segment_everything()
    colours = {p.id: np.array(p.color[:3], float) for p in session.parts}
    pairs = adjacent_parts(session.mesh, session.labels)
    assert len(pairs) >= 5 and len(colours) >= 8  # many of its parts touch: every two must look apart
    distances = [np.linalg.norm(cielab(colours[a]) - cielab(colours[b])) for a in colours for b in colours if a < b]
    assert min(distances) > 40, distances  # CIELAB: 2.3 is just noticeable
    view = int(session.views.silhouette.reshape(12, -1).sum(1).argmax())  # and on the views, over the normal maps
    user = app.store.get(request_.session_hash)
    image = overlay_labels(user.base[view], session.views.face_ids[view], session.labels, {k: v for k, v in colours.items()})
    shown = session.views.pixel_labels(session.labels, view)
    means = {p: cielab(image[shown == p].mean(0)) for p in colours if (shown == p).sum() > 50}
    seen = [(a, b) for a, b in pairs if a in means and b in means]
    assert min(np.linalg.norm(means[a] - means[b]) for a, b in seen) > 25


def test_up_axis_setting_turns_the_views_and_the_viewer_shows_their_frame(app, request_, tmp_path):
    figure = trimesh.load(example("figure"), force="mesh")
    ply = tmp_path / "figure.ply"
    figure.apply_transform(np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])).export(ply)  # Y-up -> Z-up
    load(app, request_, ply)  # a PLY is read Z-up: the figure stands
    as_read = session_of(app, request_)
    load(app, request_, ply, up=Y_UP)
    turned = session_of(app, request_)
    assert np.allclose(turned.mesh.vertices[:, [0, 2]], as_read.mesh.vertices[:, [0, 1]], atol=1e-6)  # a quarter about X
    assert np.allclose(turned.mesh.file_vertices(), as_read.mesh.file_vertices(), atol=1e-6)  # the file's frame kept for exports
    load(app, request_, ply, up=Z_UP)
    segment(app, request_, on_part(app, request_, 0))
    glb = trimesh.load(app.pictures.viewer_glb(app.store.get(request_.session_hash), None), process=False)
    shown = np.concatenate([g.vertices for g in glb.dump()])
    expected = transform_points(session_of(app, request_).mesh.vertices, Z_UP_TO_Y_UP)
    assert np.allclose(np.sort(shown, axis=0), np.sort(expected, axis=0), atol=1e-5)  # the views' frame, glTF's Y up
