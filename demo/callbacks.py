"""What the page's events do: thin calls into geosam2.pipeline.session, returning what to show.

Every event handler of the page is a method of ``DemoApp`` and returns one value
per name in ``OUTPUTS`` (``gr.skip()`` for what it leaves unchanged), except
``downloads`` (one path per name in ``DOWNLOADS``), ``chart`` and ``candidates``,
which the page runs after the labelling changed or the prompt did, so that the
coloured mesh is shown first. User mistakes (a `GeoSAM2Error`: a file that is
not a mesh, a click on the background, no mesh loaded) show their message as a
``gr.Warning`` and leave the page and the user's work as they were (no error
badges on the components); anything else is a bug and propagates.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

import gradio as gr
import numpy as np

from geosam2.errors import GeoSAM2Error, PromptError
from geosam2.io.digest import file_sha256
from geosam2.pipeline.workspace import Workspace
from geosam2.render import describe_backend
from geosam2.segmenters.prompts import Prompt
from geosam2.segmenters.steps import Steps

from .chart import parts_sunburst
from .images import base_images, overlay_mask
from .meshes import UP_AXES, MeshCache, PreparedMesh
from . import downloads
from .editing import EditingEvents
from .hierarchy import HierarchyEvents, level_line, segment_everything_in_levels
from .model import SharedModel
from .prompting import api_prompt, empty_prompt, to_prompt, with_click
from .screen import OUTPUTS, Pictures, camera_on_view, widest_view, mesh_status, only, parts_rows, tree_order, unlabelled_share, user_errors
from .state import Candidates, NoMeshError, PageSettings, Store, UserState, demo_settings, edited, holding_user


def own_copy(path: str, folder: Path) -> str:
    """A copy of file `path` in `folder` under its name (a hard link when the file system
    allows): the user's state keeps its files whatever removes the original."""
    copy = folder / Path(path).name
    try:
        os.link(path, copy)
    except OSError:
        shutil.copy2(path, copy)
    return str(copy)


