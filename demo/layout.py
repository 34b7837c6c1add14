"""The page: components, their arrangement and the events wiring them to DemoApp.

`build_demo` puts together small builders: the left column (file, examples, views,
settings), the middle one (prompt and buttons), the right one (3D view, parts,
downloads), then the events.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
from starlette.middleware import Middleware

from geosam2.io.mesh import MESH_EXTENSIONS
from geosam2.profiles import DEFAULT, IMPROVED, OFFICIAL
from geosam2.settings import DEMO_RESOLUTION, OPTIONS

from .callbacks import DemoApp
from .chart import parts_sunburst
from .downloads import DOWNLOAD_LABELS, DOWNLOAD_OUTPUTS, DOWNLOADS
from .guard import PublicCallsOnly, closed_by_heartbeat
from .hierarchy import COARSER, FINER, NO_LEVELS
from .meshes import Y_UP, Z_UP
from .model import GEOSAM2
from .prompting import MODES, POSITIVE, empty_prompt
from .screen import LOAD_OUTPUTS, OUTPUTS, PARTS_HEADERS

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "assets" / "examples"
GENERATED = "generated"  # the examples' folder of meshes made by text/image-to-3D models: shown segmented, levels ready
SHOWCASE = EXAMPLES_DIR / "official" / "drill.glb"  # the official release's textured example: the page opens on it
PUBLIC_API = ("load", "segment_prompt", "auto_complete", "segment_everything", "undo", "redo", "reset", "downloads")  # the endpoints API clients may call
INTRO = """### GeoSAM2: click a part, get it in 3D
Pick an example or upload a mesh, click on a part in the prompt view (or choose another view), press **Segment part**, download the parts."""
UP_CHOICES = [
    ("As the file type says (glTF, OBJ: Y; PLY, STL, OFF: Z)", ""),
    ("Y is up", Y_UP),
    ("Z is up", Z_UP),
]
CSS = """
#views .grid-container, #candidates .grid-container { grid-template-columns: repeat(var(--grid-cols), minmax(0, 1fr)) !important; grid-auto-rows: auto !important; }
#views .thumbnail-item, #candidates .thumbnail-item { width: 100% !important; height: auto !important; aspect-ratio: 1; }
#views .grid-wrap, #candidates .grid-wrap { overflow-x: hidden; }
#views, #views .grid-wrap, #candidates, #candidates .grid-wrap { height: auto !important; min-height: 0 !important; max-height: none !important; overflow-y: visible !important; }
#candidates { min-height: 260px !important; }
#candidates .caption-label { white-space: normal; font-size: 11px; line-height: 1.2; max-width: 100%; }
#views > label, #candidates > label { position: relative !important; }
"""  # the galleries' columns share the column's width (Gradio's are 100 px or more each, clipped beside each other);
# their labels take their own line (Gradio floats them over the first row of thumbnails), and they grow with their
# thumbnails (a fixed height cut the candidates' bottom and its scores)
SETTING_INPUTS = ("pa", "samples", "resolution", "segmenter", "auto", "point_maps", "profile", "up")
"""The settings controls, in the order the load event (and its public API) takes them."""


def example_files(examples_dir: Path = EXAMPLES_DIR) -> list[Path]:
    """The example meshes: the official release's first, then a generated one (one closed
    surface, as text/image-to-3D models make them), then the project's own small ones."""
    return [path for folder in ("official/", f"{GENERATED}/", "") for path in sorted(examples_dir.glob(f"{folder}*.glb"))]


def launch_options() -> dict:
    """Where to listen (127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say
    otherwise), the page's style sheet (Gradio 6 takes it at launch), and the guard
    letting API clients call the PUBLIC_API endpoints only (`demo.guard`)."""
    return {
        "server_name": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        "server_port": int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        "css": CSS,
        "app_kwargs": {"middleware": [Middleware(PublicCallsOnly, public=PUBLIC_API)]},
    }


def profile_choices(geosam2_loaded: bool) -> list:
    """The inference profiles offered, the default's words saying what runs without weights too."""
    default = (
        "Default: GeoSAM2's own propagation and proposals (the release's), the project's lifting, clean-up and completion"
        if geosam2_loaded
        else "Default: the project's lifting, clean-up and completion (the geometry segmenter answers in 3D)"
    )
    return [(default, DEFAULT.name)] + [(profile.description, profile.name) for profile in (OFFICIAL, IMPROVED)]


