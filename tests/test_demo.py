"""The demo's callbacks (demo.callbacks.DemoApp) driven as the page drives them, at 256 px.

Each test is one user (a fake gr.Request with its own session hash) of one
module-wide DemoApp with the offline geometry segmenter. Results are checked
on the examples' scene parts (mesh.part_ids) and on the files the page gets.
"""

from __future__ import annotations

import inspect
import json
import types
import warnings
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import trimesh

from tests.browser import part_pixel
from demo.callbacks import DemoApp
from demo.images import NEGATIVE as RED, POSITIVE as GREEN, base_images
from demo.layout import EXAMPLES_DIR, SHOWCASE, build_demo, example_files, launch_options
from demo.gpu import spaces_gpu
from demo.model import GEOMETRY, GEOSAM2, SharedModel, load_shared_model
from demo.prompting import BOX, NEGATIVE, POSITIVE, empty_prompt
from demo.screen import DOWNLOADS, LOAD_OUTPUTS, OUTPUTS, TREE_BRANCH
from demo.state import DEMO_DEFAULTS
from geosam2.io.export import preview_face_colors
from geosam2.profiles import DEFAULT, OFFICIAL

RESOLUTION = 256
MAX_FACES = 5_000  # the examples and two of the real meshes fit, the largest real mesh does not


def no_progress(*args, **kwargs):
    pass


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> DemoApp:
    return DemoApp(SharedModel(), DEMO_DEFAULTS.with_values(demo_max_faces=MAX_FACES), temp_root=str(tmp_path_factory.mktemp("demo")))


@pytest.fixture
def request_(request):
    """A fake gr.Request of a user named after the test."""
    return types.SimpleNamespace(session_hash=request.node.name)


UNCHANGED = gr.skip()


def shown(outputs: tuple) -> dict:
    assert len(outputs) in (len(OUTPUTS), len(LOAD_OUTPUTS))
    return dict(zip(LOAD_OUTPUTS, outputs))


def value(update):
    """The value a handler gives a component, whether plain or inside a gr.update."""
    return update["value"] if isinstance(update, dict) and "__type__" in update else update


def download_files(app, request) -> dict:
    """Kind -> path of the files the download buttons hold once prepared (None: no file)."""
    return dict(zip(DOWNLOADS, app.downloads(request)))


def session_of(app, request):
    """The user's current session (Reset starts a new one)."""
    return app.store.get(request.session_hash).session


def load(app, request, path, resolution=RESOLUTION, point_maps=False) -> dict:
    return shown(app.load(str(path), app.page_settings(0.02, 5, resolution, GEOMETRY), point_maps, request, no_progress))


def example(name: str) -> Path:
    return EXAMPLES_DIR / f"{name}.glb"


def best_view(session, part: int) -> int:
    """The view showing scene part `part` with most pixels."""
    face_part = np.append(session.mesh.part_ids, -1)
    return int(np.argmax([(face_part[ids] == part).sum() for ids in session.views.face_ids]))


def click_part(app, request, prompt: dict, part: int, mode=POSITIVE) -> dict:
    """Click scene part `part` on the prompt's view; returns the new prompt."""
    session = app.store.get(request.session_hash).session
    xy = part_pixel(session.views.face_ids[prompt["view"]], session.mesh.part_ids, part)
    return shown(app.click(xy, mode, prompt, request))["prompt"]


def segment(app, request, prompt, part=None, refine=False, auto_complete=False) -> dict:
    return shown(app.segment(prompt, part, 0.02, auto_complete, refine, request, no_progress))


def face_colours(glb_path, session) -> np.ndarray:
    """(F, 3) uint8 colour of each face of `session`'s mesh in a coloured GLB the demo wrote."""
    return preview_face_colors(glb_path, session.labels, session.parts)[:, :3]


