"""Splatting backend for point clouds: every point is a small disc, with a z-buffer.

Each point is a surfel: a disc of world radius r_i (by default its distance to
its 16th nearest neighbour, so neighbouring discs overlap and leave no holes
even in the gaps of random sampling) lying in the point's tangent plane. A
pixel is covered when its centre ray meets the disc; the disc's depth there is
that of the tangent plane along the ray (kept within r_i of the point's own
depth at grazing angles), so depth and point maps are smooth rather than
stepped, and discs seen edge-on do not dilate the silhouette.

The z-buffer makes two reductions over the (point, covered pixel) pairs,
computed once: the nearest disc depth per pixel, then among the discs within a
depth tolerance of it (the same surface), the disc whose centre is nearest
wins, so the point-id map is a Voronoi partition of the visible surface and
part borders stay sharp. Lifting takes a point as seen where it wins a pixel.

Everything is vectorised numpy; points are grouped by footprint size so the
cost is about (number of points) x (pixels per disc) per view (see
bench/bench_splat.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.pointcloud import PointCloud
from .rig import Rig, official_rig
from .backends import resolve_backend
from .views import Views

RADIUS_SCALE = 1.0  # disc radius = scale * distance to the 16th nearest neighbour
DEPTH_TOLERANCE = 0.25  # discs this close (in disc radii) to the front depth count as one surface
_ID_BITS = 31


@dataclass(frozen=True, eq=False)
class SplatViews(Views):
    """A :class:`Views` record of a point cloud: ``face_ids`` holds point ids.

    Attributes
    ----------
    radii : (N,) float64
        World radius of each point's disc, in normalised units.
    """

    radii: np.ndarray


def splat_radii(cloud: PointCloud, radius: float | np.ndarray | None = None, scale: float = RADIUS_SCALE) -> np.ndarray:
    """(N,) float64 disc radii: `radius` (scalar or per point) if given, else
    `scale` times each point's local spacing (``cloud.spacing``)."""
    if radius is None:
        return scale * cloud.spacing
    return np.broadcast_to(np.asarray(radius, np.float64), (cloud.num_points,)).copy()


def camera_surfels(rig: Rig, view: int, cloud: PointCloud, radii: np.ndarray) -> np.ndarray:
    """(8, N) float32 rows cx, cy, cz, nx, ny, nz, n.c, r: each point and normal in
    the camera frame of `view` (camera looks down -Z), their dot product, its radius."""
    world_to_cam = np.linalg.inv(rig.cam_to_world[view])
    c = cloud.points @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    n = cloud.normals @ world_to_cam[:3, :3].T
    return np.concatenate([c.T, n.T, np.einsum("ij,ij->i", c, n)[None], radii[None]]).astype(np.float32)


