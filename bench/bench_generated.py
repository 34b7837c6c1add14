"""Speed and quality of the geometry segmenter on dense one-piece (generated-like) meshes.

A smooth closed surface of revolution (a body with four bulges joined by concave
valleys, no crease, one piece) at about 200,000 and 500,000 faces, with sharp
valleys and with soft ones (blended over five times the distance: the valleys of a
marching-cubes surface). Printed, as medians of wall time (and of CPU time, what a
single-threaded step takes on a machine shared with other work): the boundary
weights (`boundaries`), the hierarchy of parts including its weights
(`boundaries` then `part_hierarchy`, as a new mesh needs them), one click answered
in 3-D (`GeometrySegmenter.select_faces` on a single-click prompt) and the area IoU
of its answer with the clicked bulge, beside the earlier crease-region answer
(connected pieces split at sharp concave creases: one region, the whole object, on
such a mesh) and its IoU; then the load average of the machine.

Targets (issue 22): a click on a 200k-face one-piece mesh under 1.5 s, the
hierarchy of a 500k-face mesh (weights included) under 15 s (2 cores).

Run: `python -m bench.bench_generated [--repeats N]`.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import trimesh

from geosam2.geometry.boundaries import boundaries
from geosam2.geometry.hierarchy import part_hierarchy
from geosam2.geometry.scales import geometric_parts
from geosam2.io.mesh import from_arrays
from geosam2.render import render_views
from geosam2.segmenters.geometry import GeometrySegmenter
from geosam2.segmenters.prompts import Prompt

from .timing import median_times


SOFTNESS = {"sharp": 0.02, "soft": 0.1}  # blending distance of the bulges' radii (file units)


def bulges(faces: int, softness: float):
    """A closed surface of revolution of about `faces` triangles: four balls along z
    blended into one smooth body (concave valleys rounded over `softness`), and (F,)
    the bulge of each face (0..3 by height, split halfway between the ball centres)."""
    sections = int(np.sqrt(faces / 2.0))
    rings = max(faces // (2 * sections), 8)
    z = -np.cos(np.linspace(0, np.pi, rings))
    centres = np.array([-0.75, -0.25, 0.25, 0.75])
    balls = np.sqrt(np.clip(0.26**2 - (z[:, None] - centres) ** 2, 0, None))
    radius = softness * np.log(np.exp(balls / softness).sum(axis=1))
    radius = np.where(np.abs(z) > 0.75, balls.max(axis=1), radius)
    radius[[0, -1]] = 0.0
    mesh = trimesh.creation.revolve(np.column_stack([radius, z]), sections=sections)
    mesh.merge_vertices()
    bulge = np.searchsorted([-0.5, 0.0, 0.5], mesh.triangles_center[:, 2])
    return from_arrays(mesh.vertices, mesh.faces), bulge


def iou(found: np.ndarray, truth: np.ndarray, areas: np.ndarray) -> float:
    return float(areas[found & truth].sum() / areas[found | truth].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'shape':>6} {'faces':>8} {'weights s (CPU)':>16} {'hierarchy s (CPU)':>18} {'click s (CPU)':>14} {'IoU':>5} {'earlier s':>9} {'earlier IoU':>11}")
    for name, softness in SOFTNESS.items():
        for target in (200_000, 500_000):
            mesh, bulge = bulges(target, softness)
            graph = mesh.graph
            weights = median_times(lambda: boundaries(mesh, graph), args.repeats)
            hierarchy = median_times(lambda: part_hierarchy(mesh, graph, boundaries(mesh, graph)), args.repeats)
            views = render_views(mesh, resolution=256)
            segmenter = GeometrySegmenter(mesh)
            segmenter.hierarchy()
            top = views.face_ids[0]
            rows, columns = np.nonzero(top >= 0)
            prompt = Prompt(0, points=[[columns[len(columns) // 3] + 0.5, rows[len(rows) // 3] + 0.5]])
            clicked = bulge[prompt.under_clicks(top)[0]]
            click = median_times(lambda: segmenter.select_faces(views, [prompt]), args.repeats)
            quality = iou(segmenter.select_faces(views, [prompt])[0], bulge == clicked, mesh.face_areas)
            earlier = median_times(lambda: geometric_parts(mesh, graph=graph), args.repeats)[0]
            parts = geometric_parts(mesh, graph=graph)
            earlier_quality = iou(parts == parts[prompt.under_clicks(top)[0]], bulge == clicked, mesh.face_areas)
            times = " ".join(f"{f'{wall:.2f} ({cpu:.2f})':>{width}}" for (wall, cpu), width in ((weights, 16), (hierarchy, 18), (click, 14)))
            print(f"{name:>6} {mesh.num_faces:>8} {times} {quality:>5.2f} {earlier:>9.2f} {earlier_quality:>11.2f}", flush=True)
    print("load average (1, 5, 15 min): " + ", ".join(f"{load:.1f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
