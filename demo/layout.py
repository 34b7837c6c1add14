"""The page: components, their arrangement and the events wiring them to DemoApp."""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from geosam2.mesh import MESH_EXTENSIONS

from .callbacks import DOWNLOADS, MODES, OUTPUTS, PARTS_HEADERS, POSITIVE, DemoApp
from .chart import parts_sunburst
from .state import Settings, empty_prompt

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "assets" / "examples"
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


def launch_options() -> dict:
    """Where to listen: 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise."""
    return {
        "server_name": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        "server_port": int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    }


def build_demo(
    app: DemoApp,
    examples_dir: Path = EXAMPLES_DIR,
    preload: str | None = "chair",
    concurrency: int = 2,
    queue_size: int = 32,
) -> gr.Blocks:
    """The Blocks app over `app`, queued with at most `concurrency` events running at once.

    `preload` names the example loaded when a page opens (None: start empty), so
    that a visitor can click on a part at once; it is rendered here, once.
    """
    gpu = gpu_decorator()
    defaults = Settings(segmenter=app.model.segmenters[0])
    examples = sorted(examples_dir.glob("*.glb"))
    preload_path = None if preload is None else str(examples_dir / f"{preload}.glb")
    if preload_path is not None:
        app.prepare(preload_path, defaults.resolution)
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
                    apply = gr.Button("Apply segmenter, resolution and samples (reloads the mesh, clears its parts)")
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
            gallery=gallery, prompt_image=prompt_image, viewer=viewer, parts=parts, part=part, status=status, prompt=prompt
        )
        outputs = [components[name] for name in OUTPUTS]
        settings = [pa, samples, resolution, segmenter, auto, point_maps]

        @gpu
        def on_load(path, pa, samples, resolution, segmenter, auto, point_maps, request: gr.Request, progress=gr.Progress()):
            return app.load(path, pa, samples, resolution, segmenter, auto, point_maps, request, progress)

        @gpu
        def on_apply(pa, samples, resolution, segmenter, auto, point_maps, request: gr.Request, progress=gr.Progress()):
            return app.reload(pa, samples, resolution, segmenter, auto, point_maps, request, progress)

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

        def on_view(prompt, request: gr.Request, evt: gr.SelectData):
            return app.select_view(evt.index, prompt, request)

        def on_click(mode, prompt, request: gr.Request, evt: gr.SelectData):
            return app.click(evt.index, mode, prompt, request)

        changes = [
            mesh_file.change(on_load, [mesh_file] + settings, outputs),
            apply.click(on_apply, settings, outputs),
            segment.click(on_segment, [prompt, part, pa, auto], outputs),
            refine.click(on_refine, [prompt, part, pa, auto], outputs),
            candidates.select(on_pick, [pa, auto], outputs),
            complete.click(on_complete, [prompt], outputs),
            undo.click(app.undo, [prompt], outputs),
            redo.click(app.redo, [prompt], outputs),
            reset.click(app.reset, [prompt], outputs),
        ]
        if preload_path is not None:  # the file box shows it from the start; its change event loads the others
            changes.append(demo.load(on_load, [mesh_file] + settings, outputs))
        for event in changes:  # after the coloured mesh: the chart, then the download files
            event.success(app.chart, None, chart, show_progress="hidden").success(app.downloads, None, download_buttons)
        # quick picture updates: never wait behind long steps (queued all the same, so that gr.Warning shows)
        light = dict(concurrency_limit=None, show_progress="hidden")
        gallery.select(on_view, [prompt], outputs, **light)
        prompt_image.select(on_click, [mode, prompt], outputs, **light)
        clear.click(app.clear_prompt, [prompt], outputs, **light)
        for trigger in (prompt.change, inside.change):  # a new prompt or scope: new candidates
            trigger(on_candidates, [prompt, part, inside], candidates, show_progress="hidden")
        part.input(app.select_part, [part], outputs)
        point_maps.change(app.show_point_maps, [point_maps, prompt], outputs)
        demo.unload(app.unload)
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    return demo

