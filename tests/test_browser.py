"""The demo in a real browser: Debian's headless Chromium driven by Playwright.

A user opens the page (on the official drill example), uploads a broken file
(refused with a message, no error badges, the file box cleared), picks the
figure example, clicks its head on the view showing it best and presses Segment
part; the 3D viewer must receive a GLB coloured with the head as a part, and the
coloured-GLB download must hold it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser import CHROMIUM, DemoPage, chromium, part_pixel, serve
from demo.callbacks import DemoApp
from demo.model import SharedModel
from demo.state import DEMO_DEFAULTS
from geosam2.io.export import preview_face_colors
from geosam2.io.palette import UNLABELLED_COLOR

pytestmark = pytest.mark.browser
RESOLUTION = DEMO_DEFAULTS.resolution  # the page's default


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    app = DemoApp(SharedModel(), temp_root=str(tmp_path_factory.mktemp("demo")))
    with serve(app) as url:
        yield app, url


def face_colours(glb_path, session) -> np.ndarray:
    """(F, 3) uint8 colour of each face of `session`'s mesh in a coloured GLB the demo wrote."""
    return preview_face_colors(glb_path, session.labels, session.parts)[:, :3]


def pixels_nearest(image, colours) -> np.ndarray:
    """(len(colours),) count of the pixels of `image` (RGB) nearest to each of (K, 3) `colours`."""
    pixels = np.asarray(image.convert("RGB"), float).reshape(-1, 1, 3)
    nearest = np.argmin(np.linalg.norm(pixels - np.asarray(colours, float), axis=2), axis=1)
    return np.bincount(nearest, minlength=len(colours))


def test_click_segment_shows_the_part_in_3d_and_downloads_it(page_url, tmp_path):
    app, url = page_url
    corrupt = tmp_path / "broken.glb"
    corrupt.write_bytes(b"glTF" + bytes(range(256)) * 4)
    with chromium() as page:
        user = DemoPage(page, url)
        user.open(preloaded=True)
        assert "drill" in page.locator("#status").inner_text()  # the page opens on the official example

        page.locator("#mesh-file button[aria-label='Clear']").click()  # an empty file box changes nothing
        page.locator("#mesh-file input[type=file]").set_input_files(str(corrupt))  # refused: a message, the page stays usable
        page.locator(".toast-body", has_text="Could not read").first.wait_for(timeout=30_000)
        page.wait_for_function("() => !document.querySelector('#mesh-file').innerText.includes('broken.glb')", timeout=30_000)
        assert page.locator("span.error").count() == 0  # no "Error" badge on any component
        assert "drill" in page.locator("#status").inner_text()

        user.pick_example("figure")
        (session_hash,) = app.store.keys()
        session = app.store.get(session_hash).session
        head = session.mesh.part_names.index("head")
        face_part = np.append(session.mesh.part_ids, -1)
        view = int(np.argmax([(face_part[ids] == head).sum() for ids in session.views.face_ids]))
        user.choose_view(view)

        background = part_pixel(session.views.face_ids[view], np.zeros(session.mesh.num_faces, int), -1)
        with pytest.raises(Exception):  # a click on the background: a message, no marker
            user.click_prompt(*background, RESOLUTION, timeout=3_000)
        assert page.locator(".toast-body", has_text="background").count() >= 1

        x, y = part_pixel(session.views.face_ids[view], session.mesh.part_ids, head)
        user.click_prompt(x, y, RESOLUTION)
        page.wait_for_selector("#candidates .thumbnail-item", timeout=30_000)  # candidates for the click
        glb_url = user.segment(version=1)
        page.wait_for_selector("#chart .js-plotly-plot", timeout=30_000)  # the chart follows the mesh
        page.wait_for_timeout(1_000)  # let the 3D view draw the new mesh before the screenshot
        page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)

        (part,) = session.parts
        clicked_face = session.views.face_ids[view, int(y), int(x)]
        viewer_glb = tmp_path / "viewer.glb"
        viewer_glb.write_bytes(page.request.get(glb_url).body())
        colours = face_colours(viewer_glb, session)
        assert (colours[clicked_face] == part.color[:3]).all()
        assert np.array_equal((colours == part.color[:3]).all(1), session.mesh.part_ids == head)
        # the 3D view draws the part in its colour, not in its colour times itself (what viewers
        # show when a file carries the colour both as vertex colours and as material colour)
        colour, grey = np.array(part.color[:3], float), UNLABELLED_COLOR[:3].astype(float)
        shown = Image.open(io.BytesIO(page.locator("#viewer canvas").screenshot()))
        counts = pixels_nearest(shown, [colour, colour * colour / 255, grey, grey * grey / 255, (255, 255, 255)])
        assert counts[0] > 500 and counts[1] < counts[0] / 10, counts

        downloaded = user.download("glb", tmp_path)
        colours = face_colours(downloaded, session)
        assert np.array_equal((colours == part.color[:3]).all(1), session.mesh.part_ids == head)
        assert "Parts:** 1" not in page.locator("#status").inner_text()  # rendered markdown, not source
        assert "Parts: 1" in page.locator("#status").inner_text()


