"""The official profile's building blocks on crafted inputs and a tiny random network:
the release's votes ("seen, in no mask" included), clean-up rules, post-propagation
filters, frame numbering, two-stage clicks and proposal clicks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from types import SimpleNamespace

from geosam2.geometry.facegraph import release_neighbour_order, unwelded_face_graph
from geosam2.lifting.lift import VisibleSamples
from geosam2.io.mesh import from_arrays
from geosam2.lifting.cleanup import clean_labels
from geosam2.segmenters.geosam2 import GeoSAM2Segmenter, propagate
from geosam2.segmenters.network import SequentialFrames
from geosam2.profiles import ProfileError, resolve
from geosam2.profiles.official import SEEN_UNCOVERED
from geosam2.profiles.official.cleanup import fill_from_first_neighbour
from geosam2.profiles.official.lifting import official_sample_points, official_vote_labels, release_mode
from geosam2.profiles.official.network import ReleaseFrames, single_view_mask
from geosam2.profiles.official.partfilters import keep_automatic_parts, opened_logits, stability_score
from geosam2.profiles.official.sampling import release_sampling
from geosam2.segmenters.prompts import Prompt
from geosam2.segmenters.proposals import ProposalSettings
from tests.test_predictor import SIZE, click, model, views  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: see conftest

# --------------------------------------------------------------------------- votes


def test_release_mode_prefers_any_vote_to_none_and_breaks_ties_by_latest_first_seen():
    codes = np.array(
        [
            [0, 0, 0, 2, 2, 1],  # 0 is most frequent but any vote wins: 2
            [1, 2, 2, 1, 0, 0],  # tie 1 vs 2: 2 first appears later (libstdc++ lists new keys first)
            [0, 0, 0, 0, 0, 0],  # nothing: 0
            [3, 0, 3, 0, 5, 0],  # 3
            [4, 1, 6, 0, 0, 0],  # three-way tie: 6
        ]
    )
    assert release_mode(codes).tolist() == [2, 2, 0, 3, 6]


def _strip_samples(num_faces: int, views_per_face: list[list[int]]) -> VisibleSamples:
    """One sample per face; face f is seen by the views in views_per_face[f] at pixel f."""
    per_view = [[f for f in range(num_faces) if v in views_per_face[f]] for v in range(3)]
    samples = np.concatenate([np.array(s, np.int64) for s in per_view])
    offsets = np.cumsum([0] + [len(s) for s in per_view])
    return VisibleSamples(num_faces, 1, samples, samples.copy(), offsets)


def test_seen_but_uncovered_votes_like_a_part():
    """Face 0: covered in 1 view, seen outside every mask in 2 -> SEEN_UNCOVERED;
    face 1: covered in 2 of 3 -> the part; face 2: seen by no view -> -1."""
    masks = np.zeros((1, 3, 1, 4), bool)  # one part, 3 views, 1 x 4 pixel images
    masks[0, 0, 0, 0] = True  # face 0 covered on view 0 only
    masks[0, :2, 0, 1] = True  # face 1 covered on views 0 and 1
    visible = _strip_samples(3, [[0, 1, 2], [0, 1, 2], []])
    assert official_vote_labels(visible, masks).tolist() == [SEEN_UNCOVERED, 0, -1]


def test_smaller_parts_are_painted_over_larger_ones_and_priority_wins():
    masks = np.zeros((2, 3, 1, 4), bool)
    masks[0, :, 0, :] = True  # part 0 covers everything
    masks[1, :, 0, 0] = True  # part 1 is smaller, on pixel 0
    visible = _strip_samples(2, [[0, 1, 2], [0, 1, 2]])
    assert official_vote_labels(visible, masks).tolist() == [1, 0]
    assert official_vote_labels(visible, masks, priorities=[1, 0]).tolist() == [0, 0]


def test_official_samples_are_the_releases_folded_draws():
    """Each point's barycentric weights (u, v) are numpy's legacy draws after seed 3,
    folded where u + v > 1; the generator's stream continues right after them."""
    mesh = from_arrays(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0.2, 0.3, 1]]), np.array([[0, 1, 2], [0, 1, 3]]))
    points = official_sample_points(mesh, 5).reshape(2, 5, 3)
    draws = np.random.RandomState(3)
    u, v = draws.random_sample((2, 5, 1))[..., 0], draws.random_sample((2, 5, 1))[..., 0]
    fold = u + v > 1
    u, v = np.where(fold, 1 - u, u), np.where(fold, 1 - v, v)
    for f in range(2):
        a, b, c = mesh.triangles[f]
        weights, *_ = np.linalg.lstsq(np.stack([a - c, b - c], 1), (points[f] - c).T, rcond=None)
        np.testing.assert_allclose(weights, np.stack([u[f], v[f]]), atol=1e-9)
    assert release_sampling(2).random_sample() == draws.random_sample()