def disc_hit(surfels: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the ray of direction (u, v, -1) meets each surfel's tangent plane.

    `surfels` rows (see :func:`camera_surfels`) broadcast against `u` and `v`.
    Returns the planar depth of the hit, clamped to the point's depth +- radius
    (grazing rays), and its squared distance from the point in radii squared
    (<= 1 on the disc). Numpy arrays or torch tensors (the PyTorch3D backend).
    """
    cx, cy, cz, nx, ny, nz, along, radius = surfels
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (along / (nx * u + ny * v - nz)).clip(-cz - radius, -cz + radius)
        ox, oy, oz = u * z - cx, v * z - cy, -z - cz
        return z, (ox * ox + oy * oy + oz * oz) / (radius * radius)


def _candidates(surfels: np.ndarray, rig: Rig, chunk: int):
    """Yield (ids, flat pixels, depth, rim) of every (point, covered pixel) pair,
    `chunk` pairs at a time at most, grouped by footprint size."""
    r = rig.resolution
    focal, centre = rig.focal, 0.5 * r
    depth = -surfels[2].astype(np.float64)
    radii = surfels[7].astype(np.float64)
    front = np.flatnonzero(depth > radii)
    x = surfels[0, front] / depth[front] * focal + centre
    y = -surfels[1, front] / depth[front] * focal + centre
    # the disc lies inside the sphere of radius r around the point: bound its footprint
    half = np.ceil(radii[front] * focal / (depth[front] - radii[front])).astype(np.int64)
    column0, row0 = np.floor(x).astype(np.int32), np.floor(y).astype(np.int32)
    u0 = ((column0 + 0.5 - centre) / focal).astype(np.float32)  # ray of each point's own pixel
    v0 = (-(row0 + 0.5 - centre) / focal).astype(np.float32)
    for k in np.unique(half):
        offsets = np.arange(-k, k + 1, dtype=np.int32)
        d_col, d_row = np.tile(offsets, len(offsets)), np.repeat(offsets, len(offsets))  # (cells,)
        # the centre lies in the own pixel: cells whose centre is farther than k from all of it cannot be hit
        gap = np.maximum(np.abs(d_col) - 0.5, 0) ** 2 + np.maximum(np.abs(d_row) - 0.5, 0) ** 2
        d_col, d_row = d_col[gap <= k * k], d_row[gap <= k * k]
        d_u, d_v = (d_col / focal).astype(np.float32), (-d_row / focal).astype(np.float32)
        chosen = np.flatnonzero(half == k)
        step = max(1, chunk // len(d_col))
        for lo in range(0, len(chosen), step):
            part = chosen[lo : lo + step]
            ids = front[part]
            col = column0[part, None] + d_col  # (n, cells)
            row = row0[part, None] + d_row
            z, rim = disc_hit(surfels[:, ids, None], u0[part, None] + d_u, v0[part, None] + d_v)
            covered = (rim <= 1.0) & (col >= 0) & (col < r) & (row >= 0) & (row < r)
            pixel = row[covered] * r + col[covered]  # int32: at most 46340² pixels
            yield np.broadcast_to(ids[:, None], col.shape)[covered], pixel, z[covered], rim[covered]


def splat_ids(
    cloud: PointCloud,
    rig: Rig,
    radii: np.ndarray,
    view: int,
    depth_tolerance: float = DEPTH_TOLERANCE,
    chunk: int = 1 << 22,
) -> np.ndarray:
    """(H, W) int32 id of the point whose disc wins each pixel of `view`, -1 for background.

    The (point, covered pixel) pairs are computed once (`chunk` at a time, to bound
    the temporaries; the pairs kept take 20 bytes each, about 16 per covered pixel
    at the default radii), then two reductions: the nearest disc depth per pixel,
    and among discs within `depth_tolerance` disc radii of it, the one whose
    centre is closest (smallest rim distance).
    """
    surfels = camera_surfels(rig, view, cloud, radii)
    out = np.full(rig.resolution**2, -1, np.int32)
    pairs = list(_candidates(surfels, rig, chunk))
    if not pairs:  # every point behind the camera
        return out.reshape(rig.resolution, rig.resolution)
    ids, pixel, z, rim = (np.concatenate(a) for a in zip(*pairs))
    nearest = np.full(rig.resolution**2, np.inf, np.float32)
    np.minimum.at(nearest, pixel, z)
    front = z <= nearest[pixel] + np.float32(depth_tolerance) * surfels[7, ids]
    # non-negative float32 keys order like their bit patterns: pack (rim, id) in one int64
    packed = (rim[front].view(np.uint32).astype(np.int64) << _ID_BITS) | ids[front]
    best = np.full(rig.resolution**2, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(best, pixel[front], packed)
    hit = best != np.iinfo(np.int64).max
    out[hit] = (best[hit] & ((1 << _ID_BITS) - 1)).astype(np.int32)
    return out.reshape(rig.resolution, rig.resolution)


def splat_views(
    cloud: PointCloud,
    rig: Rig | None = None,
    resolution: int = 1024,
    radius: float | np.ndarray | None = None,
    radius_scale: float = RADIUS_SCALE,
    depth_tolerance: float = DEPTH_TOLERANCE,
    backend: str = "auto",
) -> SplatViews:
    """Render `cloud` from every camera of `rig` (default: the official rig at `resolution`).

    Parameters
    ----------
    cloud : PointCloud
    rig : Rig, optional
    resolution : int
        Image size of the default rig, in pixels.
    radius : float or (N,) float, optional
        Disc radius in normalised units; default `radius_scale` * local spacing.
    depth_tolerance : float
        Discs within this many disc radii of the nearest depth at a pixel count as
        the same surface there; the one with the closest centre wins.
    backend : {"auto", "splat", "pytorch3d"}
        Who finds the winning disc per pixel: this module's numpy splatter, or
        PyTorch3D's point rasteriser with the same rules; "auto" picks PyTorch3D
        on CUDA (see :mod:`geosam2.render.backends`).

    Returns
    -------
    SplatViews with point ids (-1 background), planar depth at the pixel centre,
    the point's normal flipped to face the camera, and world points clipped to [-1, 1].
    """
    rig = official_rig(cloud.bbox_size, resolution=resolution) if rig is None else rig
    radii = splat_radii(cloud, radius, radius_scale)
    if cloud.num_points >= 1 << _ID_BITS:
        raise ValueError(f"At most {(1 << _ID_BITS) - 1} points can be splatted.")
    if resolve_backend(backend, point_cloud=True) == "pytorch3d":
        from .pytorch3d_backend import point_ids

        ids = point_ids(cloud, rig, radii, depth_tolerance)
    else:
        ids = np.stack([splat_ids(cloud, rig, radii, v, depth_tolerance) for v in range(rig.num_views)])
    shape = ids.shape
    depth = np.zeros(shape, np.float32)
    normals = np.zeros(shape + (3,), np.float32)
    points = np.zeros(shape + (3,), np.float32)
    pixel_uv = (np.arange(rig.resolution) + 0.5 - 0.5 * rig.resolution) / rig.focal
    for v in range(rig.num_views):
        row, col = np.nonzero(ids[v] >= 0)
        winner = ids[v, row, col]
        u, w = pixel_uv[col], -pixel_uv[row]
        z = disc_hit(camera_surfels(rig, v, cloud, radii)[:, winner], u, w)[0].astype(np.float64)
        rotation = rig.cam_to_world[v, :3, :3]
        direction = np.stack([u, w, -np.ones_like(u)], axis=1) @ rotation.T  # unit planar depth
        n = cloud.normals[winner]
        facing = np.einsum("ij,ij->i", n, direction)
        depth[v, row, col] = z
        normals[v, row, col] = np.where((facing > 0)[:, None], -n, n)
        points[v, row, col] = np.clip(rig.origins[v] + z[:, None] * direction, -1.0, 1.0)
    return SplatViews(rig, ids, depth, normals, points, radii)
