"""Helpers shared by several test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import numpy as np

from geosam2.io.mesh import from_arrays
from tests.factories import make_box_mesh

CLI_RESOLUTION = 96  # view size of the CLI tests' two_boxes fixture


def boxes_mesh(offsets, extents=(1.0, 1.0, 1.0)):
    """Separate unit boxes (12 faces each, own vertices) at `offsets`; box k owns faces 12k..12k+11."""
    vertices, faces = [], []
    for k, offset in enumerate(offsets):
        box = make_box_mesh(extents)
        vertices.append(box.vertices + offset)
        faces.append(box.faces + 8 * k)
    return from_arrays(np.concatenate(vertices), np.concatenate(faces))


def pixel_of_face(views, faces):
    """(view, x, y): the pixel centre nearest the middle of `faces`' pixels on the view
    that shows most of them (a pixel showing one of `faces`)."""
    shown = np.isin(views.face_ids, faces)
    view = int(shown.sum(axis=(1, 2)).argmax())
    pixels = np.argwhere(shown[view])
    row, column = pixels[np.linalg.norm(pixels - pixels.mean(0), axis=1).argmin()]
    return view, column + 0.5, row + 0.5


def mesh_miou(mesh, truth: np.ndarray, labels: np.ndarray) -> float:
    """Face-area-weighted class-agnostic mIoU in [0, 1] of (F,) `labels` against (F,) `truth`."""
    from geosam2.evaluation.metrics import class_agnostic_miou, face_weights

    return class_agnostic_miou(truth, labels, face_weights(mesh))


def centre_pixel(views, faces, view):
    """"X,Y" of the pixel nearest the middle of `faces`' pixels on `view`."""
    pixels = np.argwhere(np.isin(views.face_ids[view], np.flatnonzero(faces)))
    row, column = pixels[np.linalg.norm(pixels - pixels.mean(0), axis=1).argmin()]
    return f"{column + 0.5},{row + 0.5}"