def on_part(app, request, part: int) -> dict:
    """Prompt on the view showing scene part `part` best, clicked on it."""
    session = app.store.get(request.session_hash).session
    view = best_view(session, part)
    prompt = shown(app.select_view(view, {"view": 0, "clicks": [], "box": []}, request))["prompt"]
    return click_part(app, request, prompt, part)


def test_load_example_shows_views_mesh_and_status(app, request_):
    screen = load(app, request_, example("chair"))
    session = session_of(app, request_)
    assert len(value(screen["gallery"])) == 12
    assert screen["prompt_image"].size == (RESOLUTION, RESOLUTION)
    look = trimesh.load(value(screen["viewer"]))  # the input's look until the first part
    assert sum(len(g.faces) for g in look.geometry.values()) == 72
    assert "chair, 72 faces, 12 views of 256 px" in screen["status"]
    assert "offline geometry segmenter" in screen["status"] and "cpu" in screen["status"]
    widest = session.views.silhouette.reshape(12, -1).sum(1).argmax()  # the first prompt is on the widest view
    assert screen["prompt"] == {"view": widest, "clicks": [], "box": []} and screen["gallery"]["selected_index"] == widest


def test_the_page_opens_on_the_official_textured_example(app, request_):
    assert example_files()[0] == SHOWCASE and inspect.signature(build_demo).parameters["preload"].default == SHOWCASE
    assert {"LICENSE", "NOTICE"} <= {p.name for p in SHOWCASE.parent.iterdir()}  # Apache-2.0: licence and notice beside it
    assert "Apache" in (SHOWCASE.parent / "LICENSE").read_text() and SHOWCASE.stat().st_size < 3_000_000
    screen = load(app, request_, SHOWCASE)
    assert "drill, 1,830 faces" in screen["status"]
    session = app.store.get(request_.session_hash).session
    assert len(session.mesh.part_names) == 7  # its glTF geometries
    bit = session.mesh.part_names.index("drill bit")
    prompt = on_part(app, request_, bit)
    segment(app, request_, prompt)
    (new,) = session.parts
    x, y = prompt["clicks"][0][:2]
    assert session.labels[session.views.face_ids[prompt["view"], int(y), int(x)]] == new.id


def test_segment_click_labels_the_clicked_part_in_views_3d_and_list(app, request_):
    load(app, request_, example("figure"))
    session = app.store.get(request_.session_hash).session
    head = session.mesh.part_names.index("head")
    prompt = on_part(app, request_, head)
    screen = segment(app, request_, prompt)
    (new,) = session.parts
    assert np.array_equal(session.labels == new.id, session.mesh.part_ids == head)
    colours = face_colours(screen["viewer"], session)  # the selected new part in its own colour
    assert (colours[session.mesh.part_ids == head] == new.color[:3]).all()
    assert not (colours[session.mesh.part_ids != head] == new.color[:3]).all(1).any()
    assert screen["parts"][0][:2] == [new.id, new.name] and screen["parts"][0][3] == round(100 * new.area_share, 1)
    assert screen["part"]["value"] == new.id and screen["prompt"]["clicks"] == []
    view = prompt["view"]  # the gallery shows the part's colour over its pixels
    pixels = np.append(session.labels, -1)[session.views.face_ids[view]] == new.id  # thumbnails are full size at 256 px
    thumb = np.asarray(value(screen["gallery"])[view][0])
    assert np.abs(thumb[pixels].astype(int) - base_images(session.views)[view][pixels]).max() > 30
    assert "Parts:** 1" in screen["status"]


