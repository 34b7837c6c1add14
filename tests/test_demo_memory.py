"""What the demo keeps in memory: the per-user store's bounds, the shared mesh cache and
GeoSAM2's features encoded once per mesh for every visitor, the memory settings, and
how the shared model is loaded (what falls back, what propagates)."""

from __future__ import annotations

import gc
import shutil
import threading
import types
import warnings
import weakref

import numpy as np
import pytest
import torch

from demo.callbacks import DemoApp
from demo.layout import EXAMPLES_DIR, SHOWCASE, build_demo, example_files
from demo.memory import held_bytes
from demo.model import GEOSAM2, SharedModel, load_shared_model
from demo.screen import tree_order
from demo.state import DEMO_DEFAULTS, PageSettings, Store, UserState, demo_settings
from geosam2.settings import MB, SettingsError

SIZE = 64  # tiny network: view resolution and network input size


def no_progress(*args, **kwargs):
    pass


def user_state(folder, megabytes: float) -> UserState:
    """A stand-in user state holding `megabytes` of arrays, with its folder made."""
    folder.mkdir()
    (folder / "viewer.glb").write_bytes(b"x")
    return UserState(np.zeros(int(megabytes * MB), np.uint8), PageSettings(), "mesh.glb", folder, np.zeros((1, 1, 1, 3), np.uint8))


def test_store_drops_least_recently_used_and_idle_states_with_their_folders(tmp_path):
    now = [0.0]
    store = Store(max_bytes=int(3.5 * MB), idle_seconds=60, clock=lambda: now[0])
    users = {key: user_state(tmp_path / key, 1.0) for key in "abcd"}
    for key in "abc":
        store.put(key, users[key])
    assert store.keys() == ["a", "b", "c"] and 3 * MB < store.nbytes < 3.5 * MB
    now[0] = 10.0
    assert store.get("a") is users["a"]  # "b" is now the least recently used
    freed = weakref.ref(users.pop("b"))
    store.put("d", users["d"])  # over budget: "b" goes, with its folder and its memory
    assert store.keys() == ["c", "a", "d"] and not (tmp_path / "b").exists()
    gc.collect()
    assert freed() is None  # nothing else holds the dropped state
    now[0] = 65.0  # "c" unused for more than 60 s
    assert store.get("a") is users["a"]
    assert store.keys() == ["d", "a"] and not (tmp_path / "c").exists() and (tmp_path / "d").exists()
    now[0] = 120.0
    store.sweep()  # what the server's sweeper thread does every minute: "d" unused for 110 s
    assert store.keys() == ["a"] and not (tmp_path / "d").exists()
    now[0] = 200.0
    assert store.get("a") is None and store.keys() == [] and not (tmp_path / "a").exists()  # idle, even for its own user


def test_replacing_a_state_removes_its_folder_and_clear_removes_all(tmp_path):
    store = Store()
    first, second, other = (user_state(tmp_path / name, 0.1) for name in ("first", "second", "other"))
    store.put("u", first)
    store.put("v", other)
    store.put("u", second)
    assert store.get("u") is second and not first.folder.exists() and second.folder.exists()
    store.clear()
    assert store.keys() == [] and not second.folder.exists() and not other.folder.exists()


def test_held_bytes_counts_each_array_once_and_not_networks():
    array = np.zeros(1000, np.float32)
    holder = types.SimpleNamespace(array=array)  # not a project object: not followed
    network = torch.nn.Linear(100, 100)
    state = UserState([array, array, {"again": array}], PageSettings(), "", None, np.zeros(10, np.uint8), thumbnails=[holder])
    assert held_bytes(state) == 4000 + 10
    assert held_bytes([torch.zeros(5, dtype=torch.float64), network]) == 40


def test_server_settings_from_environment():
    settings = demo_settings(
        {"GEOSAM2_DEMO_CACHE_MB": "256", "GEOSAM2_DEMO_STORE_MB": "512.5", "GEOSAM2_DEMO_IDLE_MINUTES": "2", "GEOSAM2_MAX_FACES": "1000"}
    )
    assert settings == DEMO_DEFAULTS.with_values(cache_mb=256, store_mb=512.5, idle_minutes=2, max_faces=1000)
    assert (settings.cache_bytes, settings.store_bytes, settings.idle_seconds) == (256 * MB, int(512.5 * MB), 120.0)
    assert demo_settings({}) == DEMO_DEFAULTS and DEMO_DEFAULTS.resolution == 512
    with pytest.raises(SettingsError, match="GEOSAM2_DEMO_STORE_MB='lots'"):
        demo_settings({"GEOSAM2_DEMO_STORE_MB": "lots"})
    with pytest.raises(SettingsError, match="above 0"):
        demo_settings({"GEOSAM2_DEMO_IDLE_MINUTES": "0"})


