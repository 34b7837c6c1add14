"""Prompt files of several granularities nested into one parts tree, in the release's
format (`geosam2 segment MESH --prompts coarse.json --prompts fine.json`), with the
geometry segmenter on six separate boxes (2 rows of 3): the coarse file prompts 2
objects (the left four boxes, the right two), the middle one 3 (the columns), the fine
one 5 (the boxes but one), each object clicked once per box at an interior pixel of view 0 at
the release's 1024 px."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from geosam2.cli import main
from geosam2.io.mesh import load_mesh
from geosam2.io.prompt_files import RELEASE_VIEW_SIZE, read_prompt_levels
from geosam2.pipeline.workspace import Workspace
from geosam2.render import render_views
from geosam2.render.rig import official_rig
from geosam2.segmenters.geometry import GeometrySegmenter
from geosam2.segmenters.prompts import interior_point
from geosam2.settings import Settings
from tests.stress import box

RESOLUTION = 256  # the session's views; the files' clicks are in 1024-px pixels, scaled
BOXES = 6
FACES_PER_BOX = 12 * 4**2  # each box subdivided twice, for the proxy
LEVELS = {  # file stem: {obj_id: boxes}, ids with gaps as in the release's files
    "scale3": {1: (0, 1, 3, 4), 2: (2, 5)},
    "scale2": {1: (0, 3), 3: (1, 4), 2: (2, 5)},
    "scale1": {k + 1: (k,) for k in range(BOXES) if k != 4},  # box 4 left to its column's part
}


@pytest.fixture(scope="module")
def six_boxes(tmp_path_factory):
    """(path of a PLY of six separate boxes, (F,) box index per face, (BOXES, 2) float
    interior (x, y) of each box on view 0 at 1024 px)."""
    pieces = [box((1, 1, 1), (1.6 * (k % 3), 0.0, 1.6 * (k // 3)), subdivisions=2) for k in range(BOXES)]
    path = tmp_path_factory.mktemp("levels") / "six_boxes.ply"
    trimesh.util.concatenate(pieces).export(path)
    mesh = load_mesh(path)
    faces_box = np.arange(mesh.num_faces) // FACES_PER_BOX
    ids = render_views(mesh, official_rig(mesh.bbox_size, resolution=RELEASE_VIEW_SIZE, num_views=1)).face_ids[0]
    shows = faces_box[np.maximum(ids, 0)]
    points = np.array([interior_point((ids >= 0) & (shows == k)) for k in range(BOXES)])
    return path, faces_box, points


def _write_levels(folder, points, levels=LEVELS) -> list:
    """One release-format file per level (fine first: the reader orders them), each
    object one positive click per box on view 0; returns their paths."""
    paths = []
    for stem, objects in reversed(levels.items()):
        entries = [
            {"frame_idx": 0, "obj_id": obj, "point": [float(v) for v in points[k]], "label": 1}
            for obj, boxes in objects.items()
            for k in boxes
        ]
        paths.append(folder / f"{stem}.json")
        paths[-1].write_text(json.dumps(entries, indent=2))
    return paths


def _subtree_faces(labels: np.ndarray, parts: list, part_id: int) -> np.ndarray:
    """(F,) bool faces labelled with `part_id` or any of its descendants."""
    ids, frontier = {part_id}, {part_id}
    while frontier:
        frontier = {p["id"] for p in parts if p["parent"] in frontier}
        ids |= frontier
    return np.isin(labels, list(ids))


def _check_tree(record: dict, faces_box: np.ndarray) -> None:
    """Each level's objects made one part each, nested in the level above, on their boxes."""
    labels, parts = np.asarray(record["labels"]), record["parts"]
    by_name = {p["name"]: p for p in parts}
    stems = list(LEVELS)
    for depth, stem in enumerate(stems):
        level = [p for p in parts if p["name"].startswith(stem + "_obj")]
        assert sorted(p["name"] for p in level) == sorted(f"{stem}_obj{obj}" for obj in LEVELS[stem])
        for obj, boxes in LEVELS[stem].items():
            part = by_name[f"{stem}_obj{obj}"]
            faces = _subtree_faces(labels, parts, part["id"])
            assert faces.any() and np.isin(faces_box[faces], boxes).all()
            if depth == 0:
                assert part["parent"] is None
                continue
            parent = next(p for p in parts if p["id"] == part["parent"])
            assert parent["name"].startswith(stems[depth - 1] + "_obj")
            assert set(boxes) <= set(LEVELS[stems[depth - 1]][int(parent["name"].rsplit("obj", 1)[1])])
            assert not (faces & ~_subtree_faces(labels, parts, parent["id"])).any()


