"""Render the rig's geometry buffers of a mesh: face ids, depth, normals, point maps.

Backends (see :mod:`geosam2.render.backends`): ``"raycast"`` (CPU, trimesh +
embreex) and ``"pytorch3d"`` (rasterisation, fast on CUDA, imported only when
used); ``"auto"``, the default, picks PyTorch3D on CUDA and ray casting otherwise.
"""

from __future__ import annotations

import numpy as np

from ..io.mesh import Mesh
from .rig import Rig, official_rig
from .backends import MESH_BACKENDS, describe_backend, resolve_backend
from .views import Views

BACKENDS = MESH_BACKENDS


def render_views(mesh: Mesh, rig: Rig | None = None, backend: str = "auto", resolution: int = 1024) -> Views:
    """Render `mesh` from every camera of `rig` (default: the official rig at `resolution`).

    Normals are the face normals flipped towards the camera; points are
    origin + depth * ray direction, clipped to [-1, 1]. `backend` is one of
    ``BACKENDS``; every backend gives the same buffers up to exact depth ties.
    """
    rig = official_rig(mesh.bbox_size, resolution=resolution) if rig is None else rig
    if resolve_backend(backend) == "pytorch3d":
        from .pytorch3d_backend import face_ids
    else:
        from .raycast import face_ids
    return views_from_face_ids(mesh, rig, face_ids(mesh, rig))


def views_from_face_ids(mesh: Mesh, rig: Rig, face_ids: np.ndarray) -> Views:
    """Complete (V, H, W) visible-face ids (-1 background) into a Views record.

    Depth is the exact intersection of each pixel-centre ray with its face's plane
    (the same for every backend); normals are flipped to face the camera.
    """
    hit = face_ids >= 0
    depth = np.zeros(face_ids.shape, np.float32)
    normals = np.zeros(face_ids.shape + (3,), np.float32)
    points = np.zeros(face_ids.shape + (3,), np.float32)
    for v in range(rig.num_views):
        ids = face_ids[v][hit[v]]
        directions = rig.ray_directions(v)[hit[v]]  # unit planar depth per direction
        n = mesh.face_normals[ids]
        facing = np.einsum("ij,ij->i", n, directions)
        z = np.einsum("ij,ij->i", n, mesh.triangles[ids, 0] - rig.origins[v]) / np.where(facing == 0, 1.0, facing)
        depth[v][hit[v]] = z
        normals[v][hit[v]] = np.where((facing > 0)[:, None], -n, n)
        points[v][hit[v]] = np.clip(rig.origins[v] + z[:, None] * directions, -1.0, 1.0)
    return Views(rig, face_ids.astype(np.int32), depth, normals, points)


__all__ = ["Views", "render_views", "views_from_face_ids", "describe_backend", "BACKENDS"]
