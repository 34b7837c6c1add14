"""`geosam2 render`: the 12 normal maps and point maps of a mesh as PNGs, with the cameras."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .options import add_face_limits, add_setting, settings_of, whole_number


def add_render(sub) -> None:
    p = sub.add_parser("render", help="render the 12 normal maps and point maps of a mesh to PNGs")
    p.add_argument("mesh", help="mesh file (GLB/GLTF/OBJ/PLY/STL/OFF)")
    p.add_argument("--out", required=True, help="output folder")
    add_setting(p, "resolution", what="image size in pixels")
    p.add_argument("--views", type=whole_number(1, 360), default=12, help="number of views (default 12)")
    p.add_argument("--start-azimuth", type=float, default=270.0, help="azimuth of view 0 in degrees")
    p.add_argument("--backend", default="auto", help="auto (default: pytorch3d with CUDA, else raycast), raycast or pytorch3d")
    add_face_limits(p, budget=False)
    p.set_defaults(run=run_render)


def camera_record(mesh, rig, source: str) -> dict:
    """meta.json of a rendering: the mesh, the rig's cameras and the conventions."""
    return {
        "mesh": source,
        "faces": mesh.num_faces,
        "resolution": rig.resolution,
        "fov_x": rig.fov_x,
        "distance": rig.distance,
        "azimuths_deg": rig.azimuths_deg.tolist(),
        "elevations_deg": rig.elevations_deg.tolist(),
        "cam_to_world": rig.cam_to_world.tolist(),
        "intrinsics": rig.intrinsics.tolist(),
        "convention": "OpenGL camera-to-world; pixel (x, y) = (column, row), centres at +0.5",
        "to_file": mesh.to_file.tolist(),
    }


def run_render(args) -> None:
    from PIL import Image

    from ..io.mesh import load_mesh
    from ..model.encode import normal_image_uint8
    from ..render import render_views
    from ..render.rig import official_rig

    settings = settings_of(args)
    mesh = load_mesh(args.mesh, settings.max_faces)
    rig = official_rig(mesh.bbox_size, settings.resolution, args.views, args.start_azimuth)
    views = render_views(mesh, rig, backend=args.backend)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    normals = normal_image_uint8(views)
    points = np.round((views.points + 1.0) * 127.5).astype(np.uint8)
    points[~views.silhouette] = 0
    for v in range(views.num_views):
        Image.fromarray(normals[v]).save(out / f"normal_{v:02d}.png")
        Image.fromarray(points[v]).save(out / f"points_{v:02d}.png")
    (out / "meta.json").write_text(json.dumps(camera_record(mesh, rig, str(args.mesh)), indent=1))
    print(f"wrote {views.num_views} normal maps and point maps to {out}")