MAIN_FLOW = ("#views", "#prompt-image", "#segment", "#refine", "#viewer", "#download-json")


def clipped_or_below(page, width: int, height: int) -> dict:
    """The main flow's elements that stick out of the `width` x `height` viewport, and the
    galleries whose thumbnails scroll sideways."""
    boxes = {selector: page.locator(selector).bounding_box() for selector in MAIN_FLOW}
    out = {s: b for s, b in boxes.items() if b is None or b["x"] + b["width"] > width + 1 or b["y"] + b["height"] > height + 1}
    sideways = page.evaluate(
        "() => [...document.querySelectorAll('#views .grid-container, #candidates .grid-container')]"
        ".filter(g => g.scrollWidth > g.clientWidth + 1).map(g => g.closest('[id]').id)"
    )
    return {**out, **{f"{s} scrolls sideways": None for s in sideways}}


def hidden_first_row(page, gallery: str = "#views") -> list:
    """The thumbnails of the first row of `gallery` (a CSS selector) not fully visible: under
    the gallery's floating label, or cut by the gallery's box; one line each."""
    return page.evaluate(
        """selector => {
        const gallery = document.querySelector(selector), box = gallery.getBoundingClientRect();
        const label = gallery.querySelector('label').getBoundingClientRect();
        const items = [...gallery.querySelectorAll('.thumbnail-item')];
        const top = Math.min(...items.map(i => i.getBoundingClientRect().top));
        const apart = (a, b) => a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
        return items.map((item, i) => [i, item.getBoundingClientRect()])
          .filter(([i, r]) => r.top < top + 1)
          .filter(([i, r]) => !apart(r, label) || r.top < box.top || r.bottom > box.bottom || r.left < box.left || r.right > box.right)
          .map(([i, r]) => `thumbnail ${i} at ${r.top.toFixed(0)}-${r.bottom.toFixed(0)}, label ${label.top.toFixed(0)}-${label.bottom.toFixed(0)}`);
        }""",
        gallery,
    )


@pytest.mark.parametrize("width, height", [(1280, 800), (1440, 900), (1920, 1080)])
def test_the_first_row_of_views_and_candidates_is_fully_visible(page_url, width, height):
    app, url = page_url
    with chromium((width, height)) as page:
        user = DemoPage(page, url)
        user.open(preloaded=True)
        assert hidden_first_row(page) == []
        session = app.store.get(app.store.keys()[-1]).session
        face_ids = session.views.face_ids[user.view]
        user.click_prompt(*part_pixel(face_ids, np.zeros(session.mesh.num_faces, int), 0), RESOLUTION)
        page.wait_for_selector("#candidates .thumbnail-item", timeout=30_000)
        assert hidden_first_row(page, "#candidates") == []


