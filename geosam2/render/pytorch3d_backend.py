"""PyTorch3D rasterisation of meshes and point clouds: the fast path on CUDA.

Imported only when this backend runs (it imports torch and PyTorch3D). Vertices
and points are projected with the rig's own pinhole model into PyTorch3D's NDC
(+X left, +Y up, z = planar depth), so pixel centres follow the conventions of
the CPU renderers: face ids match embree ray casting up to exact depth ties, and
point ids follow the rules of the disc splatter (:mod:`geosam2.render.splat`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..io.mesh import Mesh
from ..io.pointcloud import PointCloud
from .rig import Rig
from .backends import cuda_device_name
from .splat import camera_surfels, disc_hit

POINTS_PER_PIXEL = 64  # candidate discs kept per pixel: enough at the default radii (see point_ids)
_ROWS_PER_CHUNK = 64  # image rows whose candidates are resolved at once (bounds the temporaries)


def _import_pytorch3d():
    try:
        import pytorch3d._C  # noqa: F401  (fails for a PyTorch3D built against another torch)
        from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
        from pytorch3d.renderer.points.rasterize_points import rasterize_points
        from pytorch3d.structures import Meshes, Pointclouds
    except ImportError as exc:
        raise ImportError(
            f"The 'pytorch3d' render backend cannot load PyTorch3D ({exc}): install the pinned "
            "requirements (torch==2.11.0 with easypytorch3d) or use backend='auto'."
        ) from exc
    return rasterize_meshes, rasterize_points, Meshes, Pointclouds


def _device(device: str | None) -> torch.device:
    return torch.device(device or ("cuda" if cuda_device_name() is not None else "cpu"))


def _ndc(rig: Rig, view: int, points: np.ndarray) -> np.ndarray:
    """(N, 3) float64 NDC of world `points` in `view`: x left, y up, z planar depth."""
    xy, depth = rig.project(view, points)
    r = rig.resolution
    return np.stack([1.0 - 2.0 * xy[:, 0] / r, 1.0 - 2.0 * xy[:, 1] / r, depth], axis=1)


def face_ids(mesh: Mesh, rig: Rig, device: str | None = None) -> np.ndarray:
    """(V, H, W) int32 index of the nearest face at each pixel centre, -1 for background.

    All views are rasterised in one batch on `device` (default: CUDA when
    available). Barycentrics are perspective-correct, so the depth test compares
    true planar depths (screen-linear depth picks the wrong face of near-touching
    parts: 95.5 % agreement with ray casting instead of 99.98 % on a real object).
    """
    rasterize_meshes, _, Meshes, _ = _import_pytorch3d()
    device = _device(device)
    verts = [
        torch.as_tensor(_ndc(rig, v, mesh.vertices), dtype=torch.float32, device=device) for v in range(rig.num_views)
    ]
    faces = torch.as_tensor(mesh.faces, device=device)
    pix_to_face, _, _, _ = rasterize_meshes(
        Meshes(verts, [faces] * rig.num_views),
        image_size=rig.resolution,
        faces_per_pixel=1,
        perspective_correct=True,
        cull_backfaces=False,
    )
    packed = pix_to_face[..., 0]  # faces of view v are packed at v * F + f
    first = torch.arange(rig.num_views, device=device)[:, None, None] * mesh.num_faces
    return torch.where(packed >= 0, packed - first, -1).cpu().numpy().astype(np.int32)


def point_ids(
    cloud: PointCloud,
    rig: Rig,
    radii: np.ndarray,
    depth_tolerance: float,
    points_per_pixel: int = POINTS_PER_PIXEL,
    device: str | None = None,
) -> np.ndarray:
    """(V, H, W) int32 id of the point whose disc wins each pixel, -1 for background.

    PyTorch3D rasterises each point as a screen circle bounding its disc's image
    (radius f r |c| / (d (d - r)) pixels for a point at camera position c, planar
    depth d, disc radius r) and keeps the `points_per_pixel` nearest by centre
    depth. Among them the rule of :func:`geosam2.render.splat.splat_ids` picks
    the winner: the ray must meet the disc; among discs within `depth_tolerance`
    radii of the nearest disc depth, the closest centre (then the lower id) wins.
    Pixels covered by more candidate circles than `points_per_pixel` (grazing
    surfaces) may miss their winner: at the default radii (4,000 points of a
    dev object at 96²), 64 candidates agree with the splatter on 99.97 % of the
    pixels, 32 on 99.4 %, 150 on all.
    """
    _, rasterize_points, _, Pointclouds = _import_pytorch3d()
    device = _device(device)
    r, focal = rig.resolution, rig.focal
    centres = torch.as_tensor((np.arange(r) + 0.5 - 0.5 * r) / focal, dtype=torch.float32, device=device)
    out = []
    for v in range(rig.num_views):
        surfels = camera_surfels(rig, v, cloud, radii)
        camera = surfels[:3].astype(np.float64)
        depth = -camera[2]
        front = depth > radii  # the splatter's rule: discs reaching behind the camera are dropped
        bound = focal * radii * np.linalg.norm(camera, axis=0) / (depth * np.maximum(depth - radii, 1e-12))
        ndc = _ndc(rig, v, cloud.points)
        ndc[~front, 2] = -1.0  # behind the camera: never rasterised
        radius_ndc = np.where(front, 2.0 * bound / r * (1.0 + 1e-4), 0.0)
        idx, _, _ = rasterize_points(
            Pointclouds([torch.as_tensor(ndc, dtype=torch.float32, device=device)]),
            image_size=r,
            radius=torch.as_tensor(radius_ndc, dtype=torch.float32, device=device)[None],
            points_per_pixel=points_per_pixel,
        )
        surfels_t = torch.as_tensor(surfels, device=device)
        chunks = [slice(lo, lo + _ROWS_PER_CHUNK) for lo in range(0, r, _ROWS_PER_CHUNK)]
        rows = [_winners(idx[0, c].long(), surfels_t, centres, centres[c], depth_tolerance) for c in chunks]
        out.append(torch.cat(rows).cpu().numpy().astype(np.int32))
    return np.stack(out)


def _winners(
    ids: torch.Tensor, surfels: torch.Tensor, u: torch.Tensor, row_v: torch.Tensor, depth_tolerance: float
) -> torch.Tensor:
    """(h, W) winning point per pixel of (h, W, K) candidate `ids` (-1 padding),
    for pixel-centre rays (u, -row_v, -1) in camera space; -1 where no disc is hit."""
    z, rim = disc_hit(surfels[:, ids.clamp(min=0)], u[None, :, None], -row_v[:, None, None])
    covered = (ids >= 0) & (rim <= 1.0)
    nearest = torch.where(covered, z, torch.inf).amin(-1, keepdim=True)
    same_surface = covered & (z <= nearest + depth_tolerance * surfels[7, ids.clamp(min=0)])
    rim = torch.where(same_surface, rim, torch.inf)
    closest = same_surface & (rim == rim.amin(-1, keepdim=True))
    best = torch.where(closest, ids, torch.iinfo(ids.dtype).max).amin(-1)
    return torch.where(same_surface.any(-1), best, -1)