def _slider(name: str, value, label: str, **options) -> gr.Slider:
    """A slider over the span `geosam2.settings.OPTIONS[name].slider` offers."""
    low, high, step = OPTIONS[name].slider
    return gr.Slider(low, high, value=value, step=step, label=label, **options)


def _settings_controls(app: DemoApp, c: SimpleNamespace) -> None:
    """The settings accordion, its defaults the server's settings; expert ones in an inner accordion."""
    defaults = app.settings
    release = OPTIONS["resolution"].default
    with gr.Accordion("Settings", open=False):
        c.segmenter = gr.Radio(app.model.segmenters, value=app.model.segmenters[0], label="Segmenter")
        c.up = gr.Radio(UP_CHOICES, value="", label="Up axis of the file", info="changing it renders the views again", elem_id="up-axis")
        c.auto = gr.Checkbox(False, label="Complete the rest automatically after each part")
        c.resolution = _slider(
            "resolution", defaults.resolution, "Size of the rendered views (px)",
            info=f"{DEMO_RESOLUTION} px keeps the CPU demo quick; the release renders {release}.",
        )
        with gr.Accordion("Expert settings", open=False):
            c.profile = gr.Radio(
                profile_choices(GEOSAM2 in app.model.segmenters), value=DEFAULT.name, label="Inference profile",
                info="official: the release's propagation, completion, lifting and clean-up; improved: the project's",
            )
            c.pa = _slider(
                "pa", defaults.pa, "Clean-up: smallest piece kept",
                info="a piece of a part smaller than this share of the surface goes to its neighbours (the paper's PA)",
            )
            c.samples = _slider(
                "samples_per_face", defaults.samples_per_face, "Points checked per face (official profile)",
                info="random points of each face looked up in the views to vote for its part; the default uses every pixel",
            )
        c.apply = gr.Button("Apply (renders the mesh again and clears its parts)")


def _left_column(app: DemoApp, c: SimpleNamespace, examples: list[Path], preload_path: str | None) -> None:
    """File box, examples, the views' gallery, point-map switch and the settings."""
    c.mesh_file = gr.File(
        preload_path,
        label="Mesh (" + ", ".join(e.lstrip(".").upper() for e in MESH_EXTENSIONS) + ")",
        file_types=list(MESH_EXTENSIONS),
        type="filepath",
        elem_id="mesh-file",
        height=90,
    )
    gr.Examples([[str(p)] for p in examples], inputs=c.mesh_file, label="Examples", example_labels=[p.stem for p in examples])
    c.gallery = gr.Gallery(
        format="jpeg",  # encodes ~8x faster than WebP
        label="Views: choose one to prompt on", columns=4, allow_preview=False, elem_id="views", height="auto"
    )
    c.point_maps = gr.Checkbox(False, label="Show point maps instead of normal maps")
    c.prompt_files = gr.File(
        label="Prompt files: the release's JSON point prompts (frame_idx, obj_id, point, label), one per level of detail",
        file_count="multiple", file_types=[".json"], type="filepath", elem_id="prompt-files", height=140,
    )
    _settings_controls(app, c)


def _middle_column(c: SimpleNamespace) -> None:
    """Click mode, the prompt image, the segmenting buttons, the candidates."""
    c.mode = gr.Radio(list(MODES), value=POSITIVE, show_label=False, container=False, elem_id="mode")
    c.prompt_image = gr.Image(
        label="Prompt view: click on a part", type="pil", format="png", interactive=False, elem_id="prompt-image",
        buttons=[], height=400,
    )
    with gr.Row():
        c.segment = gr.Button("Segment part", variant="primary", elem_id="segment")
        c.refine = gr.Button("Refine inside the selected part", elem_id="refine")
    with gr.Row():
        c.split = gr.Button("Segment everything inside the selected part", size="sm", elem_id="split")
        c.complete = gr.Button("Auto-complete the rest", size="sm", elem_id="auto-complete")
        c.everything = gr.Button("Segment everything", size="sm", elem_id="segment-everything")
        c.stop = gr.Button("Stop", size="sm", elem_id="stop", min_width=60)
    with gr.Row(equal_height=True):
        c.levels = gr.Markdown(NO_LEVELS, elem_id="levels")
        c.coarser = gr.Button("Coarser", size="sm", elem_id="coarser", min_width=80, scale=0)
        c.finer = gr.Button("Finer", size="sm", elem_id="finer", min_width=80, scale=0)
    with gr.Row():
        c.clear = gr.Button("Clear prompt", size="sm")
        c.undo = gr.Button("Undo", size="sm", elem_id="undo")
        c.redo = gr.Button("Redo", size="sm")
        c.reset = gr.Button("Reset", size="sm", variant="stop", elem_id="reset")
    c.candidates = gr.Gallery(
        label="Candidates for the pending clicks: pick one to segment it (share of the object it takes, the segmenter's score)",
        columns=3, allow_preview=False, height="auto", object_fit="contain", format="jpeg", elem_id="candidates",  # at least 260 px (CSS): little layout shift
    )
    c.inside = gr.Checkbox(False, label="Candidates refine inside the selected part (else they take only faces without a part)")


