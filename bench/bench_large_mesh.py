"""Large meshes through a decimated proxy: time, peak memory and label agreement.

Run: python -m bench.bench_large_mesh [--faces 2000000] [--agreement-faces 300000]

The mesh is an assembly of primitives (a table with legs, a lamp, a ball, a vase)
subdivided until it has about `--faces` faces, written to a GLB and loaded as a
user's file would be. One run, the geometry segmenter, 1024² views:
load -> proxy of `--budget` faces -> one click on the largest part of view 0 ->
auto-complete -> labels carried to every face -> all the exports of the full mesh.
Targets: under 60 s and 6 GiB peak (resident set) on the 2-core machine.

The CPU time of the run is printed too (the cores are shared).

Agreement: on a `--agreement-faces` mesh, the same click + auto-complete on the
full mesh and through a proxy of `--agreement-budget` faces; parts are matched
one to one by shared area (Hungarian) and the matched share of the surface is
printed (target >= 99 %), with the share kept by the transfer alone (the full
mesh's labels carried to the proxy and back). The geometry segmenter answers with
whole regions of the surface, so a second figure exercises the views: the oracle
(exact masks of the assembly's connected pieces on the 12 views, lifted and
cleaned up) on the full mesh and on the proxy (its pieces carried from the full
mesh), compared the same way. The load average is printed: the cores are shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh
from scipy.optimize import linear_sum_assignment


from geosam2.evaluation.policies import Oracle
from geosam2.evaluation.readers import GroundTruth
from geosam2.io.export import export_mesh
from geosam2.geometry.facegraph import face_graph
from geosam2.segmenters.geometry import GeometrySegmenter
from geosam2.io.mesh import load_mesh
from geosam2.segmenters.prompts import Prompt, interior_point
from geosam2.geometry.proxy import closest_faces, decimate, transfer_labels
from geosam2.pipeline.session import Session
from geosam2.profiles import IMPROVED
from geosam2.settings import Settings

PA = Settings().pa  # the transfer's clean-up threshold, as the sessions'


def column(radius: float, height: float, sections: int, top_radius: float | None = None) -> trimesh.Trimesh:
    """A closed cylinder (or cone to `top_radius`) on z = 0 with rows of near-square
    quads up its side: the long thin sides of trimesh's cylinders stop quadric
    decimation early (thin triangles may not collapse), unlike a scanned or
    generated mesh."""
    top_radius = radius if top_radius is None else top_radius
    rows = max(1, round(height / (2 * np.pi * radius / sections)))
    t = np.linspace(0, 1, rows + 1)
    profile = np.column_stack([np.r_[0, radius + (top_radius - radius) * t, 0], np.r_[0, height * t, height]])
    return trimesh.creation.revolve(profile, sections=sections)


def assembly(sections: int) -> trimesh.Trimesh:
    """Overlapping primitives (separate pieces with creases): a table top on four
    legs, a lamp (base, rod, shade), a ball and a capsule; round ones with
    `sections` segments around."""
    pieces = [trimesh.creation.box((1.6, 1.0, 0.08)).apply_translation((0, 0, 0.75))]
    for x in (-0.7, 0.7):
        for y in (-0.4, 0.4):
            pieces.append(column(0.05, 0.72, sections).apply_translation((x, y, 0)))
    pieces.append(column(0.18, 0.04, sections).apply_translation((0.4, 0.2, 0.79)))
    pieces.append(column(0.02, 0.5, sections).apply_translation((0.4, 0.2, 0.8)))
    pieces.append(column(0.2, 0.25, sections, top_radius=0.0).apply_translation((0.4, 0.2, 1.12)))
    pieces.append(trimesh.creation.icosphere(3, 0.15).apply_translation((-0.3, -0.1, 0.94)))
    pieces.append(trimesh.creation.capsule(0.3, 0.1, count=(sections, sections)).apply_translation((-0.5, 0.25, 0.94)))
    return trimesh.util.concatenate(pieces)


def large_mesh(faces: int) -> trimesh.Trimesh:
    """The assembly with at most `faces` faces (close to it): levels of subdivision
    (x4 faces each) up to a sixteenth of `faces` for the coarsest assembly, on
    the finest assembly that fits."""
    levels, sections = 0, 8
    while len(assembly(sections).faces) * 4 ** (levels + 3) <= faces:
        levels += 1
    while len(assembly(sections + 1).faces) * 4**levels <= faces:
        sections += 1
    mesh = assembly(sections)
    for _ in range(levels):
        mesh = mesh.subdivide()
    return mesh


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def cpu_seconds() -> float:
    """User + system CPU time of this process so far: what the run costs whatever
    the other work on the shared cores (wall time on an idle machine is about
    this, less what the multi-threaded steps overlap)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_click_auto(mesh, resolution: int) -> Session:
    """Session on `mesh`: one click on the largest part of view 0, then auto-complete."""
    session = Session(mesh, GeometrySegmenter(), resolution=resolution)
    ids = session.views.face_ids[0]
    parts = np.append(session.segmenter.parts, -1)[ids]
    largest = np.bincount(parts[parts >= 0]).argmax()
    point = interior_point(parts == largest)
    session.add_part(Prompt(0, points=[point.tolist()], labels=[1]))
    session.auto_complete()
    return session


