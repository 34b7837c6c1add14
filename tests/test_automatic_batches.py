"""The automatic mode with a tiny random GeoSAM2 under a small memory budget: batches
sized by the memory give what one batch gives, progress per view and per batch, and a
cancelled run keeps the parts it finished."""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import numpy as np
import pytest
import trimesh

from geosam2.io.mesh import from_arrays
from geosam2.pipeline.session import Session
from geosam2.segmenters.batching import NetworkMemory, decoder_bytes, tracking_bytes
from geosam2.segmenters.geosam2 import GeoSAM2Segmenter
from geosam2.segmenters.prompts import Prompt
from geosam2.segmenters.proposals import ProposalSettings
from geosam2.segmenters.steps import Cancelled, Steps
from geosam2.settings import MB
from tests.factories import make_box_mesh
from tests.test_predictor import SIZE, click, model, views  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see conftest

CLICKS = 12
PERMISSIVE = ProposalSettings(max_points=CLICKS, pred_iou_thresh=-1.0, stability_thresh=0.0)  # random weights keep masks


@pytest.fixture(scope="module")
def mesh():
    """The slab with a cube on top of `tests.test_predictor.views`."""
    slab, cube = make_box_mesh((1.0, 0.8, 0.3)), make_box_mesh((0.4, 0.4, 0.4))
    vertices = np.concatenate([slab.vertices, cube.vertices + (0.0, 0.0, 0.35)])
    return from_arrays(vertices, np.concatenate([slab.faces, cube.faces + len(slab.vertices)]))


def tracked_bytes(model) -> int:
    return tracking_bytes(model.image_size, model.num_maskmem, model.max_obj_ptrs_in_encoder)


def segmenter(model, items: int | None, profile="official", item_bytes=None):
    """A GeoSAM2 segmenter whose memory budget holds `items` tracked parts (or `items` of
    `item_bytes`; None: no cap, batches of up to 64), decoding at most `items` clicks together."""
    item_bytes = tracked_bytes(model) if item_bytes is None else item_bytes
    if items is None:
        return GeoSAM2Segmenter(model, max_batch=64, profile=profile, proposal_settings=PERMISSIVE)
    memory = NetworkMemory(share=1.0, cap_mb=(items + 0.5) * item_bytes / MB)
    settings = replace(PERMISSIVE, points_per_batch=items)
    return GeoSAM2Segmenter(model, max_batch=64, profile=profile, memory=memory, proposal_settings=settings)


def test_the_batch_size_follows_the_budget():
    memory = NetworkMemory(share=1.0, cap_mb=10)
    assert memory.batch_size(MB, most=64) == 10 and memory.batch_size(MB, most=4) == 4
    assert memory.batch_size(100 * MB, most=64) == 1  # never below one
    assert NetworkMemory(share=0.5).budget_bytes() > 0  # the machine's available memory


def test_batches_of_one_three_and_all_give_the_same_masks(model, views):
    prompts = [click(views, 2, nth=n) for n in (0, 40, 80, 120, 160)] + [click(views, 7, nth=30)]
    reference = segmenter(model, None).segment(views, prompts)
    for items in (1, 3):
        found = segmenter(model, items).segment(views, prompts)
        np.testing.assert_array_equal(found.masks, reference.masks)
        np.testing.assert_allclose(found.scores, reference.scores, atol=1e-5)
        np.testing.assert_allclose(found.stability, reference.stability, atol=1e-5)


class ClickingSegmenter(GeoSAM2Segmenter):
    """GeoSAM2 proposing eight fixed clicks spread over the region (a random network's
    proposals may be one mask): the tracking of many parts in batches, on the network."""

    def propose_prompts(self, views, view, region, settings=None):
        super().propose_prompts(views, view, region, settings)  # the generator runs (and reports) all the same
        pixels = np.argwhere(region)
        return [Prompt(view, points=[pixels[k][::-1] + 0.5]) for k in np.linspace(0, len(pixels) - 1, 8).astype(int)]


def test_the_clicks_decoded_together_follow_the_budget(model, views):
    reports = []
    network = segmenter(model, 2, "default", item_bytes=decoder_bytes(model.image_size))
    network.report_to(Steps(lambda share, text: reports.append(text)))
    network.propose_prompts(views, 0, views.silhouette[0], replace(PERMISSIVE, points_per_batch=64))
    assert len(reports) == CLICKS // 2 and all("(batches of 2)" in text for text in reports)


def run_everything(model, mesh, items, profile="official", cancel_after=None, kind=GeoSAM2Segmenter):
    """(session, update, reports) of segment everything at 64 px with batches of `items`;
    `cancel_after`: cancel when a report's text contains it."""
    reports = []
    network = segmenter(model, items, profile)
    network.__class__ = kind
    session = Session(mesh, network, resolution=SIZE, profile=profile)

    def report(share, text):
        reports.append((share, text))
        if cancel_after is not None and cancel_after in text:
            steps.cancel()

    steps = Steps(report)
    return session, session.segment_everything(steps), reports