def _right_column(c: SimpleNamespace) -> None:
    """The 3D view, the downloads, the selected part (rename), the parts list and chart."""
    c.viewer = gr.Model3D(label="3D view", clear_color=(1.0, 1.0, 1.0, 1.0), height=340, elem_id="viewer")
    with gr.Row():
        for name, output in zip(DOWNLOADS, DOWNLOAD_OUTPUTS):
            setattr(c, output, gr.DownloadButton(DOWNLOAD_LABELS[name], size="sm", elem_id=f"download-{name}", min_width=120))
    c.textured = gr.Checkbox(False, label="Show the input's look (textures) instead of the part colours", elem_id="textured")
    with gr.Row(equal_height=True):
        c.part = gr.Dropdown([], value=None, label="Selected part (highlighted in 3D)", elem_id="part", scale=3)
        c.part_name = gr.Textbox(label="New name", elem_id="part-name", scale=2)
        c.rename = gr.Button("Rename", size="sm", elem_id="rename", scale=1, min_width=80)
    c.parts = gr.Dataframe(
        headers=PARTS_HEADERS, datatype=["number", "str", "html", "number", "str"], interactive=False, label="Parts",
        elem_id="parts", wrap=True, column_widths=["10%", "32%", "14%", "16%", "28%"],
    )
    c.chart = gr.Plot(label="Share of the surface per part", elem_id="chart")  # empty until the first part: plotly.js loads then


def from_page(evt) -> bool:
    """Whether an event came from the page (its gr.EventData names the component that
    fired it) rather than an API client (no target): a client sees errors, not warnings."""
    return evt is not None and evt.target is not None


def _labelling_handlers(app: DemoApp) -> SimpleNamespace:
    """The handlers of the events that change the labelling (the network's work in them goes
    to the GPU through the segmenter's runner: on ZeroGPU, `demo.gpu`)."""

    def on_load(path, pa, samples, resolution, segmenter, auto, point_maps, profile, up="", request: gr.Request = None, evt: gr.EventData = None, progress=gr.Progress()):
        # `auto` is read by the segmenting events, not here (it stays in the public /load's arguments)
        page = app.page_settings(pa, samples, resolution, segmenter, profile, up)
        return app.load(path, page, point_maps, request, progress, from_page=from_page(evt))

    def on_apply(pa, samples, resolution, segmenter, auto, point_maps, profile, up, request: gr.Request, progress=gr.Progress()):
        return app.reload(app.page_settings(pa, samples, resolution, segmenter, profile, up), point_maps, request, progress)

    def on_segment(prompt, part, pa, auto, request: gr.Request, progress=gr.Progress()):
        return app.segment(prompt, part, pa, auto, False, request, progress)

    def on_refine(prompt, part, pa, auto, request: gr.Request, progress=gr.Progress()):
        return app.segment(prompt, part, pa, auto, True, request, progress)

    def on_pick(pa, auto, request: gr.Request, evt: gr.SelectData, progress=gr.Progress()):
        return app.pick_candidate(evt.index, pa, auto, request, progress)

    def on_complete(prompt, request: gr.Request, evt: gr.EventData = None, progress=gr.Progress()):
        return app.auto_complete(prompt, request, progress, from_page=from_page(evt))

    def on_everything(prompt, request: gr.Request, evt: gr.EventData = None, progress=gr.Progress()):
        return app.segment_everything(prompt, request, progress, from_page=from_page(evt))

    def on_split(prompt, part, request: gr.Request, progress=gr.Progress()):
        return app.complete_inside(prompt, part, request, progress)

    def segment_prompt(view: int, clicks: list[list[float]], box: list[float], parent: int | None, request: gr.Request) -> dict:
        """Add a part from a prompt on view `view`: clicks [[x, y, positive], ...] (positive 1 or 0) and/or a
        box [x0, y0, x1, y1] ([] for none), in pixels of the rendered view; inside part `parent` (None: a
        top-level part). Returns the parts (id, name, parent, surface_percent) and the unlabelled percent."""
        return app.api_segment(view, clicks, box, parent, request)

    def on_candidates(prompt, part, inside, request: gr.Request):
        return app.candidates(prompt, part, inside, request)

    def on_coarser(prompt, request: gr.Request):
        return app.step_level(COARSER, prompt, request)

    def on_finer(prompt, request: gr.Request):
        return app.step_level(FINER, prompt, request)

    def on_prompt_files(paths, prompt, request: gr.Request, progress=gr.Progress()):
        return app.add_prompt_files(paths, prompt, request, progress)

    return SimpleNamespace(
        on_load=on_load, on_apply=on_apply, on_segment=on_segment, on_refine=on_refine, on_pick=on_pick, on_complete=on_complete,
        on_everything=on_everything, on_split=on_split, segment_prompt=segment_prompt, on_candidates=on_candidates,
        on_coarser=on_coarser, on_finer=on_finer, on_prompt_files=on_prompt_files,
    )


