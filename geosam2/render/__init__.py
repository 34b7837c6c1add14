"""Render the rig's geometry buffers of a mesh: face ids, depth, normals, point maps.

Backends: ``"raycast"`` (CPU, trimesh + embreex, the default) and ``"pytorch3d"``
(GPU rasterisation, optional, imported only when asked for).
"""

from __future__ import annotations

import numpy as np

from ..mesh import Mesh
from ..views import Rig, official_rig
from .views_data import Views

BACKENDS = ("raycast", "pytorch3d")


def render_views(mesh: Mesh, rig: Rig | None = None, backend: str = "raycast", resolution: int = 1024) -> Views:
    """Render `mesh` from every camera of `rig` (default: the official rig at `resolution`).

    Normals are the face normals flipped towards the camera; points are
    origin + depth * ray direction, clipped to [-1, 1].
    """
    rig = official_rig(mesh.bbox_size, resolution=resolution) if rig is None else rig
    if backend == "raycast":
        from .raycast import first_hits
    elif backend == "pytorch3d":
        from .pytorch3d_backend import first_hits
    else:
        raise ValueError(f"Unknown render backend '{backend}': choose one of {BACKENDS}.")
    face_ids, depth = first_hits(mesh, rig)
    return views_from_hits(mesh, rig, face_ids, depth)


def views_from_hits(mesh: Mesh, rig: Rig, face_ids: np.ndarray, depth: np.ndarray) -> Views:
    """Complete (V, H, W) face ids and planar depths into a Views record."""
    hit = face_ids >= 0
    normals = np.zeros(face_ids.shape + (3,), np.float32)
    points = np.zeros(face_ids.shape + (3,), np.float32)
    for v in range(rig.num_views):
        directions = rig.ray_directions(v)[hit[v]]
        n = mesh.face_normals[face_ids[v][hit[v]]]
        n = np.where((np.einsum("ij,ij->i", n, directions) > 0)[:, None], -n, n)
        normals[v][hit[v]] = n
        points[v][hit[v]] = np.clip(rig.origins[v] + depth[v][hit[v], None] * directions, -1.0, 1.0)
    return Views(rig, face_ids.astype(np.int32), np.where(hit, depth, 0).astype(np.float32), normals, points)


__all__ = ["Views", "render_views", "views_from_hits", "BACKENDS"]