@pytest.mark.parametrize("profile", ["official", "default"])
def test_segment_everything_in_batches_reports_each_view_and_batch_and_gives_the_same_parts(model, mesh, profile):
    _, whole, _ = run_everything(model, mesh, None, profile)
    session, batched, reports = run_everything(model, mesh, 3, profile)
    np.testing.assert_array_equal(batched.labels, whole.labels)
    assert len(batched.parts) == len(whole.parts)
    assert len(whole.parts) > 0 or profile == "official"  # the release's filters may keep no part of a random network
    shares = [share for share, _ in reports]
    assert shares == sorted(shares) and 0 <= shares[0] and shares[-1] <= 1
    texts = [text for _, text in reports]
    decoded = [t for t in texts if t.startswith("view 0: proposing parts") and "decoded (batches of 3)" in t]
    assert len(decoded) == -(-CLICKS // 3)  # one report per batch of clicks on view 0
    assert any(t.startswith("view 0: tracking") and "(batches of 3)" in t for t in texts)
    second = any(t.startswith(f"view {session.views.rig.opposite(0)}: proposing parts") for t in texts)
    assert second == (profile == "official")  # the release's second pass, on the view opposite


@pytest.mark.parametrize("profile", ["default", "improved"])
def test_cancelling_after_the_first_batch_keeps_the_parts_found_so_far(model, mesh, profile):
    session, stopped, reports = run_everything(model, mesh, 3, profile, cancel_after="parts tracked", kind=ClickingSegmenter)
    tracked = [text for _, text in reports if "parts tracked" in text]
    assert len(tracked) == 1 and "3 of 8 parts tracked" in tracked[0]  # no batch after the cancel
    assert not any(text.startswith(f"view {session.views.rig.opposite(0)}") for _, text in reports)  # nor a second pass
    assert 0 < len(stopped.parts) <= 3  # the parts of the first batch, kept
    assert session.can_undo and (stopped.labels >= 0).any()
    assert not session.segmenter.steps.cancelled  # the next call is not cancelled


def test_cancelled_while_proposing_changes_nothing(model, mesh):
    session, stopped, reports = run_everything(model, mesh, 3, "default", cancel_after="decoded")
    assert (stopped.labels == -1).all() and not stopped.parts
    assert sum("decoded" in text for _, text in reports) == 1
    with pytest.raises(Cancelled):
        cancelled = Steps()
        cancelled.cancel()
        cancelled.check()


def test_stop_in_the_demo_cancels_that_users_running_step(tmp_path):
    import threading
    import time
    import types

    from demo.callbacks import DemoApp
    from demo.layout import EXAMPLES_DIR
    from demo.model import SharedModel
    from demo.state import DEMO_DEFAULTS

    def no_progress(*args, **kwargs):
        pass

    app = DemoApp(SharedModel(), DEMO_DEFAULTS.with_values(resolution=256), temp_root=str(tmp_path))
    request, other = types.SimpleNamespace(session_hash="visitor"), types.SimpleNamespace(session_hash="other")
    app.load(str(EXAMPLES_DIR / "figure.glb"), app.page_settings(0.02, 5, 256, "Offline geometry"), False, request, no_progress)
    session = app.store.get("visitor").session
    started, seen = threading.Event(), []
    everything = session.segment_everything

    def until_cancelled(steps):
        started.set()
        for _ in range(300):
            if steps.cancelled:
                break
            time.sleep(0.1)
        seen.append(steps.cancelled)
        return everything(steps)

    session.segment_everything = until_cancelled
    event = threading.Thread(target=lambda: app.segment_everything({"view": 0, "clicks": [], "box": []}, request, no_progress))
    event.start()
    started.wait(30)
    app.stopped(other)  # another user's Stop: not this step
    time.sleep(0.3)
    assert not seen
    app.stopped(request)
    event.join(60)
    assert seen == [True] and not app.running  # cancelled, and forgotten when it ended
    app.stopped(request)  # nothing running: nothing to stop
    app.close()


class InterruptedAfterFirstBatch(ClickingSegmenter):
    """Ctrl-C (SIGINT to this process) right after the first batch of tracked parts."""

    def report_to(self, steps):
        super().report_to(steps)
        reported = steps.done

        def done(finished, total, text=""):
            reported(finished, total, text)
            if "parts tracked" in text:
                os.kill(os.getpid(), signal.SIGINT)

        steps.done = done


@pytest.mark.parametrize("kind, profile", [(InterruptedAfterFirstBatch, "default"), (GeoSAM2Segmenter, "official")])
def test_cli_ctrl_c_keeps_the_parts_found_and_finding_none_is_said(model, mesh, kind, profile, tmp_path, monkeypatch, capsys):
    from geosam2.cli import main
    from geosam2.cli import segment as command

    network = segmenter(model, 3, profile)
    network.__class__ = kind
    monkeypatch.setattr(command, "choose_segmenter", lambda *args, **kwargs: network)
    path = tmp_path / "slab_and_cube.obj"
    trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).export(path)
    code = main(["segment", str(path), "--auto", "--profile", profile, "--resolution", str(SIZE), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    if kind is InterruptedAfterFirstBatch:  # stopped after 3 of 8 parts: those kept and exported
        assert code == 0 and "stopping at the next batch" in captured.err, captured.err
        parts = int(captured.out.split(" parts,")[0].split()[-1])
        assert 0 < parts <= 3
    else:  # the release's filters keep no part of a random network: said, not "0 parts"
        assert code == 2 and "found no part" in captured.err and "Traceback" not in captured.err, captured.err


def test_the_network_memory_setting_caps_the_batches(monkeypatch):
    from geosam2.cli import build_parser
    from geosam2.cli.options import settings_of
    from geosam2.settings import Settings, SettingsError

    assert NetworkMemory.of(Settings()).cap_mb is None  # 0: half the free memory, no cap
    assert NetworkMemory.of(Settings(network_mb=512)).cap_mb == 512
    monkeypatch.setenv("GEOSAM2_NETWORK_MB", "256")
    args = build_parser().parse_args(["segment", "x.glb", "--auto", "--out", "o"])
    assert settings_of(args).network_mb == 256
    args = build_parser().parse_args(["segment", "x.glb", "--auto", "--network-mb", "64", "--out", "o"])
    assert NetworkMemory.of(settings_of(args)).budget_bytes() <= 64 * MB
    with pytest.raises(SettingsError, match="GeoSAM2's automatic mode"):
        Settings(network_mb=-1)