def test_mesh_cache_is_keyed_by_content_and_resolution_and_bounded(tmp_path):
    app = DemoApp(SharedModel(), DEMO_DEFAULTS.with_values(cache_mb=1 / MB), temp_root=str(tmp_path))  # room for the latest mesh only
    copy = tmp_path / "renamed.glb"
    shutil.copy(EXAMPLES_DIR / "chair.glb", copy)
    chair = app.prepare(str(EXAMPLES_DIR / "chair.glb"), SIZE)
    assert app.prepare(str(copy), SIZE) is chair  # same content, another file: the same prepared mesh
    assert app.prepare(str(copy), 2 * SIZE) is not chair  # other render settings: rendered anew
    assert len(app.meshes) == 1 and app.prepare(str(copy), SIZE) is not chair  # the budget held one mesh
    app.close()
    assert not app.folder.exists()


def test_tree_order_puts_children_under_their_parent():
    parts = [types.SimpleNamespace(id=i, parent=parent) for i, parent in [(0, None), (1, None), (2, 0), (3, 2), (4, 0)]]
    assert [(p.id, depth) for p, depth in tree_order(parts)] == [(0, 0), (2, 1), (3, 2), (4, 1), (1, 0)]


def test_missing_or_unreadable_weights_fall_back_and_say_why_bugs_propagate(tmp_path, monkeypatch):
    broken = tmp_path / "geosam2.pt"
    broken.write_bytes(b"not a checkpoint")
    for path, reason in [(broken, "not a readable PyTorch checkpoint"), (tmp_path / "absent.pt", "does not exist")]:
        model = load_shared_model(str(path))
        assert model.network is None and reason in model.note
        assert reason in DemoApp(model, temp_root=str(tmp_path)).status(None)  # the status line says what failed

    def out_of_memory(checkpoint=None, device=None):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr("geosam2.model.load_geosam2", out_of_memory)
    with pytest.raises(RuntimeError, match="CUDA out of memory"):  # not a user's problem: not hidden behind a fallback
        load_shared_model(str(broken))


@pytest.fixture
def tiny_model(one_thread, monkeypatch):
    """A Hiera-T GeoSAM2 at 64 px with random weights, its encoders counting the views they encode."""
    from geosam2.model import build_geosam2

    torch.manual_seed(0)
    model = build_geosam2("tiny", SIZE).eval()
    model.encoded = {"image_encoder": 0, "pos_map_encoder": 0}
    for name in model.encoded:
        encoder = getattr(model, name)

        def counted(x, forward=encoder.forward, name=name):
            model.encoded[name] += len(x)
            return forward(x)

        monkeypatch.setattr(encoder, "forward", counted)
    return model


