"""The interactive session: add, refine inside, undo/redo, rename, merge, auto-complete
produce consistent parts trees and labellings on meshes with known parts."""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories import make_box_mesh
from geosam2.errors import GeoSAM2Error, PromptError
from geosam2.evaluation.policies import LabelSegmenter
from geosam2.segmenters.geometry import GeometrySegmenter
from geosam2.io.mesh import from_arrays, load_mesh
from geosam2.segmenters.prompts import Prompt
from geosam2.pipeline.session import Session
from geosam2.profiles import DEFAULT, IMPROVED, OFFICIAL
from geosam2.segmenters.base import Segmenter
from tests.helpers import boxes_mesh, pixel_of_face

RESOLUTION = 128
BOXES = [(0, 0, 0), (2, 0, 0), (0, 2, 0)]  # three separate unit boxes; box k owns faces 12k..12k+11


def box_faces(k):
    return np.arange(12 * k, 12 * k + 12)


def check_consistent(session, update):
    """The update, the session and the parts tree describe one labelling."""
    labels, parts = update.labels, update.parts
    assert (labels == session.labels).all() and parts == session.parts
    ids = [p.id for p in parts]
    assert all(type(i) is int for i in ids)  # plain ints: the parts tree goes to JSON
    assert ids == sorted(set(ids))
    assert set(np.unique(labels[labels >= 0])) <= set(ids)
    for p in parts:
        assert p.faces == (labels == p.id).sum()
        assert p.area_share == pytest.approx(session.mesh.face_areas[labels == p.id].sum() / session.mesh.face_areas.sum())
        assert p.parent is None or p.parent in ids
        assert p.faces > 0 or any(q.parent == p.id for q in parts)  # empty parts only as inner nodes
    assert len({p.color for p in parts}) == len(parts)


def click(session, faces):
    view, x, y = pixel_of_face(session.views, faces)
    return Prompt(view, points=[[x, y]])


def box_prompt(session, k):
    """A box prompt around box k on the view that shows it most."""
    view, _, _ = pixel_of_face(session.views, box_faces(k))
    xy, _ = session.views.rig.project(view, session.mesh.vertices[8 * k : 8 * k + 8])
    return Prompt(view, box=np.r_[xy.min(0) - 1, xy.max(0) + 1].clip(0, RESOLUTION))


def test_add_part_labels_the_clicked_box_and_reports_changed_views():
    mesh = boxes_mesh(BOXES)
    session = Session(mesh, GeometrySegmenter(crease_angle_deg=180.0), resolution=RESOLUTION)
    update = session.add_part(click(session, box_faces(1)), name="middle")
    check_consistent(session, update)
    assert (update.labels == np.where(np.isin(np.arange(36), box_faces(1)), 0, -1)).all()  # hidden bottom filled too
    (part,) = update.parts
    assert (part.id, part.name, part.parent, part.faces) == (0, "middle", None, 12)
    assert part.area_share == pytest.approx(1 / 3)
    shows = np.isin(session.views.face_ids, box_faces(1)).any(axis=(1, 2))
    assert update.changed_views == tuple(np.flatnonzero(shows))


def test_refine_inside_builds_a_tree_and_undo_redo_walk_the_history():
    mesh = boxes_mesh(BOXES)
    session = Session(mesh, GeometrySegmenter(crease_angle_deg=180.0), resolution=RESOLUTION)
    first = session.add_part(box_prompt(session, 0))  # whole connected boxes: box 0
    assert (first.labels == np.where(np.arange(36) < 12, 0, -1)).all()
    session.segmenter = GeometrySegmenter(mesh, concave_only=False)  # finer parts: the sides of the boxes
    top = np.flatnonzero(np.isclose(session.mesh.face_normals[:12, 2], 1.0))  # box 0's top side
    refined = session.add_part(click(session, top), parent=0)
    check_consistent(session, refined)
    assert (refined.labels[top] == 1).all() and (refined.labels[np.setdiff1d(np.arange(12), top)] == 0).all()
    assert [(p.id, p.parent, p.faces) for p in refined.parts] == [(0, None, 10), (1, 0, 2)]
    assert session.children(0) == (session.part(1),)
    with pytest.raises(PromptError, match="inside part 1"):  # box 1 is not inside part 1
        session.add_part(click(session, box_faces(1)), parent=1)

    undone = session.undo()
    assert (undone.labels == first.labels).all() and undone.parts == first.parts
    assert set(undone.changed_views) == set(np.flatnonzero(np.isin(session.views.face_ids, top).any(axis=(1, 2))))
    redone = session.redo()
    assert (redone.labels == refined.labels).all() and redone.parts == refined.parts
    assert session.redo().changed_views == ()  # nothing left to redo
    session.undo()
    session.rename(0, "box zero")  # a new operation drops the redo branch
    assert not session.can_redo and session.part(0).name == "box zero"
    assert session.undo().parts == first.parts


