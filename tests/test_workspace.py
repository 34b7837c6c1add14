"""The workspace: one way from a file (or a loaded mesh) to the labels of every face and the exports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from tests.factories import make_sphere_mesh
from tests.helpers import pixel_of_face
from geosam2.errors import MeshTooLargeError
from geosam2.geometry.proxy import transfer_labels
from geosam2.io.export import export_mesh
from geosam2.io.mesh import from_arrays
from geosam2.io.pointcloud import PointCloud
from geosam2.pipeline.session import Session
from geosam2.pipeline.workspace import Workpiece, Workspace
from geosam2.profiles import OFFICIAL
from geosam2.segmenters.geometry import GeometrySegmenter
from geosam2.segmenters.prompts import Prompt
from geosam2.settings import Settings

SETTINGS = Settings(resolution=64)


@pytest.fixture
def spheres_file(output_dir):
    """A PLY of two separate icospheres (1,280 faces each) along x; its path and mesh."""
    left, right = make_sphere_mesh(subdivisions=3), make_sphere_mesh(subdivisions=3)
    right.apply_translation((1.5, 0.0, 0.0))
    both = trimesh.util.concatenate([left, right])
    path = output_dir / "spheres.ply"
    both.export(path)
    return path, from_arrays(both.vertices, both.faces, name="spheres")


def test_below_the_budget_the_workspace_is_the_session_and_its_exports(spheres_file, output_dir):
    path, _ = spheres_file
    workspace = Workspace(path, GeometrySegmenter(), SETTINGS)
    assert not workspace.workpiece.on_proxy and workspace.session.mesh is workspace.full
    workspace.session.segment_everything()
    by_hand = Session(workspace.full, GeometrySegmenter(), resolution=SETTINGS.resolution, pa=SETTINGS.pa)
    by_hand.segment_everything()
    assert np.array_equal(workspace.labels(), by_hand.labels)
    paths = workspace.export(output_dir / "workspace")
    expected = export_mesh(workspace.full, by_hand.labels, output_dir / "by_hand", by_hand.parts)
    assert {k: Path(p).name for k, p in paths.items()} == {k: Path(p).name for k, p in expected.items()}
    assert json.loads(Path(paths["json"]).read_text()) == json.loads(Path(expected["json"]).read_text())


@pytest.mark.parametrize("profile", [None, OFFICIAL])
def test_above_the_budget_labels_are_carried_with_the_sessions_profile(spheres_file, profile):
    path, mesh = spheres_file
    settings = SETTINGS.with_values(face_budget=600, profile=profile)
    workspace = Workspace(path, GeometrySegmenter(), settings)
    proxy = workspace.workpiece.segmented
    assert workspace.workpiece.on_proxy and proxy.num_faces <= 600 and workspace.full.num_faces == mesh.num_faces
    session = workspace.session
    view, x, y = pixel_of_face(session.views, np.flatnonzero(proxy.centroids[:, 0] < 0))  # the left sphere (the frame is centred)
    session.add_part(Prompt(view, points=[[x, y]], labels=[1]))
    labels = workspace.labels()
    expected = transfer_labels(proxy, session.labels, workspace.full, settings.pa, session.profile)
    assert np.array_equal(labels, expected) and len(labels) == mesh.num_faces
    left = workspace.full.centroids[:, 0] < 0
    assert (labels[left] == session.parts[0].id).mean() > 0.99 and (labels[~left] != session.parts[0].id).all()
    assert workspace.labels() is labels  # carried once per labelling
    workspace.set_pa(0.05)
    assert workspace.session.pa == workspace.settings.pa == 0.05 and workspace.labels() is not labels


def test_a_loaded_mesh_or_workpiece_is_taken_as_it_is(spheres_file):
    _, mesh = spheres_file
    assert Workspace(mesh, GeometrySegmenter(), SETTINGS).full is mesh
    workpiece = Workpiece.load(mesh, SETTINGS.with_values(face_budget=600))
    assert Workspace(workpiece, GeometrySegmenter(), SETTINGS).workpiece is workpiece


def test_the_face_limit_comes_from_the_settings(spheres_file):
    path, mesh = spheres_file
    with pytest.raises(MeshTooLargeError, match=f"{mesh.num_faces:,} faces"):
        Workpiece.load(path, SETTINGS.with_values(max_faces=mesh.num_faces - 1))
    assert Workpiece.load(path, SETTINGS.with_values(max_faces=mesh.num_faces)).full.num_faces == mesh.num_faces


def test_a_point_cloud_file_is_never_decimated(boxes_npy):
    path, box = boxes_npy
    workpiece = Workpiece.load(path, SETTINGS.with_values(face_budget=100))
    assert workpiece.is_point_cloud and isinstance(workpiece.full, PointCloud) and not workpiece.on_proxy
    assert workpiece.full.num_points == len(box)