def visit(app, visitor: str, path, resolution: int = SIZE) -> None:
    """A visitor loads `path` with GeoSAM2 and segments with a click on view 0."""
    request = types.SimpleNamespace(session_hash=visitor)
    app.load(str(path), app.page_settings(0.02, 5, resolution, GEOSAM2), False, request, no_progress)
    session = app.store.get(visitor).session
    row, column = np.argwhere(session.views.face_ids[0] >= 0).mean(0).astype(int)  # near the object's middle
    prompt = {"view": 0, "clicks": [[column + 0.5, row + 0.5, True]], "box": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights may find nothing: a message, not an error
        app.candidates(prompt, None, False, request)
        app.segment(prompt, None, 0.02, False, False, request, no_progress)


def test_visitors_of_a_mesh_share_its_features_encoded_once_at_start(tiny_model, tmp_path):
    app = DemoApp(SharedModel(tiny_model, "cpu"), temp_root=str(tmp_path))
    figure, mug = EXAMPLES_DIR / "figure.glb", EXAMPLES_DIR / "mug.glb"
    app.warm_up([figure], SIZE)  # what the server does at start for its examples
    assert tiny_model.encoded == {"image_encoder": 12, "pos_map_encoder": 12}
    for visitor in ("first", "second"):
        visit(app, visitor, figure)
    copy = tmp_path / "uploaded.glb"
    shutil.copy(figure, copy)
    visit(app, "third", copy)  # the same mesh uploaded under another name
    assert tiny_model.encoded == {"image_encoder": 12, "pos_map_encoder": 12}
    visit(app, "fourth", mug)  # another mesh: its own features, once
    visit(app, "fifth", mug)
    assert tiny_model.encoded == {"image_encoder": 24, "pos_map_encoder": 24}
    assert app.prepare(str(mug), SIZE).encoded
    app.close()


def test_feature_cache_is_bounded_over_meshes(tiny_model, tmp_path):
    figure, mug, chair = (EXAMPLES_DIR / f"{name}.glb" for name in ("figure", "mug", "chair"))
    app = DemoApp(SharedModel(tiny_model, "cpu"), temp_root=str(tmp_path))
    one_mesh = app.prepare(str(figure), SIZE)
    app.model.encode(one_mesh)
    app.meshes.max_bytes = int(1.5 * one_mesh.nbytes)  # room for one encoded mesh
    assert app.warm_up([figure, mug, chair], SIZE) == 1  # a second example would drop the first: not warmed
    assert tiny_model.encoded["image_encoder"] == 12
    visit(app, "first", mug)  # a visitor's mesh drops the figure (least recently used)
    assert len(app.meshes) == 1 and tiny_model.encoded["image_encoder"] == 24
    visit(app, "second", figure)  # its features went with it: encoded again
    assert tiny_model.encoded["image_encoder"] == 36 and len(app.meshes) == 1
    app.close()


@pytest.mark.slow
def test_the_server_encodes_its_examples_once_at_start(tiny_model, tmp_path):
    app = DemoApp(SharedModel(tiny_model, "cpu"), temp_root=str(tmp_path))
    build_demo(app)  # returns at once: the encoding runs in a background thread
    (encoding,) = [t for t in threading.enumerate() if t.name == "geosam2-demo-encode"]
    encoding.join(timeout=300)
    examples = example_files()
    assert tiny_model.encoded == {"image_encoder": 12 * len(examples), "pos_map_encoder": 12 * len(examples)}
    assert app.prepare(str(SHOWCASE), DEMO_DEFAULTS.resolution).encoded
    visit(app, "visitor", SHOWCASE, DEMO_DEFAULTS.resolution)  # the page's first mesh, at the page's resolution
    assert tiny_model.encoded["image_encoder"] == 12 * len(examples)  # nothing encoded for the visitor
    app.close()


def test_a_state_in_use_is_neither_evicted_nor_its_folder_removed(tmp_path):
    now = [0.0]
    store = Store(max_bytes=int(1.5 * MB), idle_seconds=60, clock=lambda: now[0])
    first, second = user_state(tmp_path / "a", 1.0), user_state(tmp_path / "b", 1.0)
    store.put("a", first)
    with store.holding("a") as held:
        assert held is first
        store.put("b", second)  # over budget, but "a" is in use
        now[0] = 100.0
        store.sweep()  # idle, but in use
        assert "a" in store.keys() and first.folder.exists()
        store.put("a", user_state(tmp_path / "a2", 0.1))  # replaced (another mesh loaded) while in use
        assert first.folder.exists()
    assert not first.folder.exists()  # gone when the event ends


def test_loading_another_mesh_while_an_event_runs_lets_the_event_finish(tmp_path):
    app = DemoApp(SharedModel(), DEMO_DEFAULTS.with_values(resolution=256), temp_root=str(tmp_path))
    request = types.SimpleNamespace(session_hash="visitor")
    page = app.page_settings(0.02, 5, 256, "Offline geometry")
    app.load(str(EXAMPLES_DIR / "figure.glb"), page, False, request, no_progress)
    user = app.store.get("visitor")
    started, go_on = threading.Event(), threading.Event()
    segment_everything = user.session.segment_everything

    def slow(steps=None):
        started.set()
        go_on.wait(30)
        return segment_everything(steps)

    user.session.segment_everything = slow
    results = []
    event = threading.Thread(target=lambda: results.append(app.segment_everything({"view": 0, "clicks": [], "box": []}, request, no_progress)))
    event.start()
    started.wait(30)
    app.load(str(EXAMPLES_DIR / "mug.glb"), page, False, request, no_progress)  # the same user loads another mesh
    go_on.set()
    event.join(60)
    assert results and len(results[0]) > 1  # the event finished and drew its screen (its folder was still there)
    assert not user.folder.exists() and app.store.get("visitor") is not user
    app.close()


def test_a_loaded_mesh_keeps_its_file_when_the_upload_is_deleted(tmp_path):
    """Gradio deletes its cached uploads after a while: Apply must still read the mesh."""
    app = DemoApp(SharedModel(), DEMO_DEFAULTS.with_values(resolution=256), temp_root=str(tmp_path))
    request = types.SimpleNamespace(session_hash="visitor")
    upload = tmp_path / "upload" / "figure.glb"
    upload.parent.mkdir()
    shutil.copy(EXAMPLES_DIR / "figure.glb", upload)
    app.load(str(upload), app.page_settings(0.02, 5, 256, "Offline geometry"), False, request, no_progress)
    upload.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no gr.Warning either
        screen = app.reload(app.page_settings(0.02, 5, 384, "Offline geometry"), False, request, no_progress)
    assert app.store.get("visitor").session.views.resolution == 384 and len(screen) > 1
    app.close()