def test_layout_fits_and_downloads_hold_the_parts_shown_after_quick_changes(page_url, tmp_path):
    app, url = page_url
    with chromium((1920, 1080)) as page:
        DemoPage(page, url).open(preloaded=True)
        assert clipped_or_below(page, 1920, 1080) == {}
    with chromium((1280, 800)) as page:
        user = DemoPage(page, url)
        user.open(preloaded=True)
        assert clipped_or_below(page, 1280, 800) == {}
        session = app.store.get(app.store.keys()[-1]).session
        assert user.view == int(session.views.silhouette.reshape(12, -1).sum(1).argmax())  # the widest view first
        pieces = np.bincount(np.append(session.mesh.part_ids, -1)[session.views.face_ids[user.view]].ravel() + 1)[1:]
        for version, piece in enumerate(np.argsort(pieces)[::-1][:3], start=1):  # three quick parts, no waiting for files
            user.click_prompt(*part_pixel(session.views.face_ids[user.view], session.mesh.part_ids, int(piece)), RESOLUTION)
            user.segment(version)
        assert "preparing" in page.locator("#download-json").inner_text()
        record = json.loads(Path(user.download("json", tmp_path)).read_text())
        assert len(session.parts) == 3 and np.array_equal(record["labels"], session.labels)
        page.locator("#reset").click()
        page.wait_for_function("() => document.querySelector('#status').innerText.includes('Parts: 0')", timeout=30_000)
        with page.expect_response(lambda r: "_view_5_None.glb" in r.url, timeout=60_000):
            page.locator("#segment-everything").click()
        session = app.store.get(app.store.keys()[-1]).session
        record = json.loads(Path(user.download("json", tmp_path)).read_text())
        assert np.array_equal(record["labels"], session.labels) and [p["name"] for p in record["parts"]][0] == "part_0"
        page.screenshot(path=str(tmp_path / "demo_1280.png"), full_page=True)


def test_levels_and_prompt_files_on_the_page(page_url, tmp_path):
    app, url = page_url
    with chromium() as page:
        user = DemoPage(page, url)
        user.open(preloaded=True)
        session = app.store.get(app.store.keys()[-1]).session
        face_ids = session.views.face_ids[user.view]
        pieces = np.bincount(np.append(session.mesh.part_ids, -1)[face_ids].ravel() + 1)[1:]
        a, b = (part_pixel(face_ids, session.mesh.part_ids, int(p)) for p in np.argsort(pieces)[::-1][:2])
        release = [[x * 1024 / RESOLUTION, y * 1024 / RESOLUTION] for x, y in (a, b)]  # the release's 1024-px pixels
        files = {
            "coarse": [{"frame_idx": user.view, "obj_id": 1, "point": point, "label": 1} for point in release],
            "fine": [{"frame_idx": user.view, "obj_id": k + 1, "point": point, "label": 1} for k, point in enumerate(release)],
        }
        paths = []
        for stem, entries in files.items():
            paths.append(tmp_path / f"{stem}.json")
            paths[-1].write_text(json.dumps(entries))
        page.locator("#prompt-files input[type=file]").set_input_files([str(p) for p in paths])
        page.wait_for_function("() => document.querySelector('#status').innerText.includes('Parts: 3')", timeout=60_000)
        table = page.locator("#parts").inner_text()
        assert table.count("coarse_obj1") == 3  # the parent, and in the parent column of its two children
        page.screenshot(path=str(tmp_path / "prompt_files.png"), full_page=True)

        page.locator("#reset").click()
        page.wait_for_function("() => document.querySelector('#status').innerText.includes('Parts: 0')", timeout=30_000)
        page.locator("#segment-everything").click()
        page.wait_for_function("() => document.querySelector('#levels').innerText.includes('Level ')", timeout=60_000)
        session = app.store.get(app.store.keys()[-1]).session
        first = int(page.locator("#levels").inner_text().split("Level ")[1].split()[0])
        page.locator("#finer").click()
        page.wait_for_function(f"() => document.querySelector('#levels').innerText.includes('Level {first + 1} ')", timeout=30_000)
        page.wait_for_function(f"() => document.querySelector('#status').innerText.includes('Parts: {len(session.parts)};')", timeout=30_000)
        page.locator("#undo").click()
        page.wait_for_function(f"() => document.querySelector('#levels').innerText.includes('Level {first} ')", timeout=30_000)
