"""Point clouds: a point set with oriented normals, normalised like meshes.

A :class:`PointCloud` lives in the same normalised frame as :class:`~geosam2.io.mesh.Mesh`
(Z up, bounding-box centre at the origin, longest edge 1) and keeps the file's
point order, so per-point labels computed here index the file's own points.
Files are read by :mod:`geosam2.io.pointreaders`, normals estimated by
:mod:`geosam2.geometry.normals`, labelled clouds written by :mod:`geosam2.io.pointexport`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from ..errors import EmptyMeshError, MeshLoadError, MeshTooLargeError
from .mesh import Y_UP_TO_Z_UP, normalising_transform, transform_points
from ..geometry.normals import NORMAL_NEIGHBOURS, estimate_normals

DEFAULT_MAX_POINTS = 5_000_000
SPACING_NEIGHBOURS = 16  # k of the local spacing (splat radius, point area)


@dataclass(frozen=True, eq=False)
class PointCloud:
    """A point set with unit normals in the normalised frame.

    Attributes
    ----------
    points : (N, 3) float64
        Positions in the normalised frame, in the file's point order.
    normals : (N, 3) float64
        Unit normals in the normalised frame, oriented outwards (from the file,
        or estimated when the file has none).
    colors : (N, 4) uint8 or None
        RGBA colour per point when the file carries colours.
    to_file : (4, 4) float64
        Homogeneous transform from the normalised frame back to the file's frame.
    name : str
        File stem, for reports and exports.
    normals_estimated : bool
        True when the normals were estimated rather than read.
    """

    points: np.ndarray
    normals: np.ndarray
    colors: np.ndarray | None = None
    to_file: np.ndarray = field(default_factory=lambda: np.eye(4))
    name: str = "points"
    normals_estimated: bool = False

    @property
    def num_points(self) -> int:
        return len(self.points)

    @property
    def bbox_size(self) -> np.ndarray:
        """(3,) float64 bounding-box extents (longest is 1 after normalisation)."""
        return self.points.max(axis=0) - self.points.min(axis=0)

    def file_points(self) -> np.ndarray:
        """(N, 3) float64 positions in the file's own frame and units."""
        return transform_points(self.points, self.to_file)

    def file_normals(self) -> np.ndarray:
        """(N, 3) float64 unit normals in the file's own frame."""
        n = self.normals @ self.to_file[:3, :3].T
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    @functools.cached_property
    def tree(self) -> cKDTree:
        """KD-tree of `points`, built once."""
        return cKDTree(self.points)

    @functools.cached_property
    def spacing(self) -> np.ndarray:
        """(N,) float64 distance from each point to its k-th nearest other point
        (k = SPACING_NEIGHBOURS, fewer for tiny clouds): the local sampling scale."""
        k = min(SPACING_NEIGHBOURS, self.num_points - 1)
        if k < 1:
            return np.zeros(self.num_points)
        distances, _ = self.tree.query(self.points, k=k + 1)
        return distances[:, -1]

    @functools.cached_property
    def areas(self) -> np.ndarray:
        """(N,) float64 surface area each point stands for: pi * spacing**2 / k."""
        return np.pi * self.spacing**2 / SPACING_NEIGHBOURS


def point_cloud_from_arrays(
    points: np.ndarray,
    normals: np.ndarray | None = None,
    colors: np.ndarray | None = None,
    y_up: bool = False,
    name: str = "points",
    max_points: int = DEFAULT_MAX_POINTS,
    normal_neighbours: int = NORMAL_NEIGHBOURS,
) -> PointCloud:
    """Validate and normalise a point set given in its file frame.

    Parameters
    ----------
    points : (N, 3) float
        Positions in the file's frame.
    normals : (N, 3) float, optional
        Normals in the file's frame; estimated (oriented outwards) when None or
        when any is zero or non-finite.
    colors : (N, 3) or (N, 4) uint8, optional
    y_up : bool
        Rotate a Y-up file to the Z-up normalised frame.

    Raises EmptyMeshError for no points or coincident points, MeshTooLargeError
    above `max_points`, MeshLoadError for non-finite positions or mismatched arrays.
    """
    points = np.asarray(points, np.float64).reshape(-1, 3)
    if len(points) == 0:
        raise EmptyMeshError(f"'{name}' has no points: upload a point cloud with at least a few points.")
    if len(points) > max_points:
        raise MeshTooLargeError(
            f"'{name}' has {len(points):,} points, more than the limit of {max_points:,}: "
            "subsample it first or raise the limit."
        )
    if not np.isfinite(points).all():
        raise MeshLoadError(f"'{name}' has points with NaN or infinite coordinates: repair the file.")
    frame = Y_UP_TO_Z_UP if y_up else np.eye(4)
    z_up = transform_points(points, frame)
    if (z_up.max(axis=0) - z_up.min(axis=0)).max() <= 0:
        raise EmptyMeshError(f"'{name}' is degenerate: all its points coincide.")
    normalise = normalising_transform(z_up)
    normalised = transform_points(z_up, normalise)
    estimated = normals is None
    if normals is not None:
        normals = np.asarray(normals, np.float64).reshape(-1, 3)
        if len(normals) != len(points):
            raise MeshLoadError(f"'{name}' has {len(points)} points but {len(normals)} normals: repair the file.")
        normals = normals @ frame[:3, :3].T  # the normalising transform is a uniform scale
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        estimated = not (np.isfinite(length).all() and (length > 0).all())
        if not estimated:
            normals = normals / length
    if estimated:
        normals = estimate_normals(normalised, normal_neighbours)
    if colors is not None:
        colors = np.asarray(colors, np.uint8)
        if colors.shape not in ((len(points), 3), (len(points), 4)):
            raise MeshLoadError(f"'{name}' has colours of shape {colors.shape} for {len(points)} points: repair the file.")
        if colors.shape[1] == 3:
            colors = np.concatenate([colors, np.full((len(points), 1), 255, np.uint8)], axis=1)
    return PointCloud(
        points=normalised,
        normals=normals,
        colors=colors,
        to_file=np.linalg.inv(normalise @ frame),
        name=name,
        normals_estimated=estimated,
    )
