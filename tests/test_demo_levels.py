"""The hierarchy of parts on the page (issues 22 and 23): stepping through the levels after
Segment everything, and prompt files of several granularities uploaded as a parts tree.

Driven as the page drives DemoApp (a fake gr.Request per test, the offline geometry
segmenter, 256 px views)."""

from __future__ import annotations

import json
import types
from pathlib import Path

import numpy as np
import pytest

from demo.callbacks import DemoApp
from demo.hierarchy import COARSER, FINER, region_counts, shown_level
from demo.model import SharedModel
from demo.prompting import empty_prompt
from demo.state import DEMO_DEFAULTS
from tests.test_demo import download_files, example, load, no_progress, on_part, segment, session_of, shown
from tests.test_prompt_levels import LEVELS, _check_tree, _write_levels, six_boxes  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> DemoApp:
    return DemoApp(SharedModel(), DEMO_DEFAULTS, temp_root=str(tmp_path_factory.mktemp("demo")))


@pytest.fixture
def request_(request):
    return types.SimpleNamespace(session_hash=request.node.name)


def everything(app, request) -> dict:
    return shown(app.segment_everything(empty_prompt(), request, no_progress))


def step(app, request, direction: int) -> dict:
    return shown(app.step_level(direction, empty_prompt(), request))


def test_levels_step_coarser_and_finer_after_segment_everything_and_undo_goes_back(app, request_):
    load(app, request_, example("chair"))
    user = app.store.get(request_.session_hash)
    session = session_of(app, request_)
    screen = everything(app, request_)
    first = shown_level(user)
    counts = region_counts(user.browse)
    assert first is not None and f"Level {first + 1} of {len(counts)}" in screen["levels"]
    assert len(counts) >= 3 and np.all(np.diff(counts) >= 0)
    while shown_level(user) > 0:  # down to the coarsest level, each step its regions' count of parts
        before = session.labels
        screen = step(app, request_, COARSER)
        level = shown_level(user)
        assert len(session.parts) == counts[level] and f"Level {level + 1} of" in screen["levels"]
        levels = user.browse.levels[level]  # the parts are the level's regions, one to one
        pairs = np.unique(np.stack([levels, session.labels]), axis=1)
        assert len(pairs[0]) == len(np.unique(pairs[0])) == len(np.unique(pairs[1]))
        assert not np.array_equal(before, session.labels) or counts[level] == counts[level + 1]
    with pytest.warns(UserWarning, match="coarsest level already"):
        step(app, request_, COARSER)
    coarsest = session.labels
    step(app, request_, FINER)
    step(app, request_, FINER)
    assert len(session.parts) == counts[2]
    app.undo(empty_prompt(), request_)
    assert shown_level(user) == 1 and len(session.parts) == counts[1]
    app.undo(empty_prompt(), request_)
    assert shown_level(user) == 0 and np.array_equal(session.labels, coarsest)
    app.redo(empty_prompt(), request_)
    assert shown_level(user) == 1


def test_levels_keep_the_users_parts_and_an_edit_ends_the_browsing(app, request_):
    load(app, request_, example("chair"))
    user = app.store.get(request_.session_hash)
    session = session_of(app, request_)
    with pytest.warns(UserWarning, match="Press Segment everything first"):
        step(app, request_, FINER)
    segment(app, request_, on_part(app, request_, 0))
    (mine,) = session.parts
    everything(app, request_)  # (it may give my part faces next to it)
    mine_faces = session.labels == mine.id
    while shown_level(user) < len(user.browse.levels) - 1:
        step(app, request_, FINER)
        assert np.array_equal(session.labels == mine.id, mine_faces) and session.part(mine.id).name == mine.name
    with pytest.warns(UserWarning, match="finest level already"):
        step(app, request_, FINER)
    screen = shown(app.rename(mine.id, "seat", empty_prompt(), request_))
    assert shown_level(user) is None and "Segment everything" in screen["levels"]
    with pytest.warns(UserWarning, match="Press Segment everything first"):
        step(app, request_, COARSER)
    app.undo(empty_prompt(), request_)  # back on a level: browsing again
    assert shown_level(user) == len(user.browse.levels) - 1


