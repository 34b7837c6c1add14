"""CPU ray casting backend (trimesh + embreex): one primary ray per pixel centre."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import trimesh

from ..io.mesh import Mesh
from .rig import Rig

try:
    from trimesh.ray.ray_pyembree import RayMeshIntersector as _Intersector
except ImportError:  # embreex missing: trimesh's pure-numpy caster, far slower
    from trimesh.ray.ray_triangle import RayMeshIntersector as _Intersector


def face_ids(mesh: Mesh, rig: Rig, threads: int = 2) -> np.ndarray:
    """(V, H, W) int32 index of the first face hit by each pixel-centre ray, -1 on a miss.

    Views are cast on `threads` threads (embree releases the GIL).
    """
    intersector = _Intersector(trimesh.Trimesh(mesh.vertices, mesh.faces, process=False))
    r = rig.resolution

    def cast(view: int) -> np.ndarray:
        directions = rig.ray_directions(view).reshape(-1, 3)
        origins = np.broadcast_to(rig.origins[view], directions.shape)
        return intersector.intersects_first(origins, directions).reshape(r, r).astype(np.int32)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return np.stack(list(pool.map(cast, range(rig.num_views))))
