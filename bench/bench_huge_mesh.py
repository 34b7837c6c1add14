"""A 10M-face mesh through `geosam2 segment --auto` with the default limits: time and peak memory.

Run: python -m bench.bench_huge_mesh [--faces 10000000] [--steps]

The mesh is `bench.bench_large_mesh`'s assembly of primitives subdivided to about
`--faces` faces, written to a GLB. The command line then segments it as a user
would, with the default face limit (`geosam2.settings.Settings.max_faces`, which
follows the machine's memory) and face budget (a proxy of 500,000 faces), the
geometry segmenter and 1024² views; its wall time, CPU time (user + system: what
the run costs whatever else shares the cores) and peak resident memory (of the
child process) are printed. Targets on the 2-core, 24 GiB machine: < 3 min, < 12 GiB.

`--steps` also runs the same work in this process step by step (load, proxy,
render + segment everything, transfer, exports) and prints the wall time, CPU
time and peak resident memory of each, to see where they go.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

from bench.bench_large_mesh import large_mesh
from geosam2.settings import Settings


class PeakMemory:
    """The largest resident set of this process seen since `reset` (sampled every 50 ms)."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, current_rss())

    def reset(self) -> None:
        self.peak = current_rss()


def current_rss() -> int:
    """Resident bytes of this process now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_cli(path: str, out: str) -> None:
    """`geosam2 segment PATH --auto --segmenter geometry` in a child process, timed."""
    argv = [sys.executable, "-m", "geosam2.cli", "segment", path, "--auto", "--segmenter", "geometry", "--out", out]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(done.stdout.strip() or done.stderr.strip()[-2000:])
    status = "ok" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
    print(
        f"geosam2 segment --auto: {status}, {seconds:.1f} s wall, {usage.ru_utime + usage.ru_stime:.1f} s CPU, "
        f"peak RSS {usage.ru_maxrss / 2**20:.2f} GiB (targets < 180 s, < 12 GiB)"
    )


def run_steps(path: str, out: str) -> None:
    """The same work in this process, step by step, with each step's time and peak memory."""
    from geosam2.pipeline.workspace import Workpiece, Workspace
    from geosam2.segmenters.geometry import GeometrySegmenter

    settings = Settings.from_env()
    memory = PeakMemory()
    steps = [
        ("load", lambda s: s.update(full=Workpiece.load(path, settings.with_values(face_budget=0)).full)),
        ("proxy", lambda s: s.update(workpiece=Workpiece.load(s.pop("full"), settings))),
        ("render + segment", lambda s: s.update(workspace=_segmented(Workspace(s["workpiece"], GeometrySegmenter(), settings)))),
        ("transfer", lambda s: s["workspace"].labels()),
        ("exports", lambda s: s["workspace"].export(out)),
    ]
    state: dict = {}
    for name, step in steps:
        memory.reset()
        start, cpu = time.perf_counter(), time.process_time()
        step(state)
        seconds = time.perf_counter() - start
        print(f"  {name}: {seconds:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, peak RSS {memory.peak / 2**30:.2f} GiB")


def _segmented(workspace):
    workspace.session.segment_everything()
    return workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=10_000_000)
    parser.add_argument("--steps", action="store_true", help="also time each step in this process")
    args = parser.parse_args()
    settings = Settings.from_env()
    print(f"load average before: {os.getloadavg()}; default face limit {settings.max_faces:,}, face budget {settings.face_budget:,}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "huge.glb")
        mesh = large_mesh(args.faces)
        print(f"mesh: {len(mesh.faces):,} faces")
        mesh.export(path)
        del mesh
        run_cli(path, os.path.join(folder, "out"))
        if args.steps:
            run_steps(path, os.path.join(folder, "steps"))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
