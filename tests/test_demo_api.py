"""The demo's HTTP API as a client sees it (gradio_client against a server on 127.0.0.1):
only the endpoints meant for API use are listed, and they work end to end."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import httpx
import numpy as np
import pytest
import trimesh
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.browser import part_pixel, serve
from demo.callbacks import DemoApp
from demo.guard import closed_by_heartbeat
from demo.layout import EXAMPLES_DIR, PUBLIC_API
from demo.model import GEOMETRY, SharedModel

RESOLUTION = 256


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = DemoApp(SharedModel(), temp_root=str(tmp_path_factory.mktemp("demo")))
    with serve(app, preload=None) as url:
        yield app, url


def test_only_public_endpoints_are_listed(server):
    app, url = server
    client = Client(url, verbose=False)
    assert set(client.view_api(return_format="dict", print_info=False)["named_endpoints"]) == {f"/{name}" for name in PUBLIC_API}
    with pytest.raises(ValueError):
        client.predict(api_name="/on_click")


def test_load_segment_and_download_from_a_client(server):
    app, url = server
    client = Client(url, verbose=False)
    client.predict(handle_file(str(EXAMPLES_DIR / "figure.glb")), 0.02, 5, RESOLUTION, GEOMETRY, False, False, api_name="/load")
    session = app.store.get(client.session_hash).session  # the client's calls share one session hash
    head = session.mesh.part_names.index("head")
    x, y = part_pixel(session.views.face_ids[0], session.mesh.part_ids, head)
    result = client.predict(0, [[x, y, 1]], [], None, api_name="/segment_prompt")
    (part,) = session.parts
    assert result["parts"] == [{"id": part.id, "name": part.name, "parent": None, "surface_percent": round(100 * part.area_share, 1)}]
    assert np.array_equal(session.labels == part.id, session.mesh.part_ids == head)
    assert result["unlabelled_percent"] == pytest.approx(100 - result["parts"][0]["surface_percent"], abs=0.11)
    files = client.predict(api_name="/downloads")
    record = json.loads(Path(files[3]).read_text())  # glb, scene, zip, json
    assert np.array_equal(record["labels"], session.labels)
    with pytest.raises(Exception, match="background"):  # a user error comes back as its message
        client.predict(0, [[0.5, 0.5, 1]], [], None, api_name="/segment_prompt")
    client.predict(api_name="/undo")
    assert session.parts == ()


def test_private_events_cannot_be_called_by_name(server):
    """/gradio_api/call/<name> of a private event (the page's unload: it drops the named
    session) is refused; the user's state stays; a public one is still served."""
    app, url = server
    client = Client(url, verbose=False)
    client.predict(handle_file(str(EXAMPLES_DIR / "figure.glb")), 0.02, 5, RESOLUTION, GEOMETRY, False, False, api_name="/load")
    body = {"data": [], "session_hash": client.session_hash}
    for name in ("unload", "on_click", "v2/unload"):
        response = httpx.post(f"{url}gradio_api/call/{name}", json=body, timeout=30)
        assert response.status_code == 404, name
        time.sleep(0.5)  # an event accepted would have run by now
        assert app.store.get(client.session_hash) is not None
    assert httpx.post(f"{url}gradio_api/call/undo", json={"data": [None]}, timeout=30).status_code == 200


def test_only_the_heartbeat_ending_unloads_a_page():
    def request(path):
        return SimpleNamespace(session_hash="abc", request=SimpleNamespace(url=SimpleNamespace(path=path)))

    assert closed_by_heartbeat(request("/gradio_api/heartbeat/abc"))
    assert not closed_by_heartbeat(request("/gradio_api/heartbeat/other"))
    assert not closed_by_heartbeat(request("/gradio_api/queue/join"))
    assert not closed_by_heartbeat(SimpleNamespace(session_hash="abc"))


def test_bad_files_and_prompts_from_a_client_get_clear_errors(server, tmp_path):
    app, url = server
    client = Client(url, verbose=False)
    client.predict(handle_file(str(EXAMPLES_DIR / "figure.glb")), 0.02, 5, RESOLUTION, GEOMETRY, False, False, api_name="/load")
    session = app.store.get(client.session_hash).session
    cloud = tmp_path / "cloud.ply"
    trimesh.PointCloud(np.random.default_rng(0).random((100, 3))).export(cloud)
    empty, corrupt = tmp_path / "empty.glb", tmp_path / "broken.glb"
    empty.write_bytes(b"")
    corrupt.write_bytes(b"glTF" + bytes(range(256)) * 4)
    for path, words in [(cloud, "point cloud"), (empty, "empty.glb"), (corrupt, "broken.glb")]:
        with pytest.raises(AppError, match="current work is kept") as refused:
            client.predict(handle_file(str(path)), 0.02, 5, RESOLUTION, GEOMETRY, False, False, api_name="/load")
        assert words in str(refused.value)
    assert app.store.get(client.session_hash).session is session  # the work stays
    x, y = part_pixel(session.views.face_ids[0], session.mesh.part_ids, 0)
    for view, clicks, box, words in [
        (0, [[x, y]], [], "x, y, positive"),
        ("front", [[x, y, 1]], [], "view number"),
        (0, [], [1, 2, 3], "x0, y0, x1, y1"),
    ]:
        with pytest.raises(AppError, match=words):
            client.predict(view, clicks, box, None, api_name="/segment_prompt")
    with pytest.raises(gr.Error, match="finite numbers"):  # JSON has no NaN: a raw request's NaN, as the server reads it
        app.api_segment(0, [[float("nan"), y, 1]], [], None, SimpleNamespace(session_hash=client.session_hash))
    assert session.parts == ()


def test_an_automatic_step_finding_nothing_tells_the_client(server):
    app, url = server
    client = Client(url, verbose=False)
    client.predict(handle_file(str(EXAMPLES_DIR / "figure.glb")), 0.02, 5, RESOLUTION, GEOMETRY, False, False, api_name="/load")
    client.predict(api_name="/segment_everything")
    session = app.store.get(client.session_hash).session
    parts = session.parts
    assert parts and (session.labels >= 0).all()
    with pytest.raises(AppError, match="nothing to complete"):
        client.predict(api_name="/auto_complete")
    with pytest.raises(AppError, match="nothing left to segment"):
        client.predict(api_name="/segment_everything")
    assert session.parts == parts