def test_clicks_draw_markers_and_box_takes_two_clicks(app, request_):
    load(app, request_, example("figure"))
    session = app.store.get(request_.session_hash).session
    torso, head = session.mesh.part_names.index("torso"), session.mesh.part_names.index("head")
    prompt = click_part(app, request_, {"view": 0, "clicks": [], "box": []}, torso)
    screen = shown(app.click(part_pixel(session.views.face_ids[0], session.mesh.part_ids, head), NEGATIVE, prompt, request_))
    prompt, marked = screen["prompt"], np.asarray(screen["prompt_image"])
    assert [c[2] for c in prompt["clicks"]] == [True, False]
    image = np.asarray(shown(app.clear_prompt(prompt, request_))["prompt_image"])  # no marker
    for (x, y, positive) in prompt["clicks"]:
        assert tuple(marked[int(y), int(x)]) == (GREEN if positive else RED)
        assert tuple(image[int(y), int(x)]) != tuple(marked[int(y), int(x)])
    prompt = shown(app.clear_prompt(prompt, request_))["prompt"]
    assert prompt == {"view": 0, "clicks": [], "box": []}
    for xy in [(10, 20), (200, 220), (30, 40)]:
        prompt = shown(app.click(xy, BOX, prompt, request_))["prompt"]
    assert prompt["box"] == [[30.5, 40.5]]  # a third corner starts a new box


def test_box_segments_the_part_inside_it(app, request_):
    load(app, request_, example("figure"))
    session = app.store.get(request_.session_hash).session
    head = session.mesh.part_names.index("head")
    rows, columns = np.nonzero(np.append(session.mesh.part_ids, -1)[session.views.face_ids[0]] == head)
    prompt = {"view": 0, "clicks": [], "box": []}
    for xy in [(columns.min() - 2, rows.min() - 2), (columns.max() + 2, rows.max() + 2)]:
        prompt = shown(app.click(xy, BOX, prompt, request_))["prompt"]
    segment(app, request_, prompt)
    (new,) = session.parts
    assert np.array_equal(session.labels == new.id, session.mesh.part_ids == head)


def test_refine_inside_makes_a_child_and_auto_complete_labels_the_rest(app, request_):
    load(app, request_, example("figure"))
    session = app.store.get(request_.session_hash).session
    names = session.mesh.part_names
    torso, arm = names.index("torso"), names.index("arm_left")
    box = {"view": 0, "clicks": [], "box": [[0.5, 0.5], [RESOLUTION - 0.5, RESOLUTION - 0.5]]}
    whole = segment(app, request_, box)["part"]["value"]  # the whole figure
    assert (session.labels == whole).all()
    screen = segment(app, request_, on_part(app, request_, arm), part=whole, refine=True)
    child = max(p.id for p in session.parts)
    assert session.part(child).parent == whole and screen["part"]["value"] == whole  # the parent stays selected
    assert np.array_equal(session.labels == child, session.mesh.part_ids == arm)
    assert screen["parts"][-1][4] == session.part(whole).name  # the list shows the parent
    assert [row[1] for row in screen["parts"]] == [session.part(whole).name, TREE_BRANCH + session.part(child).name]  # as a tree
    app.reset(screen["prompt"], request_)
    session = session_of(app, request_)
    segment(app, request_, on_part(app, request_, torso))
    screen = shown(app.auto_complete(screen["prompt"], request_, no_progress))
    assert (session.labels >= 0).all() and len(session.parts) > 1
    assert "0.0 % of the surface unlabelled" in screen["status"]
    with pytest.warns(UserWarning, match="nothing to complete"):
        assert shown(app.auto_complete(screen["prompt"], request_, no_progress))["viewer"] == UNCHANGED


def test_auto_complete_setting_labels_everything_after_a_part(app, request_):
    load(app, request_, example("lamp"))
    session = app.store.get(request_.session_hash).session
    segment(app, request_, on_part(app, request_, session.mesh.part_names.index("pole")), auto_complete=True)
    assert (session.labels >= 0).all()