def test_segment_everything_inside_a_part_makes_its_children():
    mesh = boxes_mesh(BOXES)
    session = Session(mesh, LabelSegmenter(np.zeros(36, int)), resolution=RESOLUTION)  # one part: all boxes
    whole = session.add_part(click(session, box_faces(1)))
    assert (whole.labels == 0).all()
    session.segmenter = GeometrySegmenter(mesh, crease_angle_deg=180.0)  # its pieces: the boxes
    inside = session.auto_complete(parent=0)
    check_consistent(session, inside)
    children = session.children(0)
    assert len(children) == 3 and all(p.parent == 0 for p in children)
    for k in range(3):
        (label,) = np.unique(inside.labels[box_faces(k)])
        assert label in [p.id for p in children]
    assert session.part(0).faces == 0  # an inner node of the tree now
    assert (session.undo().labels == whole.labels).all()
    with pytest.raises(GeoSAM2Error):
        session.auto_complete(parent=7)


def test_the_official_profile_completes_inside_a_part_by_prompting_views_not_in_3d():
    class NoCompletion(GeometrySegmenter):
        def complete(self, labels, free):
            raise AssertionError("the release has no 3-D completion")

    mesh = boxes_mesh(BOXES)
    session = Session(mesh, LabelSegmenter(np.zeros(36, int)), resolution=RESOLUTION, profile="official")
    session.add_part(click(session, box_faces(1)))
    session.segmenter = NoCompletion(mesh, crease_angle_deg=180.0)
    inside = session.auto_complete(parent=0)
    check_consistent(session, inside)
    assert len(session.children(0)) == 3


def test_merge_moves_faces_and_children_to_the_first_part():
    mesh = boxes_mesh(BOXES)
    session = Session(mesh, GeometrySegmenter(crease_angle_deg=180.0), resolution=RESOLUTION)
    session.add_part(box_prompt(session, 0))
    session.add_part(box_prompt(session, 1))
    session.segmenter = GeometrySegmenter(mesh, concave_only=False)
    top = 12 + np.flatnonzero(np.isclose(session.mesh.face_normals[12:24, 2], 1.0))
    session.add_part(click(session, top), parent=1)
    update = session.merge([0, 1])
    check_consistent(session, update)
    assert (update.labels[:24] >= 0).all() and set(update.labels[:24]) == {0, 2}
    assert [(p.id, p.parent) for p in update.parts] == [(0, None), (2, 0)]
    with pytest.raises(GeoSAM2Error):
        session.merge([0])


def unequal_boxes():
    """Three separate boxes at BOXES, none a copy of another (heights 1, 1.2, 1.4); box k
    owns faces 12k..12k+11."""
    boxes = [make_box_mesh((1.0, 1.0, 1.0 + 0.2 * k)) for k in range(len(BOXES))]
    vertices = np.concatenate([b.vertices + offset for b, offset in zip(boxes, BOXES)])
    return from_arrays(vertices, np.concatenate([b.faces + 8 * k for k, b in enumerate(boxes)]))


def test_auto_complete_labels_the_rest_by_geometric_parts():
    mesh = unequal_boxes()
    session = Session(mesh, GeometrySegmenter(crease_angle_deg=180.0), resolution=RESOLUTION)
    before = session.add_part(click(session, box_faces(0)))
    update = session.auto_complete()
    check_consistent(session, update)
    assert (update.labels >= 0).all()
    assert (update.labels[:12] == before.labels[:12]).all()  # labelled faces keep their part
    for k in (1, 2):  # each other box becomes one new part
        (part,) = np.unique(update.labels[box_faces(k)])
        assert part >= 1 and session.part(part).parent is None
    assert len(update.parts) == 3
    reset = session.reset()
    assert (reset.labels == -1).all() and reset.parts == ()
    assert (session.undo().labels == update.labels).all()


