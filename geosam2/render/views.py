"""The Views record: everything the renderer produces for one rig."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rig import Rig


@dataclass(frozen=True, eq=False)
class Views:
    """Rendered geometry buffers of V square views of size H = W = rig.resolution.

    Attributes
    ----------
    rig : Rig
        The cameras.
    face_ids : (V, H, W) int32
        Index of the visible face per pixel, -1 for background.
    depth : (V, H, W) float32
        Planar depth (distance along the camera's viewing axis), 0 in background.
    normals : (V, H, W, 3) float32
        Unit world-space face normals, flipped to face the camera, 0 in background.
    points : (V, H, W, 3) float32
        World XYZ of the visible surface, clipped to [-1, 1], 0 in background.
    """

    rig: Rig
    face_ids: np.ndarray
    depth: np.ndarray
    normals: np.ndarray
    points: np.ndarray

    @property
    def silhouette(self) -> np.ndarray:
        """(V, H, W) bool, True where the mesh is visible."""
        return self.face_ids >= 0

    @property
    def num_views(self) -> int:
        return self.face_ids.shape[0]

    def pixel_labels(self, labels: np.ndarray, view: int | None = None, background=-1) -> np.ndarray:
        """Per-element values shown on the pixels.

        Parameters
        ----------
        labels : (F,) any dtype, one value per face (point, on splatted views).
        view : int, optional; only that view's pixels.
        background : the value of background pixels.

        Returns
        -------
        (V, H, W), or (H, W) for one `view`, of ``labels[face_ids]``, `background` where no face shows.
        """
        ids = self.face_ids if view is None else self.face_ids[view]
        labels = np.asarray(labels)
        return np.append(labels, np.asarray(background, labels.dtype))[ids]  # id -1 reads the appended value

    @property
    def resolution(self) -> int:
        return self.face_ids.shape[1]