def test_undo_redo_reset(app, request_):
    load(app, request_, example("figure"))
    session = app.store.get(request_.session_hash).session
    names = session.mesh.part_names
    segment(app, request_, on_part(app, request_, names.index("head")))
    prompt = segment(app, request_, on_part(app, request_, names.index("torso")))["prompt"]
    labelled = session.labels.copy()
    assert len(shown(app.undo(prompt, request_))["parts"]) == 1
    screen = shown(app.redo(prompt, request_))
    assert len(screen["parts"]) == 2 and np.array_equal(session.labels, labelled)
    with pytest.warns(UserWarning, match="Nothing to redo"):
        app.redo(prompt, request_)
    screen = shown(app.reset(prompt, request_))
    assert (session_of(app, request_).labels < 0).all() and screen["parts"][0][1] == "no parts yet"
    assert download_files(app, request_) == dict.fromkeys(DOWNLOADS) and app.chart(request_) is None  # nothing to show
    assert screen["viewer"] == app.store.get(request_.session_hash).look  # the input's look again
    app.undo(prompt, request_)  # undo brings the parts back
    assert session_of(app, request_) is session and np.array_equal(session.labels, labelled)
    for _ in range(2):  # back to the start
        app.undo(prompt, request_)
    with pytest.warns(UserWarning, match="Nothing to undo"):
        app.undo(prompt, request_)


def test_select_part_highlights_it_and_views_and_point_maps(app, request_):
    load(app, request_, example("figure"))
    user = app.store.get(request_.session_hash)
    session, names = user.session, user.session.mesh.part_names
    segment(app, request_, on_part(app, request_, names.index("head")))
    screen = segment(app, request_, on_part(app, request_, names.index("torso")))
    head_part, torso_part = session.parts
    torso_faces = session.labels == torso_part.id
    glb = shown(app.select_part(head_part.id, request_))["viewer"]
    colours = face_colours(glb, session)
    assert (colours[session.labels == head_part.id] == head_part.color[:3]).all()
    assert not (colours[torso_faces] == torso_part.color[:3]).all(1).any()  # faded
    colours = face_colours(shown(app.select_part(None, request_))["viewer"], session)
    assert (colours[torso_faces] == torso_part.color[:3]).all()
    screen = shown(app.select_view(5, screen["prompt"], request_))
    assert screen["prompt"]["view"] == 5 and screen["gallery"] is not None
    on = shown(app.show_point_maps(True, screen["prompt"], request_))
    assert np.array_equal(user.base, base_images(session.views, point_maps=True))
    off = shown(app.show_point_maps(False, screen["prompt"], request_))
    assert not np.array_equal(np.asarray(on["prompt_image"]), np.asarray(off["prompt_image"]))
    assert np.asarray(off["prompt_image"]).shape == (RESOLUTION, RESOLUTION, 3)


def test_candidates_pick_one_as_a_mask_prompt(app, request_):
    load(app, request_, example("figure"))
    user = app.store.get(request_.session_hash)
    session, names = user.session, user.session.mesh.part_names
    head, arm = names.index("head"), names.index("arm_left")
    prompt = on_part(app, request_, head)
    gallery = app.candidates(prompt, None, False, request_)
    assert len(gallery) == 2  # the head, the whole figure
    assert [caption.split(", ")[1] for _, caption in gallery] == [f"score {s:.2f}" for s in user.candidates.scores]
    shares = [float(caption.split(" % ")[0]) for _, caption in gallery]  # of the object: the whole figure is 100 %
    assert shares[1] == 100 and 0 < shares[0] < 100
    prompt_image = np.asarray(app.pictures.prompt_image(user, prompt))
    changed = (np.asarray(gallery[0][0]) != prompt_image).any(-1)
    assert np.array_equal(changed, user.candidates.masks[0])  # the candidate is drawn over its pixels only
    screen = shown(app.pick_candidate(0, 0.02, False, request_, no_progress))
    assert np.array_equal(session.labels == screen["part"]["value"], session.mesh.part_ids == head)
    torso = names.index("torso")
    app.candidates(click_part(app, request_, {"view": 0, "clicks": [], "box": []}, torso), None, False, request_)
    head_part = session.labels[session.mesh.part_ids == head][0]
    whole = shown(app.pick_candidate(1, 0.02, False, request_, no_progress))["part"]["value"]
    assert np.array_equal(session.labels == whole, session.mesh.part_ids != head)  # the head keeps its part
    assert (session.labels[session.mesh.part_ids == head] == head_part).all()
    inside = app.candidates(on_part(app, request_, arm), whole, True, request_)  # candidates inside the whole figure
    assert len(inside) == 2 and user.candidates.parent == whole
    assert shown(app.pick_candidate(0, 0.02, False, request_, no_progress))["part"]["value"] == whole  # still selected
    child = max(p.id for p in session.parts)
    assert session.part(child).parent == whole
    assert np.array_equal(session.labels == child, session.mesh.part_ids == arm)
    assert app.candidates({"view": 0, "clicks": [], "box": []}, None, False, request_) == []
    with pytest.warns(UserWarning, match="out of date"):
        app.pick_candidate(0, 0.02, False, request_, no_progress)