def _wire_labelling(demo: gr.Blocks, app: DemoApp, c: SimpleNamespace, preloaded: bool) -> None:
    """The events that change the labelling, each followed by the chart, then the download files
    (each of those two runs again after a run in progress, for the newest labelling: never stale)."""
    h = _labelling_handlers(app)
    outputs = [getattr(c, name) for name in OUTPUTS]
    load_outputs = [getattr(c, name) for name in LOAD_OUTPUTS]
    settings = [getattr(c, name) for name in SETTING_INPUTS]
    private = dict(api_visibility="private")
    changes = [
        c.mesh_file.change(h.on_load, [c.mesh_file] + settings, load_outputs, api_name="load"),
        c.apply.click(h.on_apply, settings, outputs, **private),
        c.segment.click(h.on_segment, [c.prompt, c.part, c.pa, c.auto], outputs, **private),
        c.refine.click(h.on_refine, [c.prompt, c.part, c.pa, c.auto], outputs, **private),
        c.candidates.select(h.on_pick, [c.pa, c.auto], outputs, **private),
        c.complete.click(h.on_complete, [c.prompt], outputs, api_name="auto_complete"),
        c.everything.click(h.on_everything, [c.prompt], outputs, api_name="segment_everything"),
        c.split.click(h.on_split, [c.prompt, c.part], outputs, **private),
        c.rename.click(app.rename, [c.part, c.part_name, c.prompt], outputs, **private),
        c.up.change(h.on_apply, settings, outputs, **private),
        c.undo.click(app.undo, [c.prompt], outputs, api_name="undo"),
        c.redo.click(app.redo, [c.prompt], outputs, api_name="redo"),
        c.reset.click(app.reset, [c.prompt], outputs, api_name="reset"),
        c.coarser.click(h.on_coarser, [c.prompt], outputs, **private),
        c.finer.click(h.on_finer, [c.prompt], outputs, **private),
        c.prompt_files.upload(h.on_prompt_files, [c.prompt_files, c.prompt], outputs, **private),
    ]
    if preloaded:  # the file box shows it from the start; its change event loads the others
        changes.append(demo.load(h.on_load, [c.mesh_file] + settings, load_outputs, **private))
    automatic = changes[2:8]  # segment, refine, pick, auto-complete, everything, split: with completion, long
    c.stop.click(app.stopped, None, None, cancels=automatic, concurrency_limit=None, show_progress="hidden", **private)
    buttons = [getattr(c, name) for name in DOWNLOAD_OUTPUTS]
    last = dict(trigger_mode="always_last")  # a run asked for while one goes on runs after it, not dropped
    for i, event in enumerate(changes):  # after the coloured mesh: the chart, then the download files
        downloads_api = dict(api_name="downloads") if i == 0 else private  # one public copy for API clients
        chart = event.success(app.chart, None, c.chart, show_progress="hidden", **last, **private)
        files = chart.then(app.downloads, None, buttons, show_progress="hidden", **last, **downloads_api)
        files.then(app.download_labels, None, buttons, show_progress="hidden", **last, **private)
    for button in buttons:  # without a file: say why
        button.click(app.download_clicked, None, None, concurrency_limit=None, show_progress="hidden", **private)
    gr.api(h.segment_prompt, api_name="segment_prompt")
    for trigger in (c.prompt.change, c.inside.change):  # a new prompt or scope: new candidates
        trigger(h.on_candidates, [c.prompt, c.part, c.inside], c.candidates, show_progress="hidden", **private)