class DemoApp(EditingEvents, HierarchyEvents):
    """The demo's handlers over one shared model, a shared mesh cache and a per-user store.

    Parameters
    ----------
    model : SharedModel
        Loaded once and shared by all users.
    settings : Settings
        The server's (`demo.state.demo_settings`): memory budgets, idle time, face
        budget and limit, and the page's defaults (resolution, PA, samples per face).
    thumbnail : int
        Gallery image size in pixels (views are subsampled to about this size).
    temp_root : str, optional
        Where this server's temporary folder (one subfolder per user) is made
        (default: the system's); `close` removes it.
    """

    def __init__(self, model: SharedModel, settings=None, thumbnail: int = 256, temp_root: str | None = None):
        self.model = model
        self.settings = demo_settings() if settings is None else settings
        self.pictures = Pictures(thumbnail)
        self.folder = Path(tempfile.mkdtemp(prefix="geosam2-demo-", dir=temp_root))
        self.meshes = MeshCache(self.settings)
        self.store = Store(self.settings.store_bytes, self.settings.idle_seconds)
        self.segmented_at_load: set[str] = set()  # digests of the files shown segmented (`segment_at_load`)
        self.running: dict[str, Steps] = {}  # each user's running automatic step, which Stop cancels
        self._closed = threading.Event()

    # ------------------------------------------------------------- helpers
    def prepare(self, path: str, resolution: int, up: str = "") -> PreparedMesh:
        """The mesh in file `path` rendered at `resolution` px with up axis `up`, with its
        look for the 3D view, shared by every user of it (see demo.meshes.MeshCache).
        Raises GeoSAM2Error for a file that is not a usable mesh."""
        prepared = self.meshes.get(path, resolution, up)
        prepared.look(self.folder)
        return prepared

    def warm_up(self, paths, resolution: int) -> int:
        """Prepare the meshes in `paths` and, with GeoSAM2, encode their views, in order
        (a visitor asking for one meanwhile waits for it instead of encoding it again),
        while another one of the first one's size fits in the cache (so that none
        of them is dropped); not encoded on ZeroGPU (`SharedModel.encodes_at_start`).
        Returns how many were prepared."""
        warmed = []
        for path in paths:
            if self._closed.is_set() or (warmed and self.meshes.nbytes + warmed[0].nbytes > self.meshes.max_bytes):
                break
            warmed.append(self.prepare(str(path), resolution))
            if self.model.encodes_at_start:
                self.model.encode(warmed[-1])
        return len(warmed)

    def segment_at_load(self, paths) -> None:
        """Show the meshes of the files `paths` (by content, whatever copy is loaded)
        segmented at once, their levels ready to browse (the generated example)."""
        self.segmented_at_load |= {file_sha256(str(path)) for path in paths}

    def sweep_every(self, seconds: float) -> threading.Thread:
        """Drop idle users' states every `seconds` until `close`, in a daemon thread."""

        def sweep():
            while not self._closed.wait(seconds):
                self.store.sweep()

        thread = threading.Thread(target=sweep, name="geosam2-demo-sweep", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Drop every user's state and remove the server's temporary folder (at shutdown)."""
        self._closed.set()
        self.store.clear()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _user(self, request: gr.Request) -> UserState:
        user = self.store.get(request.session_hash)
        if user is None:
            minutes = self.settings.idle_minutes
            raise NoMeshError(
                "Load a mesh first: pick an example or upload a file (a mesh left unused for "
                f"{minutes:.0f} minutes, or when the server needs the memory, is unloaded)."
            )
        return user

    def status(self, user: UserState | None) -> str:
        """The status line: model and device, then the mesh and its parts."""
        name = user.settings.segmenter if user is not None else self.model.segmenters[0]
        line = f"**Model:** {self.model.describe(name)}. **Views:** {describe_backend()}."
        if self.model.note:
            line += f" {self.model.note}"
        if user is None:
            return line + "  \n**Mesh:** none yet: pick an example or upload a mesh."
        return line + "  \n" + mesh_status(user)

    def _screen(self, user: UserState, prompt: dict, selected: int | None = None, changed_views=None) -> tuple:
        """Every output after the labelling changed (`changed_views` None: all views)."""
        session, pictures = user.session, self.pictures
        pictures.refresh_thumbnails(user, range(session.views.num_views) if changed_views is None else changed_views)
        choices = [(f"{p.id}: {p.name}", p.id) for p in session.parts]
        values = {
            "gallery": gr.update(value=pictures.gallery(user), selected_index=prompt["view"]),
            "prompt_image": pictures.prompt_image(user, prompt),
            "viewer": pictures.viewer(user, selected),
            "parts": parts_rows(session),
            "part": gr.update(choices=choices, value=selected),
            "status": self.status(user),
            "levels": level_line(user),
            "prompt": prompt,
            **downloads.shown_buttons(user),
        }
        return tuple(values[name] for name in OUTPUTS)

    # -------------------------------------------------------------- events
    def page_settings(self, pa, samples_per_face, resolution, segmenter: str, profile=None, up: str = "") -> PageSettings:
        """The page's settings from its controls' values (the server's for the rest);
        values out of range (from an API client) raise gr.Error with the range."""
        if up not in ("",) + UP_AXES:
            raise gr.Error(f"Up axis '{up}' is not one of {UP_AXES} (or '' for the file type's).")
        try:
            run = self.settings.with_values(
                pa=float(pa), samples_per_face=int(samples_per_face), resolution=int(resolution), profile=profile or None
            )
        except GeoSAM2Error as exc:
            raise gr.Error(str(exc)) from exc
        return PageSettings(run, segmenter, up or "")

    @holding_user
    def load(self, path, page: PageSettings, point_maps: bool, request: gr.Request, progress=gr.Progress(), from_page: bool = True):
        """Load a mesh file with `page`'s settings and render its views; returns one value
        per name in LOAD_OUTPUTS.

        A file that is not a usable mesh gives a warning and is cleared from the file
        box (`from_page`), or raises gr.Error with the message (an API client's call:
        a warning would not reach it); the current work stays.
        """
        if not path:
            return only() + (gr.skip(),)
        name = Path(path).name
        progress(0.05, desc=f"reading {name} and rendering {page.run.resolution} px views")
        try:
            prepared = self.prepare(path, page.run.resolution, page.up)
        except GeoSAM2Error as exc:
            if not from_page:
                raise gr.Error(f"{exc} Your current work is kept.") from exc
            gr.Warning(f"{exc} Your current work is kept.")
            return only() + (None,)
        workpiece = prepared.workpiece
        if workpiece.on_proxy:
            gr.Info(
                f"{name} has {workpiece.full.num_faces:,} faces: parts are found on a simplified copy of "
                f"{workpiece.segmented.num_faces:,} faces and carried to every face of the full mesh in the downloads."
            )
        progress(0.7, desc="finding visible faces")
        workspace = Workspace(workpiece, self.model.make_segmenter(page.segmenter, prepared), page.run, views=prepared.views)
        progress(0.9, desc="drawing views")
        folder = Path(tempfile.mkdtemp(prefix="user-", dir=self.folder))
        base = base_images(prepared.views, True) if point_maps else prepared.normal_maps
        source, look = own_copy(path, folder), own_copy(prepared.look(self.folder), folder)  # Gradio's cache and ours may go
        user = UserState(workspace, page, source, folder, base, bool(point_maps), look=look)
        if file_sha256(path) in self.segmented_at_load:
            progress(0.8, desc="segmenting everything: the hierarchy of parts")
            segment_everything_in_levels(user)
            edited(user)
        self.store.put(request.session_hash, user)
        prompt = empty_prompt(widest_view(prepared.views))
        screen = dict(zip(OUTPUTS, self._screen(user, prompt)))
        screen["viewer"] = gr.update(value=screen["viewer"], camera_position=camera_on_view(prepared.views, prompt["view"]))
        return tuple(screen[name] for name in OUTPUTS) + (gr.skip(),)

    @holding_user
    @user_errors
    def reload(self, page: PageSettings, point_maps: bool, request: gr.Request, progress=gr.Progress()):
        """Load the current mesh again with the settings `page` (its parts are cleared)."""
        user = self._user(request)
        return self.load(user.source, page, point_maps, request, progress)[: len(OUTPUTS)]

    @holding_user
    @user_errors
    def select_view(self, view: int, prompt: dict, request: gr.Request):
        """Open view `view` as the prompt image (the pending prompt is cleared)."""
        user = self._user(request)
        prompt = empty_prompt(int(view))
        return only(prompt_image=self.pictures.prompt_image(user, prompt), prompt=prompt)

    @holding_user
    @user_errors
    def click(self, xy, mode: str, prompt: dict, request: gr.Request):
        """Add a click at pixel `xy` = (column, row) of the prompt image, or a box corner in box mode."""
        user = self._user(request)
        prompt = with_click(prompt, user.session.views, xy, mode)
        return only(prompt_image=self.pictures.prompt_image(user, prompt), prompt=prompt)

    @holding_user
    @user_errors
    def clear_prompt(self, prompt: dict, request: gr.Request):
        """Forget the pending clicks and box."""
        user = self._user(request)
        prompt = empty_prompt(prompt["view"])
        return only(prompt_image=self.pictures.prompt_image(user, prompt), prompt=prompt)

    @holding_user
    def api_segment(self, view: int, clicks: list, box: list, parent: int | None, request: gr.Request) -> dict:
        """Add a part from a prompt given as numbers (the API's Segment part).

        Parameters
        ----------
        view : int, the view the prompt is on
        clicks : list of [x, y, positive], pixel coordinates (column, row) of the view, positive 1 or 0
        box : [x0, y0, x1, y1] in pixels, or [] for none
        parent : int or None, the part to refine inside (None: a new top-level part)

        Returns
        -------
        dict: "parts", one dict per part (id, name, parent, surface_percent), in tree
        order, and "unlabelled_percent". A user error raises gr.Error with its message.
        """
        try:
            user = self._user(request)
            query = to_prompt(api_prompt(view, clicks, box))
            if parent is not None and (isinstance(parent, bool) or not isinstance(parent, int)):
                raise PromptError(f"The parent must be a part's id (an integer) or null, not {parent!r}.")
            if query is None:
                raise PromptError("Give at least one positive click [x, y, true] or a box [x0, y0, x1, y1].")
            user.session.add_part(query, parent=parent)
        except GeoSAM2Error as exc:
            raise gr.Error(str(exc)) from exc
        edited(user)
        parts = [
            {"id": p.id, "name": p.name, "parent": p.parent, "surface_percent": round(100 * p.area_share, 1)}
            for p, _ in tree_order(user.session.parts)
        ]
        return {"parts": parts, "unlabelled_percent": round(100 * unlabelled_share(user.session), 1)}

    @holding_user
    def candidates(self, prompt: dict, part, inside: bool, request: gr.Request) -> list:
        """Gallery of the segmenter's mask candidates (Session.candidates) for the pending
        prompt, on its view, each captioned with its score; with `inside`, cut to the
        selected part `part`. Empty when there is no positive prompt."""
        user = self.store.get(request.session_hash)
        if user is None:
            return []
        user.candidates = None
        query = to_prompt(prompt)
        if query is None:
            return []
        session, view = user.session, query.view
        parent = int(part) if inside and part is not None else None
        try:
            masks, scores = session.candidates(query, parent)
        except GeoSAM2Error as exc:  # e.g. the selected part was undone meanwhile
            gr.Warning(str(exc))
            return []
        if not len(masks):
            gr.Warning("The segmenter found no mask for this prompt" + (" inside the selected part." if parent is not None else "."))
            return []
        user.candidates = Candidates(view, masks, scores, parent)
        stride = self.pictures.stride(user)
        image = np.asarray(self.pictures.prompt_image(user, prompt))[::stride, ::stride]
        taken = session.views.silhouette[view]  # a candidate takes faces of the object, those no part has (or the parent's)
        if parent is None:
            taken = taken & (session.views.pixel_labels(session.labels, view) < 0)
        shown = session.views.silhouette[view].sum()
        return [
            (overlay_mask(image, (mask & taken)[::stride, ::stride]), f"{100 * (mask & taken).sum() / shown:.0f} % of the object, score {score:.2f}")
            for mask, score in zip(masks, scores)
        ]

    @holding_user
    def select_part(self, part, request: gr.Request):
        """Highlight part `part` in the 3D view."""
        user = self.store.get(request.session_hash)
        if user is None:
            return only()
        return only(viewer=self.pictures.viewer(user, None if part is None else int(part)))

    @holding_user
    def show_look(self, textured: bool, part, request: gr.Request):
        """Show the input's look (textures) in the 3D view instead of the part colours, or back."""
        user = self.store.get(request.session_hash)
        if user is None:
            return only()
        user.textured = bool(textured)
        return only(viewer=self.pictures.viewer(user, None if part is None else int(part)))

    @holding_user
    def show_point_maps(self, point_maps: bool, prompt: dict, request: gr.Request):
        """Switch the gallery and the prompt image between normal maps and point maps."""
        user = self.store.get(request.session_hash)
        if user is None:
            return only()
        user.point_maps = bool(point_maps)
        user.base = base_images(user.session.views, user.point_maps)
        self.pictures.refresh_thumbnails(user, range(user.session.views.num_views))
        return only(gallery=self.pictures.gallery(user), prompt_image=self.pictures.prompt_image(user, prompt))

    @holding_user
    def downloads(self, request: gr.Request) -> tuple:
        """The files of the user's current labelling for the download buttons (one path per
        name in DOWNLOADS, None while there is no part), written now unless they are
        (`demo.downloads.prepare`); the public /downloads."""
        user = self.store.get(request.session_hash)
        if user is None:
            return tuple(gr.skip() for _ in downloads.DOWNLOADS)
        try:
            files = downloads.prepare(user)
        except OSError:  # the page closed meanwhile and its folder is gone
            return tuple(gr.skip() for _ in downloads.DOWNLOADS)
        return tuple(None if files is None else files[name] for name in downloads.DOWNLOADS)

    @holding_user
    def download_labels(self, request: gr.Request) -> tuple:
        """The download buttons' labels: "preparing" only while their files are older than the parts."""
        user = self.store.get(request.session_hash)
        if user is None:
            return tuple(gr.skip() for _ in downloads.DOWNLOADS)
        return tuple(gr.update(label=label) for label in downloads.labels(user.exported != user.version and bool(user.session.parts)))

    def download_clicked(self, request: gr.Request) -> None:
        """Say why a download button has no file yet (no part, or the files are being prepared)."""
        message = downloads.click_message(self.store.get(request.session_hash))
        if message == downloads.NO_PARTS:
            gr.Warning(message)
        elif message:
            gr.Info(message)

    @holding_user
    def chart(self, request: gr.Request):
        """The sunburst of the user's parts and of the unlabelled rest (None, an empty plot,
        before the first part: plotly.js then loads after the first coloured mesh)."""
        user = self.store.get(request.session_hash)
        if user is None:
            return gr.skip()
        session = user.session
        if not session.parts:
            return None
        return parts_sunburst(session.parts, unlabelled_share(session))

    @contextlib.contextmanager
    def stoppable(self, request: gr.Request, progress):
        """The `Steps` of the user's automatic step: its views and batches on the page's
        progress bar, cancelled by Stop (`stopped`) while the step runs."""
        steps = Steps(lambda share, text: progress(0.1 + 0.8 * share, desc=text))
        self.running[request.session_hash] = steps
        try:
            yield steps
        finally:
            self.running.pop(request.session_hash, None)

    def stopped(self, request: gr.Request) -> None:
        """Stop the user's running automatic step at its next batch (`stoppable`); say what Stop did."""
        steps = self.running.get(request.session_hash)
        if steps is not None:
            steps.cancel()
        gr.Info("Stopped. A running automatic step ends at its next batch and keeps the parts it found: "
                "they show at your next step, and Undo takes them back.")

    def unload(self, request: gr.Request) -> None:
        """Drop the user's state and files when the page closes."""
        self.store.drop(request.session_hash)