class ProposingSegmenter(GeometrySegmenter):
    """The geometry segmenter completing on views (no 3-D completion), recording where
    it was asked for proposals."""

    def propose_prompts(self, views, view, region):
        self.asked = (view, region.copy())
        return super().propose_prompts(views, view, region)

    def complete(self, labels, free):
        return None


class ClicksOnly(Segmenter):
    """A segmenter without proposals of its own (the session clicks uncovered regions)."""

    def __init__(self, mesh):
        self.geometry = GeometrySegmenter(mesh, crease_angle_deg=180.0)

    def segment(self, views, prompts):
        return self.geometry.segment(views, prompts)


@pytest.mark.parametrize("first", [0, 1])
def test_auto_complete_without_proposals_clicks_the_uncovered_regions(first):
    # clicking box 1 first leaves boxes 0 and 2 overlapping on the opposite view: one
    # uncovered piece, clicked twice (the first answer leaves the other box uncovered)
    mesh = boxes_mesh(BOXES)
    session = Session(mesh, ClicksOnly(mesh), resolution=RESOLUTION)
    session.add_part(click(session, box_faces(first)))
    update = session.auto_complete()
    check_consistent(session, update)
    assert (update.labels >= 0).all() and len(update.parts) == 3
    for k in {0, 1, 2} - {first}:
        (part,) = np.unique(update.labels[box_faces(k)])
        assert part != update.labels[box_faces(first)][0]


def test_auto_complete_prompts_the_opposite_view_outside_labelled_faces():
    mesh = boxes_mesh(BOXES)
    segmenter = ProposingSegmenter(crease_angle_deg=180.0)
    session = Session(mesh, segmenter, resolution=RESOLUTION)
    prompt = click(session, box_faces(0))
    session.add_part(prompt)
    update = session.auto_complete()
    view, region = segmenter.asked
    views = session.views
    assert view == views.rig.opposite(prompt.view)
    assert (region == (views.silhouette[view] & ~np.isin(views.face_ids[view], box_faces(0)))).all()
    check_consistent(session, update)
    assert (update.labels >= 0).all()
    for k in (1, 2):
        assert len(np.unique(update.labels[box_faces(k)])) == 1


def test_add_parts_is_one_operation_and_lists_the_prompts_that_selected_nothing():
    mesh = boxes_mesh(BOXES)
    session = Session(mesh, GeometrySegmenter(mesh, crease_angle_deg=180.0), resolution=RESOLUTION)
    clicks = [click(session, box_faces(k)) for k in (0, 2)]
    inside_box_0 = click(session, box_faces(0))
    update = session.add_parts(clicks + [inside_box_0], names=["a", "b", "c"])
    check_consistent(session, update)
    # the third prompt asks for the faces the first one already takes (the earlier prompt wins ties)
    assert [p.name for p in update.parts] == ["a", "b"] and update.skipped == (2,)
    assert (update.labels[box_faces(0)] == 0).all() and (update.labels[box_faces(2)] == 1).all()
    assert (update.labels[box_faces(1)] == -1).all()
    assert session.undo().parts == () and not session.can_undo
    with pytest.raises(PromptError):
        session.add_parts([])


