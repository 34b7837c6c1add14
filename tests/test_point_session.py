"""The interactive session on a point cloud: points sampled from three separate
boxes (each box a part, each box's upper half a sub-part), a stand-in segmenter
that answers with the exact parts from the point-id maps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from geosam2.errors import GeoSAM2Error, PromptError
from geosam2.evaluation.policies import LabelSegmenter
from geosam2.segmenters.geometry import GeometrySegmenter
from geosam2.io.pointcloud import point_cloud_from_arrays
from geosam2.io.pointexport import export_point_cloud
from geosam2.io.pointreaders import load_point_cloud
from geosam2.segmenters.prompts import Prompt
from geosam2.pipeline.session import Session
from geosam2.profiles import IMPROVED, OFFICIAL
from tests.helpers import pixel_of_face

RESOLUTION = 128


def click(session, points):
    view, x, y = pixel_of_face(session.views, np.flatnonzero(points))
    return Prompt(view, points=[[x, y]])


def check_consistent(session, update):
    """The update, the session and the parts tree describe one labelling."""
    assert (update.labels == session.labels).all() and update.parts == session.parts
    for p in update.parts:
        assert p.faces == (update.labels == p.id).sum()
        assert p.area_share == pytest.approx(p.faces / len(update.labels))


def test_add_part_refine_undo_redo_on_points(boxes_cloud):
    cloud, box, upper = boxes_cloud
    session = Session(cloud, LabelSegmenter(box), resolution=RESOLUTION)
    assert session.mesh is None and session.geometry is cloud
    first = session.add_part(click(session, box == 1), name="middle")
    check_consistent(session, first)
    assert (first.labels[box == 1] == 0).all()  # hidden points filled too (measured: all of them)
    assert (first.labels[box != 1] == -1).all()
    shows = np.isin(session.views.face_ids, np.flatnonzero(first.labels == 0)).any(axis=(1, 2))
    assert first.changed_views == tuple(np.flatnonzero(shows))

    session.segmenter = LabelSegmenter(2 * box + upper)  # finer parts: the boxes' halves
    refined = session.add_part(click(session, (box == 1) & upper), parent=0)
    check_consistent(session, refined)
    assert (refined.labels[(box == 1) & upper] == 1).mean() >= 0.99  # measured 1.0 and 0.999
    assert (refined.labels[(box == 1) & ~upper] == 0).mean() >= 0.99
    assert (refined.labels[box != 1] == -1).all()
    assert [(p.id, p.parent) for p in refined.parts] == [(0, None), (1, 0)]
    with pytest.raises(PromptError, match="inside part 1"):
        session.add_part(click(session, box == 0), parent=1)

    undone = session.undo()
    assert (undone.labels == first.labels).all() and undone.parts == first.parts
    assert len(undone.changed_views) > 0
    redone = session.redo()
    assert (redone.labels == refined.labels).all() and redone.parts == refined.parts


def test_auto_complete_labels_every_point_and_exports_round_trip(boxes_cloud, tmp_path):
    cloud, box, _ = boxes_cloud
    session = Session(cloud, LabelSegmenter(box), resolution=RESOLUTION)
    before = session.add_part(click(session, box == 0))
    update = session.auto_complete()  # clicks in the uncovered regions of the opposite view
    check_consistent(session, update)
    assert (update.labels >= 0).all() and len(update.parts) == 3
    assert (update.labels[before.labels >= 0] == before.labels[before.labels >= 0]).all()
    owners = [np.unique(update.labels[box == k]) for k in range(3)]
    assert all(len(o) == 1 for o in owners) and len(set(np.concatenate(owners))) == 3  # each box one part
    assert sum(p.area_share for p in update.parts) == pytest.approx(1.0)

    names = [p.name for p in update.parts]
    paths = export_point_cloud(cloud, update.labels, tmp_path, names)
    np.testing.assert_array_equal(np.load(paths["npy"]), update.labels)
    back = load_point_cloud(paths["ply"])
    np.testing.assert_allclose(back.file_points(), cloud.file_points(), atol=1e-5)
    raw = trimesh.load(paths["ply"], process=False).metadata["_ply_raw"]["vertex"]["data"]
    np.testing.assert_array_equal(raw["label"], update.labels)
    summary = json.loads(open(paths["json"]).read())
    assert [p["name"] for p in summary["parts"]] == names and summary["unlabelled_points"] == 0


def test_geometry_segmenter_on_points_is_a_clear_error(boxes_cloud):
    cloud, _, _ = boxes_cloud
    with pytest.raises(GeoSAM2Error, match="needs a mesh.*GeoSAM2 weights"):
        Session(cloud, GeometrySegmenter(), resolution=RESOLUTION)


def test_the_official_profile_reaches_the_segmenter_only_on_points(boxes_cloud):
    cloud, box, _ = boxes_cloud
    bound = []

    class Recording(LabelSegmenter):
        def bind(self, geometry, profile=None):
            bound.append(profile)
            return self

    session = Session(cloud, Recording(box), resolution=RESOLUTION, profile="official")
    (profile,) = bound
    assert profile is session.profile and profile.network is OFFICIAL.network  # the segmenter runs the release's network
    assert profile.prompting is IMPROVED.prompting and profile.completion is IMPROVED.completion  # the session the project's
    update = session.add_part(click(session, box == 1))
    assert (update.labels[box == 1] == 0).mean() > 0.99 and (update.labels[box != 1] == -1).mean() > 0.99