def test_prompt_files_upload_nests_their_levels_into_a_tree_the_exports_keep(app, request_, six_boxes, tmp_path, capsys):
    path, faces_box, points = six_boxes
    load(app, request_, path)
    paths = [str(p) for p in _write_levels(tmp_path, points)]
    screen = shown(app.add_prompt_files(paths, empty_prompt(), request_, no_progress))
    assert "Parts made: 2 from scale3.json, 3 from scale2.json, 5 from scale1.json." in capsys.readouterr().out  # gr.Info, off a page
    session = session_of(app, request_)
    assert len(session.parts) == sum(len(objects) for objects in LEVELS.values())
    record = json.loads(Path(download_files(app, request_)["json"]).read_text())
    _check_tree(record, faces_box)
    names = {p.id: p.name for p in session.parts}
    rows = {row[1].strip("\u2003\u2514 "): row[4] for row in screen["parts"]}
    assert all(rows[p.name] == names.get(p.parent, "") for p in session.parts)  # the parent column
    while session.can_undo:  # one undo step per group of siblings
        app.undo(empty_prompt(), request_)
    assert not session.parts


def test_a_bad_prompt_file_says_what_is_wrong_and_keeps_the_work(app, request_, six_boxes, tmp_path):
    path, faces_box, points = six_boxes
    load(app, request_, path)
    segment(app, request_, {"view": 0, "clicks": [[*(points[0] / 4), 1]], "box": []})
    labels = session_of(app, request_).labels
    bad = tmp_path / "bad.json"
    for content, words in (
        ("{not json", "Cannot read the prompt file bad.json"),
        (json.dumps([{"frame_idx": 12, "obj_id": 1, "point": [1, 2]}]), "views are 0 to 11"),
        (json.dumps([{"frame_idx": 0, "obj_id": 1, "point": [2.0, 2.0], "label": 1}]), "made no part"),
    ):
        bad.write_text(content)
        with pytest.warns(UserWarning, match=words):
            app.add_prompt_files([str(bad)], empty_prompt(), request_, no_progress)
        assert session_of(app, request_).labels is labels
    with pytest.warns(UserWarning, match="Choose one or more prompt files"):
        app.add_prompt_files([], empty_prompt(), request_, no_progress)


def test_the_generated_example_opens_segmented_with_its_levels_ready(tmp_path):
    from demo.layout import GENERATED, build_demo, example_files
    from geosam2.io.digest import file_sha256

    app = DemoApp(SharedModel(), DEMO_DEFAULTS, temp_root=str(tmp_path))
    try:
        build_demo(app, preload=None, sweep_seconds=3600)
        examples = example_files()
        assert examples[1].parent.name == GENERATED and examples[1].stem == "dragon"  # second, after the drill
        assert app.segmented_at_load == {file_sha256(str(examples[1]))}
        app.segment_at_load([example("figure")])  # (the dragon's 200k faces take ~25 s: a small stand-in)
        request = types.SimpleNamespace(session_hash="visitor")
        screen = load(app, request, example("figure"))
        user = app.store.get("visitor")
        assert user.session.parts and shown_level(user) is not None and "Level" in screen["levels"]
        assert screen["viewer"] != user.look and user.version == 1  # the parts in colour, the files to prepare
        step(app, request, FINER)
        other = types.SimpleNamespace(session_hash="another")
        load(app, other, example("figure"))  # another visitor: the same bound segmenter, no second hierarchy
        assert session_of(app, other).segmenter is session_of(app, request).segmenter
        assert len(session_of(app, other).parts) < len(session_of(app, request).parts)  # each their own parts
    finally:
        app.close()


def test_the_generated_dragon_opens_on_the_default_level_with_several_parts(tmp_path):
    """Shown segmented at load, the generated dragon (one piece and a crumb) opens with
    Segment everything's parts (`Session.segment_everything`, as `segment --auto`: the
    engine's default level), several, none half the surface, browsed as a level."""
    from demo.layout import example_files

    dragon = example_files()[1]
    app = DemoApp(SharedModel(), DEMO_DEFAULTS, temp_root=str(tmp_path))
    try:
        app.segment_at_load([dragon])
        request = types.SimpleNamespace(session_hash="visitor")
        screen = load(app, request, dragon)
        user = app.store.get("visitor")
        assert shown_level(user) is not None and "Level" in screen["levels"]
        areas = np.bincount(user.session.labels, user.session.mesh.face_areas)
        assert len(user.session.parts) >= 5 and areas.max() < 0.5 * areas.sum()
    finally:
        app.close()