def test_chart_and_downloads_hold_the_labelled_parts(app, request_):
    load(app, request_, example("figure"))
    session = app.store.get(request_.session_hash).session
    names = session.mesh.part_names
    for name in ("head", "torso"):
        segment(app, request_, on_part(app, request_, names.index(name)))
    (sunburst,) = app.chart(request_).data  # one wedge per part and one for the rest, in % of the surface
    assert list(sunburst.ids) == [str(p.id) for p in session.parts] + ["unlabelled"]
    assert sum(sunburst.values) == pytest.approx(100) and sunburst.values[0] == pytest.approx(100 * session.parts[0].area_share)
    paths = download_files(app, request_)
    colours = face_colours(paths["glb"], session)
    for part in session.parts:
        assert (colours[session.labels == part.id] == part.color[:3]).all()
    record = json.loads(Path(paths["json"]).read_text())
    assert np.array_equal(record["labels"], session.labels) and [p["name"] for p in record["parts"]] == [p.name for p in session.parts]
    scene = trimesh.load(paths["scene"])
    assert {p.name for p in session.parts} <= set(scene.graph.nodes)
    members = zipfile.ZipFile(paths["zip"]).namelist()
    assert {f"{p.name}.glb" for p in session.parts} <= set(members)
    assert download_files(app, request_) == paths  # no change since: not written again


def test_bad_inputs_give_messages_and_keep_the_work(app, request_, tmp_path, dev_set):
    load(app, request_, example("figure"))
    user = app.store.get(request_.session_hash)
    session = user.session
    prompt = on_part(app, request_, session.mesh.part_names.index("head"))
    segment(app, request_, prompt)
    labelled = session.labels.copy()
    cloud = tmp_path / "cloud.ply"
    trimesh.PointCloud(np.random.default_rng(0).random((100, 3))).export(cloud)
    corrupt = tmp_path / "broken.glb"
    corrupt.write_bytes(b"glTF" + bytes(range(256)) * 4)
    too_large = dev_set / "GT" / "7fa9a73e4fc4477d82c8d3dadeb72c65.glb"  # 20,752 faces
    for path, message in [(cloud, "no triangles"), (corrupt, "Could not read"), (too_large, "more than this demo's limit of 5,000")]:
        with pytest.warns(UserWarning, match=message) as warned:  # a warning, not an error: no "Error" badges on the page
            screen = load(app, request_, path)
        assert "current work is kept" in str(warned[0].message)
        if path == too_large:  # words for visitors: no command-line flag nor environment variable
            assert "--" not in str(warned[0].message) and "GEOSAM2_" not in str(warned[0].message)
        assert screen.pop("mesh_file") is None  # the refused file leaves the file box
        assert all(value == UNCHANGED for value in screen.values())  # the page shows the kept work as it was
        assert app.store.get(request_.session_hash) is user and np.array_equal(session.labels, labelled)
    assert all(value == UNCHANGED for value in load(app, request_, "").values())  # the cleared file box: nothing happens
    screen = segment(app, request_, on_part(app, request_, session.mesh.part_names.index("torso")))  # the page still works
    assert len(session.parts) == 2 and screen["status"] != UNCHANGED
    app.undo(screen["prompt"], request_)
    with pytest.warns(UserWarning, match="background"):
        screen = shown(app.click((0, 0), POSITIVE, {"view": 0, "clicks": [], "box": []}, request_))
    assert all(value == UNCHANGED for value in screen.values())
    with pytest.warns(UserWarning, match="Click on a part first"):
        segment(app, request_, {"view": 0, "clicks": [[5.5, 5.5, False]], "box": []})
    with pytest.warns(UserWarning, match="Select the part to refine"):
        segment(app, request_, prompt, part=None, refine=True)
    with pytest.warns(UserWarning, match="Load a mesh first"):
        screen = shown(app.undo(prompt, types.SimpleNamespace(session_hash="nobody")))
    assert all(value == UNCHANGED for value in screen.values())
    assert np.array_equal(session.labels, labelled)


