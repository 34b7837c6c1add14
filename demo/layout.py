"""The page: components, their arrangement and the events wiring them to DemoApp."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import gradio as gr

from geosam2.io.mesh import MESH_EXTENSIONS

from .callbacks import DOWNLOADS, LOAD_OUTPUTS, MODES, OUTPUTS, PARTS_HEADERS, POSITIVE, DemoApp
from .chart import parts_sunburst
from .state import Settings, empty_prompt

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "assets" / "examples"
SHOWCASE = EXAMPLES_DIR / "official" / "drill.glb"  # the official release's textured example: the page opens on it
PUBLIC_API = ("load", "segment_prompt", "auto_complete", "segment_everything", "undo", "redo", "reset", "downloads")  # the endpoints API clients may call
INTRO = """# GeoSAM2: click a part, get it in 3D
Pick an example or upload a mesh. Choose one of the rendered views, click on a part
(green: part, red: not part, or draw a box) and press **Segment part**. Refine inside
a selected part, let the rest complete automatically, then download the parts."""


def gpu_decorator():
    """`spaces.GPU` when the `spaces` package (Hugging Face ZeroGPU) is installed, else no-op."""
    try:
        import spaces
    except ImportError:
        return lambda fn: fn
    return spaces.GPU


def example_files(examples_dir: Path = EXAMPLES_DIR) -> list[Path]:
    """The example meshes: the official release's first, then the project's own small ones."""
    return sorted(examples_dir.glob("official/*.glb")) + sorted(examples_dir.glob("*.glb"))


def launch_options() -> dict:
    """Where to listen: 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise."""
    return {
        "server_name": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        "server_port": int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    }


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
    gpu = gpu_decorator()
    defaults = Settings(segmenter=app.model.segmenters[0])
    examples = example_files(examples_dir)
    preload_path = None if preload is None else str(preload)
    if preload_path is not None:
        app.prepare(preload_path, defaults.resolution)
    if app.model.network is not None:
        warm = list(dict.fromkeys([preload_path] * (preload_path is not None) + [str(p) for p in examples]))
        threading.Thread(target=app.warm_up, args=(warm, defaults.resolution), name="geosam2-demo-encode", daemon=True).start()
    app.sweep_every(sweep_seconds)
    parts_sunburst((), 1.0)  # plotly builds its validators on first use (~1 s): now rather than in a user's event
    with gr.Blocks(title="GeoSAM2 demo", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO)
        status = gr.Markdown(app.status(None), elem_id="status")
        prompt = gr.State(empty_prompt())
        with gr.Row():
            with gr.Column(scale=4):
                mesh_file = gr.File(
                    preload_path,
                    label="Mesh (" + ", ".join(e.lstrip(".").upper() for e in MESH_EXTENSIONS) + ")",
                    file_types=list(MESH_EXTENSIONS),
                    type="filepath",
                    elem_id="mesh-file",
                )
                gr.Examples(
                    [[str(p)] for p in examples], inputs=mesh_file, label="Examples", example_labels=[p.stem for p in examples]
                )
                point_maps = gr.Checkbox(False, label="Show point maps instead of normal maps")
                gallery = gr.Gallery(
                    format="jpeg",  # encodes ~8x faster than WebP
                    label="Views: choose one to prompt on", columns=4, allow_preview=False, elem_id="views", height="auto"
                )
                with gr.Accordion("Settings", open=False):
                    segmenter = gr.Radio(app.model.segmenters, value=defaults.segmenter, label="Segmenter")
                    resolution = gr.Slider(
                        256, 1024, value=defaults.resolution, step=128, label="Render resolution (px)",
                        info="512 keeps the CPU demo quick; the release renders 1024.",
                    )
                    samples = gr.Slider(1, 10, value=defaults.samples_per_face, step=1, label="Samples per face")
                    pa = gr.Slider(0.0, 0.1, value=defaults.pa, step=0.005, label="Clean-up threshold PA")
                    auto = gr.Checkbox(defaults.auto_complete, label="Complete the rest automatically after each part")
                    profile = gr.Radio(
                        [("The segmenter's (official with GeoSAM2)", ""), ("Official release", "official"), ("Improved", "improved")],
                        value="", label="Inference profile",
                        info="official: the release's propagation, completion, lifting and clean-up; improved: the project's",
                    )
                    apply = gr.Button("Apply segmenter, profile, resolution and samples (reloads the mesh, clears its parts)")
            with gr.Column(scale=4):
                mode = gr.Radio(list(MODES), value=POSITIVE, label="Click mode", elem_id="mode")
                prompt_image = gr.Image(
                    label="Prompt view: click on a part", type="pil", format="png", interactive=False, elem_id="prompt-image", buttons=[]
                )
                candidates = gr.Gallery(
                    label="Candidates for the pending prompt (score beside each): pick one to segment it",
                    columns=4, allow_preview=False, height=170, format="jpeg", elem_id="candidates",  # fixed height: no layout shift
                )
                inside = gr.Checkbox(False, label="Candidates refine inside the selected part")
                with gr.Row():
                    segment = gr.Button("Segment part", variant="primary", elem_id="segment")
                    refine = gr.Button("Refine inside selected part", elem_id="refine")
                    complete = gr.Button("Auto-complete the rest", elem_id="auto-complete")
                    everything = gr.Button("Segment everything", elem_id="segment-everything")
                with gr.Row():
                    clear = gr.Button("Clear prompt", size="sm")
                    undo = gr.Button("Undo", size="sm", elem_id="undo")
                    redo = gr.Button("Redo", size="sm")
                    reset = gr.Button("Reset", size="sm", variant="stop")
            with gr.Column(scale=4):
                viewer = gr.Model3D(label="Parts in 3D", clear_color=(1.0, 1.0, 1.0, 1.0), height=380, elem_id="viewer")
                part = gr.Dropdown([], value=None, label="Selected part (highlighted in 3D)", elem_id="part")
                parts = gr.Dataframe(
                    headers=PARTS_HEADERS, datatype=["number", "str", "html", "number", "str"], interactive=False, label="Parts"
                )
                chart = gr.Plot(label="Share of the surface per part", elem_id="chart")  # empty until the first part: plotly.js loads then
                with gr.Row():
                    download_buttons = [
                        gr.DownloadButton(label, interactive=True, size="sm", elem_id=f"download-{name}")
                        for name, label in zip(
                            DOWNLOADS, ("Coloured GLB", "GLB, one node per part", "ZIP of parts", "Labels JSON")
                        )
                    ]
        components = dict(
            gallery=gallery, prompt_image=prompt_image, viewer=viewer, parts=parts, part=part, status=status, prompt=prompt,
            mesh_file=mesh_file,
        )
        outputs = [components[name] for name in OUTPUTS]
        load_outputs = [components[name] for name in LOAD_OUTPUTS]
        settings = [pa, samples, resolution, segmenter, auto, point_maps, profile]

        @gpu
        def on_load(path, pa, samples, resolution, segmenter, auto, point_maps, profile, request: gr.Request, progress=gr.Progress()):
            return app.load(path, pa, samples, resolution, segmenter, auto, point_maps, request, progress, profile)

        @gpu
        def on_apply(pa, samples, resolution, segmenter, auto, point_maps, profile, request: gr.Request, progress=gr.Progress()):
            return app.reload(pa, samples, resolution, segmenter, auto, point_maps, request, progress, profile)

        @gpu
        def on_segment(prompt, part, pa, auto, request: gr.Request, progress=gr.Progress()):
            return app.segment(prompt, part, pa, auto, False, request, progress)

        @gpu
        def on_refine(prompt, part, pa, auto, request: gr.Request, progress=gr.Progress()):
            return app.segment(prompt, part, pa, auto, True, request, progress)

        @gpu
        def on_candidates(prompt, part, inside, request: gr.Request):
            return app.candidates(prompt, part, inside, request)

        @gpu
        def on_pick(pa, auto, request: gr.Request, evt: gr.SelectData, progress=gr.Progress()):
            return app.pick_candidate(evt.index, pa, auto, request, progress)

        @gpu
        def on_complete(prompt, request: gr.Request, progress=gr.Progress()):
            return app.auto_complete(prompt, request, progress)

        @gpu
        def on_everything(prompt, request: gr.Request, progress=gr.Progress()):
            return app.segment_everything(prompt, request, progress)

        @gpu
        def segment_prompt(view: int, clicks: list[list[float]], box: list[float], parent: int | None, request: gr.Request) -> dict:
            """Add a part from a prompt on view `view`: clicks [[x, y, positive], ...] (positive 1 or 0) and/or a
            box [x0, y0, x1, y1] ([] for none), in pixels of the rendered view; inside part `parent` (None: a
            top-level part). Returns the parts (id, name, parent, surface_percent) and the unlabelled percent."""
            return app.api_segment(view, [[x, y, bool(positive)] for x, y, positive in clicks], box, parent, request)

        def on_view(prompt, request: gr.Request, evt: gr.SelectData):
            return app.select_view(evt.index, prompt, request)

        def on_click(mode, prompt, request: gr.Request, evt: gr.SelectData):
            return app.click(evt.index, mode, prompt, request)

        private = dict(api_visibility="private")
        changes = [  # the events that change the labelling
            mesh_file.change(on_load, [mesh_file] + settings, load_outputs, api_name="load"),
            apply.click(on_apply, settings, outputs, **private),
            segment.click(on_segment, [prompt, part, pa, auto], outputs, **private),
            refine.click(on_refine, [prompt, part, pa, auto], outputs, **private),
            candidates.select(on_pick, [pa, auto], outputs, **private),
            complete.click(on_complete, [prompt], outputs, api_name="auto_complete"),
            everything.click(on_everything, [prompt], outputs, api_name="segment_everything"),
            undo.click(app.undo, [prompt], outputs, api_name="undo"),
            redo.click(app.redo, [prompt], outputs, api_name="redo"),
            reset.click(app.reset, [prompt], outputs, api_name="reset"),
        ]
        if preload_path is not None:  # the file box shows it from the start; its change event loads the others
            changes.append(demo.load(on_load, [mesh_file] + settings, load_outputs, **private))
        for i, event in enumerate(changes):  # after the coloured mesh: the chart, then the download files
            downloads_api = dict(api_name="downloads") if i == 0 else private  # one public copy for API clients
            event.success(app.chart, None, chart, show_progress="hidden", **private).success(
                app.downloads, None, download_buttons, **downloads_api
            )
        gr.api(segment_prompt, api_name="segment_prompt")
        # quick picture updates: never wait behind long steps (queued all the same, so that gr.Warning shows)
        light = dict(concurrency_limit=None, show_progress="hidden", **private)
        gallery.select(on_view, [prompt], outputs, **light)
        prompt_image.select(on_click, [mode, prompt], outputs, **light)
        clear.click(app.clear_prompt, [prompt], outputs, **light)
        for trigger in (prompt.change, inside.change):  # a new prompt or scope: new candidates
            trigger(on_candidates, [prompt, part, inside], candidates, show_progress="hidden", **private)
        part.input(app.select_part, [part], outputs, **private)
        point_maps.change(app.show_point_maps, [point_maps, prompt], outputs, **private)
        demo.unload(app.unload)
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    return demo

