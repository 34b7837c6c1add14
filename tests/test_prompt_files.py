"""The release's point-prompt files: one part per object id, clicks scaled to our views."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geosam2.io.prompt_files import RELEASE_VIEW_SIZE, PromptFileError, read_prompt_file, read_prompt_levels


def _write(path, entries):
    path.write_text(json.dumps(entries, indent=2))  # indented, as the release's files
    return path


def test_clicks_of_one_object_make_one_prompt_scaled_to_the_views(tmp_path):
    entries = [
        {"frame_idx": 2, "obj_id": 7, "point": [512.0, 256.0], "label": 1},
        {"frame_idx": 2, "obj_id": 3, "point": [100.0, 900.0]},  # label defaults to positive
        {"frame_idx": 2, "obj_id": 7, "point": [1024.0, 0.0], "label": 0},
    ]
    level = read_prompt_file(_write(tmp_path / "p.json", entries), resolution=256, num_views=12)
    assert level.object_ids == (3, 7)
    three, seven = level.prompts
    assert three.view == seven.view == 2
    scale = 256 / RELEASE_VIEW_SIZE
    np.testing.assert_allclose(three.points, [[100 * scale, 900 * scale]])
    np.testing.assert_allclose(seven.points, [[512 * scale, 256 * scale], [1024 * scale, 0]])
    assert seven.labels.tolist() == [1, 0] and three.labels.tolist() == [1]
    assert level.ignored == ()


def test_an_object_on_two_views_is_prompted_where_most_of_its_clicks_are_and_says_so(tmp_path):
    entries = [
        {"frame_idx": 0, "obj_id": 1, "point": [10, 10], "label": 1},
        {"frame_idx": 5, "obj_id": 1, "point": [20, 20], "label": 1},
        {"frame_idx": 5, "obj_id": 1, "point": [30, 30], "label": 1},
        {"frame_idx": 0, "obj_id": 2, "point": [40, 40], "label": 0},
    ]
    level = read_prompt_file(_write(tmp_path / "p.json", entries), resolution=1024, num_views=12)
    assert level.object_ids == (1,)
    assert level.prompts[0].view == 5 and len(level.prompts[0].points) == 2
    assert len(level.ignored) == 2  # the click off view 5, and object 2 with negative clicks only


@pytest.mark.parametrize(
    "entries, words",
    [
        ({"frame_idx": 0}, "JSON list"),
        ([], "JSON list"),
        ([{"obj_id": 1, "point": [1, 2]}], "frame_idx"),
        ([{"frame_idx": 0, "obj_id": 1, "point": [1]}], "[x, y]"),
        ([{"frame_idx": 0, "obj_id": 1, "point": ["a", 2]}], "[x, y]"),
        ([{"frame_idx": 0, "obj_id": 1, "point": [float("nan"), 2]}], "finite"),
        ([{"frame_idx": 0, "obj_id": 1, "point": [1, 2], "label": 2}], "label"),
        ([{"frame_idx": 12, "obj_id": 1, "point": [1, 2]}], "views are 0 to 11"),
        ([{"frame_idx": 0, "obj_id": 1, "point": [2000, 2]}], "outside"),
        ([{"frame_idx": 0.5, "obj_id": 1, "point": [1, 2]}], "whole number"),
    ],
)
def test_malformed_files_are_refused_with_a_sentence(tmp_path, entries, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(entries, allow_nan=True))
    with pytest.raises(PromptFileError, match=words.replace("[", r"\[").replace("]", r"\]")):
        read_prompt_file(path, resolution=512, num_views=12)


def test_not_json_is_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b"\x00\xff not json")
    with pytest.raises(PromptFileError, match="Cannot read"):
        read_prompt_file(path, resolution=512, num_views=12)


def test_levels_are_ordered_coarsest_first(tmp_path):
    def level(name, objects):
        return _write(tmp_path / name, [{"frame_idx": 0, "obj_id": i, "point": [10 * i, 10]} for i in range(1, objects + 1)])

    paths = [level("fine.json", 5), level("coarse.json", 2), level("mid.json", 3)]
    levels = read_prompt_levels(paths, resolution=512, num_views=12)
    assert [lv.source for lv in levels] == ["coarse.json", "mid.json", "fine.json"]


def test_files_shaped_as_the_release_example_are_read_as_its_four_levels(tmp_path):
    """The release's example: four files of 20, 16, 10 and 8 objects (ids with gaps, the
    coarser ids a subset of the finer), several positive float clicks per object, all on
    view 0, each entry with frame_idx, obj_id, point and label, indented JSON."""
    counts = {"point_prompts_scale1.json": 20, "point_prompts_scale2.json": 16, "point_prompts_scale3.json": 10, "point_prompts_scale4.json": 8}
    all_ids = [1, 2, 3, 8, 9, 14, 15, 19, 20, 21, 10, 11, 12, 16, 17, 18, 4, 5, 6, 7]  # no 13, as the release
    paths = []
    for name, count in counts.items():
        entries = [
            {"frame_idx": 0, "obj_id": obj, "point": [float(100 + 30 * k), float(200 + 40 * j)], "label": 1}
            for k, obj in enumerate(all_ids[:count])
            for j in range(1 + obj % 4)
        ]
        paths.append(_write(tmp_path / name, entries))
    levels = read_prompt_levels(paths, resolution=512, num_views=12)
    assert [level.source for level in levels] == list(reversed(counts))
    for level, count in zip(levels, reversed(counts.values())):
        assert level.object_ids == tuple(sorted(all_ids[:count])) and level.ignored == ()
        assert all(p.view == 0 and len(p.points) == 1 + obj % 4 and (p.labels == 1).all() for p, obj in zip(level.prompts, level.object_ids))