def test_uploaded_real_mesh_is_segmented_at_the_click(app, request_, dev_set):
    path = dev_set / "GT" / "4d350186abc74076ae0c7d91d04a78fa.glb"  # 1,292 faces, ground-truth parts as colours
    screen = load(app, request_, path)
    assert "1,292 faces" in screen["status"]
    session = app.store.get(request_.session_hash).session
    face_ids = session.views.face_ids[0]
    x, y = part_pixel(face_ids, np.zeros(session.mesh.num_faces, int), 0)  # deep inside the object
    prompt = shown(app.click((x, y), POSITIVE, screen["prompt"], request_))["prompt"]
    segment(app, request_, prompt)
    (new,) = session.parts
    assert session.labels[face_ids[int(y), int(x)]] == new.id
    colours = face_colours(shown(app.select_part(None, request_))["viewer"], session)
    assert (colours[session.labels == new.id] == new.color[:3]).all()


def test_settings_reload_and_view_cache(app, request_):
    load(app, request_, example("mug"))
    first = app.store.get(request_.session_hash)
    segment(app, request_, on_part(app, request_, 0))
    screen = shown(app.reload(app.page_settings(0.05, 2, 384, GEOMETRY), False, request_, no_progress))
    user = app.store.get(request_.session_hash)
    assert user.session.views.resolution == 384 and user.session.pa == 0.05 and user.settings.run.samples_per_face == 2
    assert user.session.parts == () and screen["prompt_image"].size == (384, 384)
    assert not first.folder.exists()  # the replaced state's files are gone
    prepared = app.prepare(str(example("mug")), 384)
    assert user.session.views is prepared.views and user.session.mesh is prepared.mesh  # rendered once, shared
    app.unload(request_)
    assert app.store.get(request_.session_hash) is None and not user.folder.exists()


def test_status_says_how_to_get_weights_and_launch_options(offline, monkeypatch):
    model = load_shared_model()
    assert model.network is None and model.segmenters == [GEOMETRY]
    status = DemoApp(model).status(None)
    assert "offline geometry segmenter" in status and "GEOSAM2_CHECKPOINT" in status and "VAST-AI/GeoSAM2" in status
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    assert {k: launch_options()[k] for k in ("server_name", "server_port")} == {"server_name": "127.0.0.1", "server_port": 7860}
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    assert launch_options()["server_name"] == "0.0.0.0"
    try:
        import spaces  # noqa: F401
    except ImportError:
        assert spaces_gpu() is None and not model.encodes_at_start


