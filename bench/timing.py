"""Timing shared by the benchmark scripts (run them from the repository as `python -m bench.<script>`)."""

from __future__ import annotations

import statistics
import time


def median_times(fn, repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (all its threads), in
    seconds, of `repeats` calls of `fn()`; on a machine shared with other work the
    CPU time is what a single-threaded step would take alone."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def median_seconds(fn, repeats: int) -> float:
    """Median wall time in seconds of `repeats` calls of `fn()`."""
    return median_times(fn, repeats)[0]