def _wire_pictures(demo: gr.Blocks, app: DemoApp, c: SimpleNamespace) -> None:
    """Quick picture updates: never wait behind long steps (queued all the same, so that gr.Warning shows)."""
    outputs = [getattr(c, name) for name in OUTPUTS]
    private = dict(api_visibility="private")
    light = dict(concurrency_limit=None, show_progress="hidden", **private)

    def on_view(prompt, request: gr.Request, evt: gr.SelectData):
        return app.select_view(evt.index, prompt, request)

    def on_click(mode, prompt, request: gr.Request, evt: gr.SelectData):
        return app.click(evt.index, mode, prompt, request)

    c.gallery.select(on_view, [c.prompt], outputs, **light)
    c.prompt_image.select(on_click, [c.mode, c.prompt], outputs, **light)
    c.clear.click(app.clear_prompt, [c.prompt], outputs, **light)
    c.part.input(app.select_part, [c.part], outputs, **private)
    c.textured.change(app.show_look, [c.textured, c.part], outputs, **private)
    c.point_maps.change(app.show_point_maps, [c.point_maps, c.prompt], outputs, **private)

    def on_page_closed(request: gr.Request):
        if closed_by_heartbeat(request):  # not a call naming a session
            app.unload(request)

    demo.unload(on_page_closed)


def _start_background_work(app: DemoApp, examples: list[Path], preload_path: str | None, sweep_seconds: float) -> None:
    """Render the preloaded mesh now; with weights, encode the examples in a background
    thread (the preloaded one first); drop idle users' states every `sweep_seconds`."""
    resolution = app.settings.resolution
    if preload_path is not None:
        app.prepare(preload_path, resolution)
    if app.model.network is not None:  # rendered (and encoded unless on ZeroGPU) before a visitor asks
        warm = list(dict.fromkeys([preload_path] * (preload_path is not None) + [str(p) for p in examples]))
        threading.Thread(target=app.warm_up, args=(warm, resolution), name="geosam2-demo-encode", daemon=True).start()
    app.sweep_every(sweep_seconds)
    parts_sunburst((), 1.0)  # plotly builds its validators on first use (~1 s): now rather than in a user's event


def build_demo(
    app: DemoApp,
    examples_dir: Path = EXAMPLES_DIR,
    preload: Path | None = SHOWCASE,
    concurrency: int = 2,
    queue_size: int = 32,
    sweep_seconds: float = 60.0,
) -> gr.Blocks:
    """The Blocks app over `app`, queued with at most `concurrency` events running at once.

    `preload` is the mesh loaded when a page opens (None: start empty), so that a
    visitor can click on a part at once; it is rendered here, once. With GeoSAM2
    weights, the examples' views are encoded in a background thread started here,
    the preloaded one first, as many as the mesh cache holds (`DemoApp.warm_up`):
    the page is served at once (a CPU needs minutes per mesh at 1024 px, 30-40 s at
    512 px) and a visitor asking for a mesh being encoded waits for that encoding
    instead of starting another. Idle users' states are dropped every
    `sweep_seconds`. Call `app.close()` after the server stops (it removes the
    users' temporary folders).

    Only the endpoints in PUBLIC_API are callable by API clients (gradio_client,
    /gradio_api/call); the page's other events are private.
    """
    examples = example_files(examples_dir)
    app.segment_at_load(path for path in examples if path.parent.name == GENERATED)
    preload_path = None if preload is None else str(preload)
    _start_background_work(app, examples, preload_path, sweep_seconds)
    c = SimpleNamespace()
    with gr.Blocks(title="GeoSAM2 demo", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO)
        c.status = gr.Markdown(app.status(None), elem_id="status")
        c.prompt = gr.State(empty_prompt())
        with gr.Row():
            with gr.Column(scale=3, min_width=280):
                _left_column(app, c, examples, preload_path)
            with gr.Column(scale=5, min_width=380):
                _middle_column(c)
            with gr.Column(scale=4, min_width=340):
                _right_column(c)
        _wire_labelling(demo, app, c, preload_path is not None)
        _wire_pictures(demo, app, c)
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    return demo