def agreement(mesh, a: np.ndarray, b: np.ndarray) -> float:
    """Share of the surface whose labels agree once the parts of `a` and `b` are
    matched one to one by shared area (unlabelled counts as a part)."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    overlap = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(overlap, (ia.reshape(-1), ib.reshape(-1)), mesh.face_areas)
    rows, cols = linear_sum_assignment(-overlap)
    return overlap[rows, cols].sum() / mesh.face_areas.sum()


def write(mesh: trimesh.Trimesh, folder: str, name: str) -> str:
    path = os.path.join(folder, f"{name}.glb")
    mesh.export(path)
    return path


def timed_run(path: str, folder: str, max_faces: int, budget: int, resolution: int) -> None:
    """Load -> proxy -> one click + auto-complete -> transfer -> exports, timed."""
    steps = {}
    cpu_start, start = cpu_seconds(), time.perf_counter()
    mesh = load_mesh(path, max_faces=max_faces)
    steps["load"] = time.perf_counter()
    proxy, _ = decimate(mesh, budget)
    steps["decimate"] = time.perf_counter()
    session = one_click_auto(proxy, resolution)
    steps["segment proxy"] = time.perf_counter()
    labels = transfer_labels(proxy, session.labels, mesh, session.pa, session.profile)
    steps["transfer"] = time.perf_counter()
    paths = export_mesh(mesh, labels, os.path.join(folder, "out"), session.parts)
    steps["export"] = time.perf_counter()
    previous = start
    for name, t in steps.items():
        print(f"  {name}: {t - previous:.1f} s")
        previous = t
    print(
        f"{mesh.num_faces:,} faces, proxy {proxy.num_faces:,}: {len(session.parts)} parts, "
        f"total {previous - start:.1f} s (CPU time {cpu_seconds() - cpu_start:.1f} s), "
        f"peak RSS {peak_gib():.2f} GiB (targets < 60 s, < 6 GiB)"
    )
    print("  exports: " + ", ".join(f"{Path(p).name} {os.path.getsize(p) / 2**20:.0f} MiB" for p in paths.values()))


def agreement_run(path: str, budget: int, resolution: int) -> None:
    """The same segmentation on the full mesh and through a proxy, compared; and
    the transfer alone: the full mesh's labels put on the proxy (closest full face
    to each proxy centroid) and carried back."""
    mesh = load_mesh(path)
    full = one_click_auto(mesh, resolution).labels
    proxy, _ = decimate(mesh, budget)
    through_proxy = transfer_labels(proxy, one_click_auto(proxy, resolution).labels, mesh, PA, IMPROVED)
    to_proxy = closest_faces(mesh.triangles, proxy.centroids, normals=proxy.face_normals)
    round_trip = transfer_labels(proxy, full[to_proxy], mesh, PA, IMPROVED)
    print(
        f"agreement on {mesh.num_faces:,} faces (proxy {proxy.num_faces:,}): {100 * agreement(mesh, full, through_proxy):.2f} % "
        f"of the area (target >= 99 %); full {len(np.unique(full))} labels, proxy {len(np.unique(through_proxy))}; "
        f"transfer alone (full -> proxy -> full): {100 * agreement(mesh, full, round_trip):.2f} %"
    )
    pieces = face_graph(mesh).components()
    oracle = Oracle(resolution)
    full = oracle.predict(GroundTruth("full", mesh, pieces))
    through_proxy = transfer_labels(proxy, oracle.predict(GroundTruth("proxy", proxy, pieces[to_proxy])), mesh, PA, IMPROVED)
    print(
        f"oracle (exact masks of the {pieces.max() + 1} pieces lifted and cleaned up): agreement {100 * agreement(mesh, full, through_proxy):.2f} %"
        f" of the area; full {len(np.unique(full))} labels, proxy {len(np.unique(through_proxy))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=2_000_000)
    parser.add_argument("--budget", type=int, default=100_000, help="proxy faces for the timed run")
    parser.add_argument("--agreement-faces", type=int, default=300_000)
    parser.add_argument("--agreement-budget", type=int, default=100_000)
    parser.add_argument("--resolution", type=int, default=1024)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-agreement", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as folder:
        if not args.skip_timing:
            timed_run(write(large_mesh(args.faces), folder, "large"), folder, 10 * args.faces, args.budget, args.resolution)
        if not args.skip_agreement:
            agreement_run(write(large_mesh(args.agreement_faces), folder, "medium"), args.agreement_budget, args.resolution)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