def test_the_last_prompted_view_is_part_of_the_undo_history():
    mesh = boxes_mesh(BOXES)
    segmenter = ProposingSegmenter(crease_angle_deg=180.0)
    session = Session(mesh, segmenter, resolution=RESOLUTION)
    first = click(session, box_faces(0))
    session.add_part(first)
    views = session.views
    other = next(v for v in range(views.num_views) if v != first.view and np.isin(box_faces(1), views.face_ids[v]).any())
    pixels = np.argwhere(np.isin(views.face_ids[other], box_faces(1)))
    row, column = pixels[len(pixels) // 2]
    session.add_part(Prompt(other, points=[[column + 0.5, row + 0.5]]))
    session.undo()  # back to the state after the first prompt: completion works opposite its view
    session.auto_complete()
    assert segmenter.asked[0] == views.rig.opposite(first.view)


def test_a_segmenter_says_what_it_can_do():
    class MasksOnly(Segmenter):
        def segment(self, views, prompts):
            raise AssertionError("not called")

    segmenter = MasksOnly()
    assert segmenter.bind("any geometry") is segmenter and not segmenter.needs_faces
    assert segmenter.propose_prompts(None, 0, None) is None
    assert GeometrySegmenter.needs_faces


def test_session_on_a_ground_truth_mesh(gt_paths):
    mesh = load_mesh(min(gt_paths, key=lambda p: p.stat().st_size))
    session = Session(mesh, GeometrySegmenter(), resolution=256)
    silhouette = np.argwhere(session.views.silhouette[0])
    row, column = silhouette[np.linalg.norm(silhouette - silhouette.mean(0), axis=1).argmin()]
    first = session.add_part(Prompt(0, points=[[column + 0.5, row + 0.5]]))
    check_consistent(session, first)
    assert (first.labels == 0).any()
    update = session.auto_complete()
    check_consistent(session, update)
    assert (update.labels >= 0).all()
    assert (update.labels[first.labels == 0] == 0).all()
    assert sum(p.area_share for p in update.parts) == pytest.approx(1.0)


def test_candidates_are_nested_scales_and_one_becomes_a_part():
    # boxes 0 and 1 touch without sharing vertices, box 2 is apart: crease side < box < touching pair
    mesh = boxes_mesh([(0, 0, 0), (1, 0.5, 0), (0, 3, 0)])
    session = Session(mesh, GeometrySegmenter(mesh, concave_only=False), resolution=RESOLUTION)
    top = np.flatnonzero(np.isclose(session.mesh.face_normals[:12, 2], 1.0))  # box 0's top side
    prompt = click(session, top)
    masks, scores = session.candidates(prompt)
    ids = session.views.face_ids[prompt.view]
    shown = [set(np.unique(ids[m])) for m in masks]
    assert len(masks) == len(scores) == 3 and (scores > 0).all()
    assert shown[0] <= set(top) and shown[1] <= set(box_faces(0)) and shown[2] <= set(box_faces(0)) | set(box_faces(1))
    assert masks[0].sum() < masks[1].sum() < masks[2].sum()
    side = session.add_part(Prompt(prompt.view, mask=masks[0]))  # the crease level: the top side only
    assert set(np.flatnonzero(side.labels == 0)) == set(top)
    session.undo()
    update = session.add_part(Prompt(prompt.view, mask=masks[1]))  # the whole box, hidden sides too
    assert (update.labels[box_faces(0)] == 0).all() and (update.labels[12:] == -1).all()
    inside, _ = session.candidates(prompt, parent=0)  # cut to box 0: the touching pair becomes box 0 again
    assert len(inside) == 2 and (inside[1] == masks[1]).all()
    with pytest.raises(PromptError):
        session.candidates(Prompt(12, points=[[1, 1]]))


class OfficialRecorder(LabelSegmenter):
    """Exact masks of known labels; proposes a click in each labelled region it is shown
    (recording the views and regions it was asked for, and the profiles it was bound with)."""

    def __init__(self, labels):
        super().__init__(labels)
        self.asked = []
        self.bound = []

    def bind(self, geometry, profile=None):
        self.bound.append(profile)
        return self

    def propose_prompts(self, views, view, region):
        self.asked.append((view, region.copy()))
        shown = np.where(region, views.pixel_labels(self.labels, view), -1)
        return [Prompt(view, points=[[x + 0.5, y + 0.5]]) for y, x in (np.argwhere(shown == p)[0] for p in np.unique(shown[shown >= 0]))]


def test_the_profile_is_resolved_once_and_reaches_the_segmenter_through_bind():
    mesh = boxes_mesh(BOXES)
    recorder = OfficialRecorder(np.arange(36) // 12)
    default = Session(mesh, recorder, resolution=32)
    assert default.profile is DEFAULT and recorder.bound == [DEFAULT]  # the release's network, the project's stages
    assert DEFAULT.network is OFFICIAL.network and DEFAULT.lifting is IMPROVED.lifting and DEFAULT.completion is IMPROVED.completion
    assert default.surface.lifts_as(IMPROVED) and not default.surface.lifts_as(OFFICIAL)
    official = Session(mesh, OfficialRecorder(np.arange(36) // 12), resolution=32, profile="official")
    assert official.profile is OFFICIAL and official.surface.lifts_as(OFFICIAL)
    improved = Session(mesh, recorder, surface=default.surface, profile=IMPROVED)  # the same lifting: shared
    assert improved.surface is default.surface and recorder.bound[-1] is IMPROVED
    with pytest.raises(GeoSAM2Error, match="otherwise than the default profile"):
        Session(mesh, GeometrySegmenter(), surface=official.surface)  # lifted with the other profile
    with pytest.raises(GeoSAM2Error, match="choose one of 'default', 'official', 'improved'"):
        Session(mesh, GeometrySegmenter(), resolution=32, profile="paper")


def test_overlapping_view_inputs_must_agree():
    mesh = boxes_mesh(BOXES)
    session = Session(mesh, GeometrySegmenter(), resolution=32)
    assert Session(mesh, GeometrySegmenter(), views=session.views).views.resolution == 32  # the views' size
    assert Session(mesh, GeometrySegmenter(), resolution=32, surface=session.surface).surface is session.surface
    with pytest.raises(GeoSAM2Error, match="32 px but resolution=64"):
        Session(mesh, GeometrySegmenter(), resolution=64, views=session.views)
    with pytest.raises(GeoSAM2Error, match="32 px but resolution=64"):
        Session(mesh, GeometrySegmenter(), resolution=64, surface=session.surface)
    other = Session(mesh, GeometrySegmenter(), resolution=32).views
    with pytest.raises(GeoSAM2Error, match="give the surface alone"):
        Session(mesh, GeometrySegmenter(), views=other, surface=session.surface)


def test_official_completion_runs_the_release_passes_and_lifts_every_part_once():
    mesh = boxes_mesh(BOXES)
    segmenter = OfficialRecorder(np.arange(36) // 12)
    session = Session(mesh, segmenter, resolution=RESOLUTION, pa=0.0, profile="official")
    prompt = click(session, box_faces(0))
    first = session.add_part(prompt)
    assert (first.labels[box_faces(0)] == 0).all() and (first.labels[box_faces(1)] == -1).all()
    update = session.auto_complete()
    views = session.views
    (view, region), = segmenter.asked  # one generator pass, opposite the prompt, outside the prompted part's mask
    assert view == views.rig.opposite(prompt.view)
    assert (region == (views.silhouette[view] & ~np.isin(views.face_ids[view], box_faces(0)))).all()
    check_consistent(session, update)
    assert (update.labels[box_faces(0)] == 0).all()
    for k in (1, 2):  # each other box its own part, or 'seen, in no mask' when the filters dropped its part
        assert len(np.unique(update.labels[box_faces(k)])) == 1 and update.labels[box_faces(k)][0] != 0
    assert segmenter.bound == [OFFICIAL, OFFICIAL]  # the session's binding, then the completion's fresh run
    segmenter.asked.clear()
    session.reset()
    session.segment_everything()  # no prompt: view 0, then its opposite
    assert [v for v, _ in segmenter.asked][:1] == [0] and len(segmenter.asked) <= 2
    if len(segmenter.asked) == 2:
        assert segmenter.asked[1][0] == views.rig.opposite(0)


def test_a_duck_typed_segmenter_is_used_with_the_protocols_defaults():
    class OnlySegments:  # no Segmenter base class: name and segment only
        name = "plain"

        def __init__(self, labels):
            self.exact = LabelSegmenter(labels)

        def segment(self, views, prompts):
            return self.exact.segment(views, prompts)

    mesh = boxes_mesh(BOXES)
    session = Session(mesh, OnlySegments(np.arange(36) // 12), resolution=RESOLUTION)
    update = session.add_part(click(session, box_faces(1)))
    assert (update.labels[box_faces(1)] == 0).all() and (update.labels[box_faces(0)] == -1).all()
    assert session.candidates(click(session, box_faces(1)))[0].shape[0] == 0  # the default: no candidates
    assert (session.auto_complete().labels >= 0).all()  # completion by clicks, as for any segmenter without proposals
