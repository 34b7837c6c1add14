"""GPU rasterisation backend (PyTorch3D), for CUDA machines. Imported only when asked for.

Vertices are projected to PyTorch3D's NDC (+X left, +Y up, z = planar depth) with
the rig's own pinhole model, so pixel centres and face ids follow the same
conventions as the ray-casting backend.
"""

from __future__ import annotations

import numpy as np
import torch

from ..mesh import Mesh
from ..views import Rig


def face_ids(mesh: Mesh, rig: Rig, device: str | None = None) -> np.ndarray:
    """(V, H, W) int32 index of the nearest face at each pixel centre, -1 for background."""
    try:
        from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
        from pytorch3d.structures import Meshes
    except ImportError as exc:
        raise ImportError(
            "The 'pytorch3d' render backend needs PyTorch3D (a CUDA build); use backend='raycast' otherwise."
        ) from exc
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    r = rig.resolution
    faces = torch.as_tensor(mesh.faces, device=device)
    out = []
    for v in range(rig.num_views):
        xy, depth = rig.project(v, mesh.vertices)
        ndc = np.stack([1.0 - 2.0 * xy[:, 0] / r, 1.0 - 2.0 * xy[:, 1] / r, depth], axis=1)
        verts = torch.as_tensor(ndc, dtype=torch.float32, device=device)
        pix_to_face, _, _, _ = rasterize_meshes(
            Meshes([verts], [faces]), image_size=r, blur_radius=0.0, faces_per_pixel=1, cull_backfaces=False
        )
        out.append(pix_to_face[0, ..., 0].cpu().numpy().astype(np.int32))
    return np.stack(out)
