"""Memory of a demo server under API loads of distinct meshes without heartbeats (issue 16, case 3).

Run: python -m bench.bench_demo_memory [--loads 30] [--resolution 1024]

Starts `python app.py` (offline geometry segmenter, default memory limits unless
GEOSAM2_DEMO_* are set) on a free 127.0.0.1 port, with its temporary folders in a
fresh folder, then makes `--loads` calls of the public `/load` endpoint with
gradio_client, each from a new client (a new session hash, no page, so no
heartbeat and no unload) on a distinct mesh (the figure example with its
vertices jittered: new content, so nothing is shared). The server's resident
memory (VmRSS of its process) is sampled every 0.1 s. Printed: RSS at start,
peak and after each load, the load times, how many user folders are on disk after
the last load, and whether the temporary folders are gone after SIGTERM.
Target: peak under 3 GB at 1024 px.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import trimesh

REPO = Path(__file__).resolve().parents[1]

from tests.browser import free_port
from demo.layout import EXAMPLES_DIR
from demo.model import GEOMETRY

GB = 1 << 30


def rss(pid: int) -> int:
    """Resident memory of process `pid` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def distinct_meshes(folder: Path, count: int) -> list[Path]:
    """`count` copies of the figure example, each with its vertices jittered differently."""
    scene = trimesh.load(EXAMPLES_DIR / "figure.glb")
    paths = []
    for i in range(count):
        copy = scene.copy()
        rng = np.random.default_rng(i)
        for geometry in copy.geometry.values():
            geometry.vertices = geometry.vertices + rng.normal(0, 1e-4, geometry.vertices.shape)
        paths.append(folder / f"figure_{i:02d}.glb")
        copy.export(paths[-1])
    return paths


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 300.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            urllib.request.urlopen(url + "gradio_api/info", timeout=2).read()
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the server at {url} did not answer in {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=30)
    parser.add_argument("--resolution", type=int, default=1024)
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    work = Path(tempfile.mkdtemp(prefix="bench-demo-memory-"))
    server_tmp = work / "server-tmp"
    server_tmp.mkdir()
    meshes = distinct_meshes(work, args.loads)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", TMPDIR=str(server_tmp),
               GRADIO_TEMP_DIR=str(server_tmp / "gradio"), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    env.pop("GEOSAM2_CHECKPOINT", None)
    log = open(work / "server.log", "w")
    server = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    peak, sampling = [0], threading.Event()

    def sample():
        while not sampling.wait(0.1):
            try:
                peak[0] = max(peak[0], rss(server.pid))
            except (OSError, RuntimeError):
                return

    try:
        wait_until_up(url, server)
        start = rss(server.pid)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        times, after = [], []
        for path in meshes:
            client = Client(url, verbose=False)  # a new user: new session hash, no heartbeat
            began = time.perf_counter()
            client.predict(handle_file(str(path)), 0.02, 5, args.resolution, GEOMETRY, False, False, api_name="/load")
            times.append(time.perf_counter() - began)
            after.append(rss(server.pid))
            client.close()
        sampling.set()
        sampler.join()
        end = rss(server.pid)
        users = sorted(p.name for p in server_tmp.glob("geosam2-demo-*/user-*"))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    left = sorted(str(p.relative_to(server_tmp)) for p in server_tmp.glob("geosam2-demo-*"))
    limits = {k: v for k, v in os.environ.items() if k.startswith("GEOSAM2_DEMO_")} or "defaults"
    print(f"{args.loads} API loads of distinct meshes at {args.resolution} px, no heartbeats, geometry segmenter, limits {limits}")
    print(f"server RSS: {start / GB:.2f} GB at start, peak {peak[0] / GB:.2f} GB, {end / GB:.2f} GB after the last load (target < 3 GB)")
    print(f"RSS after each load (GB): {[round(r / GB, 2) for r in after]}")
    print(f"load time: median {np.median(times):.1f} s, max {max(times):.1f} s")
    print(f"user folders on disk after the last load: {len(users)}; the server's temporary folders left after SIGTERM: {left or 'none'}")
    print(f"server exit code {server.returncode}; log: {work / 'server.log'}")


if __name__ == "__main__":
    main()
