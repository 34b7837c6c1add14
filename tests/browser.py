"""Drive the demo in Debian's headless Chromium with Playwright (browser test and bench).

`serve` starts a demo on a free 127.0.0.1 port in this process; `DemoPage`
performs what a user does on the page and waits for the server's answers.
"""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app, **build_options):
    """Launch `build_demo(app)` on 127.0.0.1 at a free port; yields its URL. Closes the
    server and `app` (its temporary folders) at the end."""
    from demo.layout import build_demo, launch_options

    demo = build_demo(app, **build_options)
    port = free_port()
    options = {**launch_options(), "server_name": "127.0.0.1", "server_port": port}
    demo.launch(**options, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
        app.close()


@contextmanager
def chromium(viewport=(1600, 1200)):
    """A new page in headless Chromium (downloads accepted)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
            yield page
        finally:
            browser.close()


def part_pixel(face_ids: np.ndarray, face_part: np.ndarray, part: int) -> tuple[float, float]:
    """(x, y) pixel centre inside the region of one view showing `part`, farthest from its border
    (`geosam2.segmenters.prompts.interior_point`).

    face_ids : (H, W) int, face per pixel (-1 background); face_part : (F,) part of each face;
    part -1 gives the background pixel farthest from the object and the image border.
    """
    from geosam2.segmenters.prompts import interior_point

    point = interior_point(np.append(face_part, -1)[face_ids] == part)
    if point is None:
        raise ValueError(f"part {part} is not visible on this view")
    return float(point[0]), float(point[1])


class DemoPage:
    """The demo page of one user. Timeouts in milliseconds."""

    def __init__(self, page, url: str, timeout: float = 60_000):
        self.page, self.url, self.timeout = page, url, timeout
        self.view = 0  # the view shown as the prompt image

    def open(self, preloaded: bool = True) -> None:
        """Open the page; with `preloaded`, wait until the example loaded at start is shown in 3D."""
        if preloaded:
            with self.page.expect_response(lambda r: "_look_" in r.url and r.url.endswith(".glb"), timeout=self.timeout):
                self.page.goto(self.url)
            self.page.wait_for_selector("#prompt-image img", timeout=self.timeout)
        else:
            self.page.goto(self.url)
            self.page.wait_for_selector("#prompt-image", timeout=self.timeout)
        self.view = self.shown_view()

    def pick_example(self, name: str) -> None:
        """Click an example and wait until its first view is the prompt image."""
        with self.page.expect_response(lambda r: f"{name}_look_" in r.url and r.url.endswith(".glb"), timeout=self.timeout):
            self.page.get_by_text(name, exact=True).first.click()
        self.page.wait_for_selector("#prompt-image img", timeout=self.timeout)
        self.view = self.shown_view()

    def shown_view(self) -> int:
        """The view the gallery highlights (the page opens a mesh on its widest view); 0 when none."""
        items = self.page.locator("#views .thumbnail-item")
        for i in range(items.count()):
            if "selected" in (items.nth(i).get_attribute("class") or ""):
                return i
        return 0

    def choose_view(self, view: int) -> None:
        """Open gallery view `view` as the prompt image (nothing to do if it is shown)."""
        if view == self.view:
            return
        before = self.page.locator("#prompt-image img").get_attribute("src")
        self.page.locator("#views .thumbnail-item").nth(view).click()
        self.page.wait_for_function(
            "src => document.querySelector('#prompt-image img').getAttribute('src') !== src", arg=before, timeout=self.timeout
        )
        self.view = view

    def click_prompt(self, x: float, y: float, resolution: int, timeout: float | None = None) -> None:
        """Click pixel (x, y) of the `resolution`-pixel prompt image and wait for its marker
        (at most `timeout`, default the page's)."""
        image = self.page.locator("#prompt-image img")
        self.page.wait_for_function(  # drawn, so that its box is the picture's
            "() => { const i = document.querySelector('#prompt-image img'); return i.complete && i.naturalWidth > 0; }",
            timeout=self.timeout,
        )
        before = image.get_attribute("src")
        box = image.bounding_box()
        scale = min(box["width"], box["height"]) / resolution  # square image, letterboxed by object-fit: contain
        left = box["x"] + (box["width"] - resolution * scale) / 2
        top = box["y"] + (box["height"] - resolution * scale) / 2
        self.page.mouse.click(left + x * scale, top + y * scale)
        self.page.wait_for_function(
            "src => document.querySelector('#prompt-image img').getAttribute('src') !== src",
            arg=before,
            timeout=self.timeout if timeout is None else timeout,
        )

    def segment(self, version: int) -> str:
        """Press Segment part and wait for the 3D view's GLB of labelling `version`; returns its URL."""
        with self.page.expect_response(lambda r: f"_view_{version}_" in r.url and r.url.endswith(".glb"), timeout=self.timeout) as answer:
            self.page.locator("#segment").click()
        return answer.value.url

    def download(self, name: str, folder) -> str:
        """Click download button `name` (see demo.callbacks.DOWNLOADS) once it has a file; returns the saved path."""
        button = self.page.locator(f"#download-{name}")
        deadline = time.monotonic() + self.timeout / 1000
        while True:
            try:
                with self.page.expect_download(timeout=2_000) as event:
                    button.click()
                break
            except Exception:  # the file is written just after the labelling: try again until it is there
                if time.monotonic() > deadline:
                    raise
        path = f"{folder}/{event.value.suggested_filename}"
        event.value.save_as(path)
        return path