def _check_scene(scene: trimesh.Scene, parts: list) -> None:
    """The parts scene nests each part's node under the node of its nearest ancestor
    owning faces (a parent whose children took all its faces has no node)."""
    by_id = {p["id"]: p for p in parts}
    parents = scene.graph.transforms.parents
    for part in parts:
        if not part["faces"]:
            continue
        ancestor = by_id.get(part["parent"])
        while ancestor is not None and not ancestor["faces"]:
            ancestor = by_id.get(ancestor["parent"])
        node = part["file_name"]
        assert node in parents
        while node in parents and node != (ancestor or {}).get("file_name"):
            node = parents[node]
        assert node == (ancestor["file_name"] if ancestor else scene.graph.base_frame)


@pytest.mark.parametrize("budget", [0, 600], ids=["mesh", "proxy"])
def test_prompt_files_nest_into_a_parts_tree(six_boxes, tmp_path, capsys, budget):
    path, faces_box, points = six_boxes
    argv = ["segment", str(path), "--segmenter", "geometry", "--resolution", str(RESOLUTION), "--face-budget", str(budget)]
    for prompts in _write_levels(tmp_path, points):
        argv += ["--prompts", str(prompts)]
    out = tmp_path / "out"
    assert main(argv + ["--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert ("proxy" in captured.err) == bool(budget) and "warning" not in captured.err
    record = json.loads((out / "six_boxes_labels.json").read_text())
    assert len(record["labels"]) == BOXES * FACES_PER_BOX
    _check_tree(record, faces_box)
    np.testing.assert_array_equal(np.load(out / "six_boxes_labels.npy"), record["labels"])
    _check_scene(trimesh.load(out / "six_boxes_scene.glb"), record["parts"])

    assert main(argv + ["--auto", "--out", str(tmp_path / "auto")]) == 0  # the rest filled, the tree kept
    record = json.loads((tmp_path / "auto" / "six_boxes_labels.json").read_text())
    assert min(record["labels"]) >= 0
    _check_tree(record, faces_box)


def test_left_out_clicks_and_objects_are_said(six_boxes, tmp_path):
    path, faces_box, points = six_boxes
    levels = {"coarse": {1: (0, 1, 3, 4)}, "fine": {1: (0,), 2: (1,), 6: (5,)}}  # box 5 lies in no coarse part
    paths = _write_levels(tmp_path, points, levels)
    fine = json.loads(paths[0].read_text())
    fine += [
        {"frame_idx": 0, "obj_id": 7, "point": [2.0, 2.0], "label": 1},  # the background
        {"frame_idx": 0, "obj_id": 8, "point": [float(v) for v in points[3]], "label": 0},  # negative only
    ]
    paths[0].write_text(json.dumps(fine))
    workspace = Workspace(path, GeometrySegmenter(), Settings(resolution=RESOLUTION))
    coarse, fine = workspace.add_prompt_levels(read_prompt_levels(paths, RESOLUTION, 12))
    assert list(coarse.parts) == [1] and coarse.notes == ()
    assert sorted(fine.parts) == [1, 2, 6]
    parts = {p.id: p for p in workspace.session.parts}
    assert parts[fine.parts[1]].parent == parts[fine.parts[2]].parent == coarse.parts[1]
    assert parts[fine.parts[6]].parent is None and parts[fine.parts[6]].name == "fine_obj6"
    notes = " | ".join(fine.notes)
    for words in ("object 6 lies in no part of the level above", "object 7 dropped", "background", "object 8: only negative"):
        assert words in notes, notes
    assert len(fine.notes) == 3


def test_prompt_files_are_checked_before_the_mesh_is_read(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"frame_idx": 12, "obj_id": 1, "point": [1, 2]}]))
    argv = ["segment", str(tmp_path / "missing.ply"), "--prompts", str(bad), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert "views are 0 to 11" in capsys.readouterr().err


class CountingSegmenter(GeometrySegmenter):
    """The geometry segmenter, counting the prompts it is asked to segment."""

    prompts_segmented = 0

    def segment(self, views, prompts):
        CountingSegmenter.prompts_segmented += len(prompts)
        return super().segment(views, prompts)


def test_each_level_is_segmented_once(six_boxes, tmp_path):
    """A level's prompts are segmented once, for finding their parents and making their
    parts alike (with GeoSAM2 a second pass would double the network's time)."""
    path, faces_box, points = six_boxes
    workspace = Workspace(path, CountingSegmenter(), Settings(resolution=RESOLUTION))
    levels = read_prompt_levels(_write_levels(tmp_path, points), RESOLUTION, 12)
    CountingSegmenter.prompts_segmented = 0
    made = workspace.add_prompt_levels(levels)
    assert CountingSegmenter.prompts_segmented == sum(len(level.prompts) for level in levels)
    assert [len(level.parts) for level in made] == [len(objects) for objects in LEVELS.values()]