@pytest.mark.slow
def test_geosam2_segmenter_runs_behind_the_page(request_):
    """The GeoSAM2 path with a tiny random network: candidates and Segment run and the
    session stays usable whatever the (random) masks are."""
    from geosam2.model import build_geosam2

    app = DemoApp(SharedModel(build_geosam2("tiny", 128).eval(), "cpu"))
    screen = shown(app.load(str(example("figure")), app.page_settings(0.02, 5, RESOLUTION, GEOSAM2), False, request_, no_progress))
    assert "GeoSAM2 on cpu" in screen["status"]
    session = app.store.get(request_.session_hash).session
    prompt = on_part(app, request_, session.mesh.part_names.index("torso"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights may find nothing: a message, not an error
        gallery = app.candidates(prompt, None, False, request_)
        screen = segment(app, request_, prompt)
    assert len(gallery) <= 3 and all(", score " in caption for _, caption in gallery)
    assert len(session.parts) == (screen["status"] != UNCHANGED)
    app.unload(request_)


def test_a_mesh_above_the_face_budget_is_segmented_on_a_proxy_and_downloaded_whole(tmp_path, request_):
    path = tmp_path / "ball.glb"
    trimesh.creation.icosphere(4).export(path)  # 5,120 faces
    app = DemoApp(SharedModel(), DEMO_DEFAULTS.with_values(face_budget=1_000), temp_root=str(tmp_path))
    try:
        screen = load(app, request_, path)
        session = app.store.get(request_.session_hash).session
        assert session.mesh.num_faces <= 1_100
        assert "ball, 5,120 faces (parts found on a simplified copy of" in screen["status"]
        shown(app.auto_complete(screen["prompt"], request_, no_progress))
        paths = download_files(app, request_)
        labels = np.array(json.loads(Path(paths["json"]).read_text())["labels"])  # of the full mesh
        colours = preview_face_colors(paths["glb"], labels, session.parts)[:, :3]
        assert len(colours) == 5_120 and (colours != 160).any(axis=1).all()  # every full face has a part's colour
    finally:
        app.close()


def test_segment_everything_and_the_profile_setting(app, request_):
    shown(app.load(str(example("chair")), app.page_settings(0.02, 5, RESOLUTION, GEOMETRY, "official"), False, request_, no_progress))
    user = app.store.get(request_.session_hash)
    assert user.settings.run.profile is OFFICIAL and user.session.profile is OFFICIAL
    screen = shown(app.segment_everything(empty_prompt(), request_, no_progress))
    assert user.session.parts and screen["parts"] is not UNCHANGED
    load(app, request_, example("chair"))  # the default: the release's network, the project's lifting
    assert app.store.get(request_.session_hash).session.profile is DEFAULT


def test_stop_cancels_the_long_segmenting_events(app):
    demo = build_demo(app, preload=None, sweep_seconds=3600)
    config = demo.get_config_file()
    ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
    stop = ids["stop"]
    by_id = {d["id"]: d for d in config["dependencies"]}
    on_stop = [d for d in config["dependencies"] if [stop, "click"] in [list(t) for t in d["targets"]]]
    cancelled = [by_id[i] for d in on_stop for i in d["cancels"]]
    cancelled_targets = {tuple(t) for d in cancelled for t in d["targets"]}
    for name in ("segment", "refine", "auto-complete", "segment-everything", "split"):
        assert (ids[name], "click") in cancelled_targets, name


def test_a_proxy_turned_to_another_up_axis_keeps_its_map_to_the_full_mesh(tmp_path):
    """The proxy's collapse map (which full face each proxy face was) holds on a turned
    mesh: without it the labels reach the full mesh by the slow closest-face search."""
    from demo.meshes import Y_UP, Z_UP, file_up_axis, load_mesh_workpiece

    path = tmp_path / "ball.glb"
    trimesh.creation.icosphere(4).export(path)  # 5,120 faces
    settings = DEMO_DEFAULTS.with_values(face_budget=1_000)
    other = Z_UP if file_up_axis(path.name) == Y_UP else Y_UP
    as_read, turned = load_mesh_workpiece(str(path), settings), load_mesh_workpiece(str(path), settings, other)
    assert as_read.proxy_map is not None and turned.on_proxy
    assert turned.proxy_map is as_read.proxy_map or np.array_equal(turned.proxy_map.sources, as_read.proxy_map.sources)