# --------------------------------------------------------------------------- clean-up


def _strip_mesh(num_faces: int):
    """A strip of triangles, face i sharing an edge with faces i - 1 and i + 1 (indexed vertices)."""
    top = np.stack([np.arange(num_faces // 2 + 2), np.ones(num_faces // 2 + 2)], 1)
    bottom = np.stack([np.arange(num_faces // 2 + 2), np.zeros(num_faces // 2 + 2)], 1)
    vertices = np.concatenate([np.c_[bottom, np.zeros(len(bottom))], np.c_[top, np.zeros(len(top))]])
    n = len(bottom)
    faces = []
    for i in range(num_faces // 2):
        faces += [[i, i + 1, n + i], [i + 1, n + i + 1, n + i]]
    return from_arrays(vertices, np.array(faces))


def test_first_labelled_neighbour_fills_not_the_majority():
    order = np.array([[1, 2, 3], [0, -1, -1], [0, -1, -1], [0, -1, -1]])
    labels = np.array([-1, 5, 7, 7])
    assert fill_from_first_neighbour(order, labels, labels < 0).tolist() == [5, 5, 7, 7]


def test_release_neighbour_order_is_the_python_set_order():
    mesh = _strip_mesh(8)
    graph = unwelded_face_graph(mesh)
    order = release_neighbour_order(graph)
    for face in range(mesh.num_faces):
        expected = set()
        for a, b in graph.pairs.tolist():
            if a == face:
                expected.add(b)
            if b == face:
                expected.add(a)
        assert [f for f in order[face] if f >= 0] == list(expected)


def test_official_clean_up_clears_small_pieces_before_filling_keeps_seen_uncovered_and_never_splits():
    mesh = _strip_mesh(200)
    labels = np.zeros(200, np.int64)
    labels[100:] = SEEN_UNCOVERED  # a part of its own
    labels[50] = 1  # a one-face piece: cleared, then filled by its neighbours
    labels[150:152] = -1  # unseen inside the seen-uncovered half: filled from it
    labels[10:12] = 2  # two pieces of label 2 -> cleared too (2 faces < 2 % of 100)
    out = clean_labels(mesh, labels, pa=0.05, profile="official")  # pieces under 2.5 faces are cleared
    assert out[50] == 0 and (out[10:12] == 0).all()
    assert (out[100:] == SEEN_UNCOVERED).all()
    disconnected = labels.copy()
    disconnected[0:100] = 0
    disconnected[100:180] = SEEN_UNCOVERED
    disconnected[180:] = 0  # label 0 in two pieces: the release keeps one label
    assert set(clean_labels(mesh, disconnected, pa=0.05, profile="official").tolist()) == {0, SEEN_UNCOVERED}


def test_unknown_profile_is_a_user_error():
    with pytest.raises(ProfileError, match="official"):
        resolve("paper")


# --------------------------------------------------------------------------- post-propagation filters


def test_opening_marks_thin_parts_without_changing_the_mask():
    logits = np.full((40, 40), -5.0, np.float32)
    logits[5:35, 5:35] = 0.5  # a block, unstable (0.5 < 0.7)
    logits[0:40, 38] = 5.0  # a one-pixel line: removed by the opening
    opened = opened_logits(logits)
    assert ((opened > 0) == (logits > 0)).all()
    assert (opened[:, 38] == 1024).all() and (opened[20, 20] == 0.5)
    assert stability_score(opened) == pytest.approx(40 / (30 * 30 + 40))


def _part(views_area: list[int], size: int = 20) -> np.ndarray:
    """(V, size, size) masks: a top-left square of the given side on each view."""
    masks = np.zeros((len(views_area), size, size), bool)
    for v, side in enumerate(views_area):
        masks[v, :side, :side] = True
    return masks


def test_filters_drop_unstable_growing_and_duplicate_parts():
    masks = np.stack(
        [
            _part([10, 8, 0]),  # 0 kept
            _part([10, 8, 6]),  # 1 unstable on view 2 (0.62 < 0.63)
            _part([6, 8, 5]),  # 2 bigger on view 1 than on the pass view 0
            _part([10, 9, 7]),  # 3 duplicate of 0 on view 0 (IoU 1 > 0.8)
            np.roll(_part([10, 9, 0]), 10, axis=(1, 2)),  # 4 kept, but equal to an earlier part's mask
        ]
    )
    stability = np.full((5, 3), 0.9)
    stability[1, 2] = 0.62
    stability[0, 2] = 0.1  # empty mask on view 2: not tested
    earlier = np.roll(_part([10]), 10, axis=(1, 2))  # (1, H, W) an earlier part's mask on view 0
    kept = keep_automatic_parts(masks, stability, view=0, earlier=earlier)
    assert kept.tolist() == [True, False, False, False, False]
    assert keep_automatic_parts(masks, stability, view=0).tolist() == [True, False, False, False, True]
    stability[0, 0] = 0.69  # the pass view needs 0.7
    assert not keep_automatic_parts(masks, stability, view=0)[0]


# --------------------------------------------------------------------------- network


def test_official_frame_numbers_wrap_after_the_last_view():
    assert ReleaseFrames().frames(6, 13) == [6, 7, 8, 9, 10, 11, 12, 0, 1, 2, 3, 4, 5]
    assert SequentialFrames().frames(6, 13) == list(range(13))
    assert ReleaseFrames().frames(0, 2) == [0, 1]


def test_official_numbering_changes_only_the_views_before_the_seed(model, views):
    """Views from the seed on see the same memories and pointers under both numberings;
    the views before the seed lose the prompted frame's pointer (and view 0 every pointer)."""
    from geosam2.segmenters.geosam2 import encode_views

    features = encode_views(model, views)
    prompt = click(views, 3)
    official = propagate(model, features, [prompt], SIZE, numbering=ReleaseFrames())
    improved = propagate(model, features, [prompt], SIZE, numbering=SequentialFrames())
    after_seed = [k for k, v in enumerate(official.frame_views) if v >= 3]
    assert torch.equal(official.logits[after_seed], improved.logits[after_seed])


def test_official_click_is_the_mask_of_its_single_view_stage(model, views):
    official = GeoSAM2Segmenter(model, profile="official")
    prompt = click(views, 2)
    mask = single_view_mask(model, official.features(views), prompt, SIZE)
    assert mask.shape == (SIZE, SIZE) and mask.dtype == bool
    by_click = official.segment(views, [prompt])
    by_mask = official.segment(views, [Prompt(2, mask=mask)])
    assert by_click.stability is not None and by_click.stability.shape == (1, views.num_views)
    np.testing.assert_array_equal(by_click.masks, by_mask.masks)


def test_official_proposals_click_their_sampled_pixel_and_propagate_directly(model, views):
    official = GeoSAM2Segmenter(model, profile="official")
    official.bind(SimpleNamespace(num_faces=24))  # a run on a mesh of 24 faces
    region = views.silhouette[6]
    settings = ProposalSettings(max_points=32, pred_iou_thresh=-1.0, stability_thresh=0.0)
    prompts = official.propose_prompts(views, 6, region, settings)
    assert prompts, "permissive settings keep some mask"
    for prompt in prompts:
        x, y = prompt.points[0]
        assert x == int(x) and y == int(y) and region[int(y), int(x)]  # a sampled pixel, no centre offset
    improved = GeoSAM2Segmenter(model, profile="improved")  # features only
    direct = propagate(model, improved.features(views), prompts[:1], SIZE, numbering=ReleaseFrames())
    masks = official.segment(views, prompts[:1]).masks
    final = {v: k for k, v in enumerate(direct.frame_views)}
    upsampled = torch.nn.functional.interpolate(direct.logits[final[6]], size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    np.testing.assert_array_equal(masks[0, 6], upsampled[0, 0].numpy() > 0)


def test_bind_starts_a_fresh_run_so_two_meshes_in_a_row_are_two_fresh_segmenters(model, views):
    """The release's random stream and the clicks it proposed belong to one run: after
    a run on one mesh, binding another gives what a new segmenter gives on it."""
    settings = ProposalSettings(max_points=16, pred_iou_thresh=-1.0, stability_thresh=0.0)
    region = views.silhouette[6]
    first, second = SimpleNamespace(num_faces=24), SimpleNamespace(num_faces=7)

    def clicks(segmenter):
        return [(p.view, p.points.tolist()) for p in segmenter.propose_prompts(views, 6, region, settings)]

    reused = GeoSAM2Segmenter(model, profile="official").bind(first)
    earlier = clicks(reused)
    assert earlier and clicks(reused) != earlier  # the stream moved on
    reused.bind(second)
    fresh = GeoSAM2Segmenter(model, profile="official").bind(second)
    assert clicks(reused) == clicks(fresh)
    view, points = earlier[0]  # a click the first run proposed: propagated directly there, two-stage in a fresh run
    clicked = Prompt(view, points=points)
    np.testing.assert_array_equal(reused.segment(views, [clicked]).masks, fresh.segment(views, [clicked]).masks)
    assert clicks(reused.bind(first)) == earlier  # the first mesh again: as at its start
