"""Segment every mesh of a folder automatically (`geosam2 segment-many`).

Each mesh under the input folder (searched recursively, sorted by relative
path) gets its exports in ``OUT/meshes/<relative path with "/" as "__">/`` and a
record ``OUT/records/<same>.json`` (file, status "ok" or "failed", parts, faces,
faces segmented (fewer on a proxy), seconds, error). A record is written
atomically once the mesh is done, so a re-run resumes: meshes with an "ok"
record are skipped, failed ones are tried again. ``OUT/summary_<i>_of_<n>.json`` lists the meshes of shard i
of n: the failures with their error, then the finished ones.

Several processes split the folder with ``shard=(i, n)`` (the evaluation's
:func:`~geosam2.evaluation.runner.shard_of`: every n-th mesh in sorted order),
e.g. one per GPU; under ``torchrun`` the shard defaults to (RANK, WORLD_SIZE) and
GeoSAM2 runs on GPU LOCAL_RANK (see :func:`torchrun_shard`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

from ..evaluation.runner import shard_of
from ..io.mesh import MESH_EXTENSIONS
from ..settings import Settings
from .workspace import Workspace


def mesh_files(folder: str | Path) -> list[str]:
    """Relative paths (POSIX) of the mesh files under `folder`, sorted."""
    root = Path(folder)
    found = (p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MESH_EXTENSIONS)
    return sorted(p.relative_to(root).as_posix() for p in found)


def torchrun_shard() -> tuple[int, int]:
    """(RANK, WORLD_SIZE) from the environment torchrun sets, (0, 1) without it;
    under torchrun with CUDA, GPU LOCAL_RANK becomes this process's default device
    (no process group: the shards share nothing)."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        import torch

        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return rank, world


def _key(file: str) -> str:
    return file.replace("/", "__")


def segment_one(path: Path, segmenter, out: Path, settings: Settings) -> dict:
    """Load, segment everything (`Session.segment_everything`, on a proxy above the
    face budget), export (`geosam2.pipeline.workspace.Workspace`); the record fields."""
    workspace = Workspace(path, segmenter, settings)
    workspace.session.segment_everything()
    workspace.export(out)
    return {"parts": len(workspace.session.parts), "faces": len(workspace.labels()), "segmented_faces": workspace.session.surface.num_elements}


def segment_many(
    folder: str | Path,
    out: str | Path,
    segmenter,
    settings: Settings = Settings(),
    shard: tuple[int, int] = (0, 1),
    on_record: Callable[[dict], None] | None = None,
) -> dict:
    """Segment the meshes of shard `shard` of `folder` into `out` with `settings`
    (resolution, PA, face budget and limit, profile; see the module docstring); returns the summary {"ok": [files], "failed": [{file, error}]}.

    One mesh failing (unreadable, too large, ...) is recorded with its error and
    the run goes on."""
    folder, out = Path(folder), Path(out)
    (out / "records").mkdir(parents=True, exist_ok=True)
    files = shard_of(mesh_files(folder), shard)
    for file in files:
        record_path = out / "records" / f"{_key(file)}.json"
        if record_path.is_file() and json.loads(record_path.read_text())["status"] == "ok":
            continue
        start = time.perf_counter()
        record = {"file": file}
        try:
            record.update(segment_one(folder / file, segmenter, out / "meshes" / _key(file), settings))
            record["status"] = "ok"
        except Exception as exc:  # one bad mesh must not stop the batch
            record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        record["seconds"] = round(time.perf_counter() - start, 3)
        temporary = record_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record, indent=1))
        temporary.replace(record_path)  # atomic: a killed run never leaves half a record
        if on_record:
            on_record(record)
    records = [json.loads((out / "records" / f"{_key(f)}.json").read_text()) for f in files]
    summary = {
        "shard": list(shard),
        "failed": [{"file": r["file"], "error": r["error"]} for r in records if r["status"] == "failed"],
        "ok": [r["file"] for r in records if r["status"] == "ok"],
    }
    (out / f"summary_{shard[0]}_of_{shard[1]}.json").write_text(json.dumps(summary, indent=1))
    return summary


def print_record(record: dict) -> None:
    """One line per finished mesh on stderr."""
    status = f"{record['parts']} parts" if record["status"] == "ok" else f"FAILED: {record['error']}"
    print(f"{record['file']}: {status} ({record['seconds']:.1f} s)", file=sys.stderr)
