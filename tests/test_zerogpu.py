"""The demo on ZeroGPU, with a stand-in `spaces` module: its GPU decorator runs each call
in a forked process with pickled arguments and result (as ZeroGPU's worker does), and
touching CUDA in the server's process fails the test. A tiny random GeoSAM2 (Hiera-T,
64 px input) is driven through the page's handlers: the parts persist across calls and
are the labels a local Session gives."""

from __future__ import annotations

import multiprocessing
import os
import sys
import types

import numpy as np
import pytest
import torch

from tests.browser import part_pixel
from demo.callbacks import DemoApp
from demo.gpu import GpuTime
from demo.layout import EXAMPLES_DIR
from demo.model import GEOSAM2, load_shared_model
from demo.prompting import empty_prompt
from demo.state import DEMO_DEFAULTS
from geosam2.model import build_geosam2, save_geosam2
from geosam2.pipeline.workspace import Workspace
from geosam2.segmenters.geosam2 import GeoSAM2Segmenter
from geosam2.segmenters.prompts import Prompt

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see conftest

RESOLUTION = 256


def no_progress(*args, **kwargs):
    pass


class StandInSpaces(types.ModuleType):
    """`spaces` as ZeroGPU runs it: `GPU(duration=...)` runs the function in a fresh forked
    process, arguments and result pickled; `calls` records (function name, seconds asked)."""

    def __init__(self):
        super().__init__("spaces")
        self.calls = []

    def GPU(self, function=None, duration=60):
        def decorate(fn):
            def in_worker(*args):
                seconds = duration(*args) if callable(duration) else duration
                self.calls.append((args[0].__name__, seconds))
                with multiprocessing.get_context("fork").Pool(1) as pool:
                    return pool.apply(fn, args)

            return in_worker

        return decorate if function is None else decorate(function)


@pytest.fixture
def spaces(monkeypatch):
    """The stand-in installed; CUDA initialised in this (the server's) process raises, and
    asked about it answers "none" (SAM2 asks while building its position encoding)."""
    server = os.getpid()

    def guarded(real, answer=None):
        def touch(*args, **kwargs):
            if os.getpid() != server:
                return real(*args, **kwargs)
            if answer is None:
                raise AssertionError("CUDA touched outside a GPU call")
            return answer

        return touch

    monkeypatch.setattr(torch.cuda, "is_available", guarded(torch.cuda.is_available, answer=False))
    for name in ("device_count", "_lazy_init", "init", "synchronize"):
        monkeypatch.setattr(torch.cuda, name, guarded(getattr(torch.cuda, name)))
    monkeypatch.setattr(torch.Tensor, "cuda", guarded(torch.Tensor.cuda))
    module = StandInSpaces()
    monkeypatch.setitem(sys.modules, "spaces", module)
    return module


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny random GeoSAM2 whose object-score head always says "present"."""
    torch.manual_seed(0)
    network = build_geosam2("tiny", 64)
    head = network.sam_mask_decoder.pred_obj_score_head.layers[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(10.0)
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    save_geosam2(network, path)
    return str(path)


def local_session(user):
    """A Session of the user's mesh and views with the same network run here, in this process."""
    segmenter = GeoSAM2Segmenter(user.session.segmenter.model, profile=user.settings.run.profile)
    return Workspace(user.workspace.workpiece, segmenter, user.settings.run, views=user.session.views).session


def test_the_page_on_zerogpu_keeps_the_work_in_the_server(spaces, checkpoint, tmp_path):
    model = load_shared_model(checkpoint)
    assert model.network is not None and not model.encodes_at_start
    assert model.network.device.type == "cpu"
    app = DemoApp(model, DEMO_DEFAULTS.with_values(resolution=RESOLUTION), temp_root=str(tmp_path))
    request = types.SimpleNamespace(session_hash="visitor")
    path = EXAMPLES_DIR / "figure.glb"
    app.load(str(path), app.page_settings(0.02, 5, RESOLUTION, GEOSAM2), False, request, no_progress)
    user = app.store.get("visitor")
    views, mesh = user.session.views, user.session.mesh
    view = 0
    x, y = part_pixel(views.face_ids[view], mesh.part_ids, mesh.part_names.index("head"))
    prompt = {"view": view, "clicks": [[x, y, True]], "box": []}
    assert app.candidates(prompt, None, False, request)  # a click: one GPU call, its features kept here
    assert [name for name, _ in spaces.calls] == ["encode_views", "seed_candidates"]
    app.click((x, y), "Positive click", empty_prompt(view), request)  # no GPU call
    assert len(spaces.calls) == 2
    app.segment(prompt, None, 0.02, False, False, request, no_progress)
    assert len(user.session.parts) == 1  # the part stays in the server's state
    assert "encode_views" not in [name for name, _ in spaces.calls[2:]]  # the features stayed here
    app.segment_everything(prompt, request, no_progress)
    assert len(user.session.parts) > 1
    calls = len(spaces.calls)
    app.undo(prompt, request)
    app.redo(prompt, request)
    assert len(spaces.calls) == calls  # no GPU wait for what needs none
    assert all(0 < seconds <= model.runner.time.cap for _, seconds in spaces.calls)
    prepared = app.meshes.get(str(path), RESOLUTION)
    assert prepared.encoded and all(level.device.type == "cpu" for level in prepared._features.fpn)

    local = local_session(user)
    local.add_part(Prompt(view, points=[[x, y]]))
    local.segment_everything()
    assert np.array_equal(local.labels, user.session.labels)


def test_gpu_time_follows_the_measured_work_and_is_capped():
    time = GpuTime(per_unit=0.5, overhead=10.0, cap=120.0, margin=2.0)
    assert time.seconds(4) == 12.0
    assert time.seconds(10_000) == 120.0  # never more than ZeroGPU grants
    time.measured(work=40, seconds=2.0)  # 0.05 s per unit measured
    assert time.seconds(13 * 12) == pytest.approx(10.0 + 13 * 12 * 0.1)
