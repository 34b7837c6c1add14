"""Build the demo's example meshes from trimesh primitives, one scene geometry per part.

Run: python assets/make_examples.py   (writes assets/examples/*.glb)
Each object is Z-up in our construction and written as glTF (Y-up), so the loader's
Y-up -> Z-up rotation brings it back upright.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from trimesh.creation import annulus, box, capsule, cylinder, icosphere, torus
from trimesh.transformations import rotation_matrix, translation_matrix

OUT = Path(__file__).resolve().parent / "examples"
Z_UP_TO_Y_UP = rotation_matrix(-np.pi / 2, [1, 0, 0])


def at(mesh: trimesh.Trimesh, x: float = 0.0, y: float = 0.0, z: float = 0.0) -> trimesh.Trimesh:
    """`mesh` translated by (x, y, z)."""
    return mesh.copy().apply_transform(translation_matrix([x, y, z]))


def chair() -> dict[str, trimesh.Trimesh]:
    parts = {"seat": at(box((1.0, 1.0, 0.1)), z=0.5), "back": at(box((1.0, 0.1, 0.9)), y=0.45, z=1.0)}
    for i, (x, y) in enumerate([(-0.42, -0.42), (0.42, -0.42), (-0.42, 0.42), (0.42, 0.42)]):
        parts[f"leg_{i}"] = at(box((0.08, 0.08, 0.45)), x, y, 0.225)
    return parts


def table() -> dict[str, trimesh.Trimesh]:
    parts = {"top": at(cylinder(radius=0.8, height=0.08, sections=48), z=0.75)}
    parts["column"] = at(cylinder(radius=0.07, height=0.7, sections=24), z=0.37)
    parts["foot"] = at(cylinder(radius=0.4, height=0.04, sections=48), z=0.02)
    return parts


def lamp() -> dict[str, trimesh.Trimesh]:
    shade = trimesh.creation.cone(radius=0.35, height=0.4, sections=40)  # apex up
    return {
        "base": at(cylinder(radius=0.3, height=0.06, sections=40), z=0.03),
        "pole": at(cylinder(radius=0.03, height=1.1, sections=16), z=0.6),
        "bulb": at(icosphere(subdivisions=2, radius=0.08), z=1.15),
        "shade": at(shade, z=1.1),
    }


def mug() -> dict[str, trimesh.Trimesh]:
    handle = torus(major_radius=0.22, minor_radius=0.04, major_sections=32, minor_sections=12)
    handle.apply_transform(rotation_matrix(np.pi / 2, [1, 0, 0]))
    return {
        "body": at(annulus(r_min=0.35, r_max=0.4, height=0.8, sections=48), z=0.45),
        "bottom": at(cylinder(radius=0.4, height=0.05, sections=48), z=0.025),
        "handle": at(handle, x=0.55, z=0.45),
    }


def figure() -> dict[str, trimesh.Trimesh]:
    arm = capsule(height=0.55, radius=0.07, count=[12, 12])
    leg = capsule(height=0.65, radius=0.09, count=[12, 12])
    return {
        "head": at(icosphere(subdivisions=3, radius=0.18), z=1.62),
        "torso": at(capsule(height=0.45, radius=0.22, count=[16, 16]), z=1.1),
        "arm_left": at(arm.copy().apply_transform(rotation_matrix(0.3, [0, 1, 0])), x=-0.3, z=1.1),
        "arm_right": at(arm.copy().apply_transform(rotation_matrix(-0.3, [0, 1, 0])), x=0.3, z=1.1),
        "leg_left": at(leg, x=-0.13, z=0.42),
        "leg_right": at(leg, x=0.13, z=0.42),
    }


EXAMPLES = {"chair": chair, "table": table, "lamp": lamp, "mug": mug, "figure": figure}


def write_example(name: str, parts: dict[str, trimesh.Trimesh], folder: Path) -> Path:
    """Write `parts` as a GLB scene with one named node per part."""
    scene = trimesh.Scene()
    for part_name, mesh in parts.items():
        mesh = mesh.copy()
        mesh.apply_transform(Z_UP_TO_Y_UP)
        scene.add_geometry(mesh, node_name=part_name, geom_name=part_name)
    path = folder / f"{name}.glb"
    scene.export(path)
    return path


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, build in EXAMPLES.items():
        print(write_example(name, build(), OUT))


if __name__ == "__main__":
    main()
