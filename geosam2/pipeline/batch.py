"""Segment every mesh of a folder automatically (`geosam2 segment-many`).

Each mesh under the input folder (searched recursively, sorted by relative
path) gets its exports in ``OUT/meshes/<key>/`` and a record
``OUT/records/<key>.json``, where ``<key>`` is its relative path with "%" and "/"
escaped as "%25" and "%2F" (:func:`output_key`: two files never share a key, so
``a/b.glb`` and ``a__b.glb`` both get theirs). A record (file, SHA-256 of the file,
the run's settings, status "ok" or "failed", parts, faces, faces segmented (fewer
on a proxy), seconds, error) is written atomically once the mesh is done, so a
re-run resumes: a mesh whose "ok" record is of the same file content is kept,
failed meshes and files changed since are done again. A folder holding records of
other settings (segmenter, checkpoint, resolution, PA, samples per face, face
budget, profile, code version; :func:`run_settings`) is refused, naming the
differences, unless ``restart`` deletes this shard's results first.
``OUT/summary_<i>_of_<n>.json`` lists the meshes of shard i of n: the failures
with their error, the finished ones, those segmented by this run.

Every output folder holds the file `MARKER`: folders holding it (an earlier
run's ``--out`` inside the input folder) and ``OUT`` itself are never searched
for input meshes.

Several processes split the folder with ``shard=(i, n)`` (the evaluation's
:func:`~geosam2.evaluation.runner.shard_of`: every n-th mesh in sorted order),
e.g. one per GPU; under ``torchrun`` the shard defaults to (RANK, WORLD_SIZE) and
GeoSAM2 runs on GPU LOCAL_RANK (see :func:`torchrun_shard`). Each process checks,
restarts and resumes the records of its own shard only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

from ..errors import GeoSAM2Error
from ..evaluation.runner import shard_of
from ..evaluation.settings import checkpoint_identity, code_version, settings_differences
from ..io.digest import file_sha256
from ..io.mesh import MESH_EXTENSIONS
from ..settings import Settings
from .workspace import Workspace

MARKER = "segment_many.json"
"""The file every output folder of `segment_many` holds; folders with it are never inputs."""
KEY_BYTES = 200  # longest output key; longer ones are cut and end with a digest of the path


class BatchError(GeoSAM2Error):
    """The input folder or the output folder of `segment-many` cannot be used as given."""


def output_key(file: str) -> str:
    """The name of the exports folder and record of input `file` (relative POSIX
    path): "%" as "%25", "/" as "%2F", so distinct files get distinct keys; keys
    longer than KEY_BYTES bytes end with 16 hex digits of the path's SHA-256 instead."""
    key = file.replace("%", "%25").replace("/", "%2F")
    if len(key.encode()) <= KEY_BYTES:
        return key
    digest = hashlib.sha256(file.encode()).hexdigest()[:16]
    return key.encode()[: KEY_BYTES - 17].decode(errors="ignore") + "~" + digest


def mesh_files(folder: str | Path, out: str | Path | None = None) -> list[str]:
    """Relative paths (POSIX) of the mesh files under `folder`, sorted; folders
    holding `MARKER` and the folder `out` are skipped (outputs are never inputs).
    Raises BatchError when `folder` is missing or not a folder."""
    root = Path(folder)
    if not root.exists():
        raise BatchError(f"The input folder '{folder}' does not exist: give the folder holding the meshes.")
    if not root.is_dir():
        raise BatchError(f"'{folder}' is a file, not a folder: give the folder holding the meshes (for one mesh, use `geosam2 segment`).")
    skipped = Path(out).resolve() if out is not None else None
    found = []
    for directory, subfolders, names in os.walk(root):
        here = Path(directory)
        subfolders[:] = [d for d in subfolders if not (here / d / MARKER).is_file() and (here / d).resolve() != skipped]
        found += [(here / n).relative_to(root).as_posix() for n in names if Path(n).suffix.lower() in MESH_EXTENSIONS]
    return sorted(found)


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


def run_settings(settings: Settings, segmenter_name: str, checkpoint: str | os.PathLike | None = None) -> dict:
    """The settings every record of a run carries: what changes the results
    (`segmenter_name`, the identity of the `checkpoint` file when one is given,
    resolution, PA, samples per face, face budget, profile, code version); the face
    limit only refuses meshes, which are retried anyway."""
    recorded = {
        "segmenter": segmenter_name,
        "resolution": settings.resolution,
        "pa": settings.pa,
        "samples_per_face": settings.samples_per_face,
        "face_budget": settings.face_budget,
        "profile": settings.profile.name,
        "code": code_version(),
    }
    if checkpoint is not None:
        recorded["checkpoint"] = checkpoint_identity(checkpoint)
    return recorded


def segment_one(path: Path, segmenter, out: Path, settings: Settings) -> dict:
    """Load, segment everything (`Session.segment_everything`, on a proxy above the
    face budget), export (`geosam2.pipeline.workspace.Workspace`); the record fields."""
    workspace = Workspace(path, segmenter, settings)
    workspace.session.segment_everything()
    workspace.export(out)
    return {"parts": len(workspace.session.parts), "faces": len(workspace.labels()), "segmented_faces": workspace.session.surface.num_elements}


def input_files(folder: Path, out: Path) -> list[str]:
    """The mesh files of `folder` (:func:`mesh_files`, `out` skipped). Raises
    BatchError when `folder` is `out` or inside it, or holds no mesh file."""
    if folder.resolve() == out.resolve() or out.resolve() in folder.resolve().parents:
        raise BatchError(f"The input folder '{folder}' is the output folder '{out}' or inside it: give another --out.")
    files = mesh_files(folder, out)
    if not files:
        raise BatchError(
            f"'{folder}' holds no mesh file ({', '.join(MESH_EXTENSIONS)}; searched recursively, earlier outputs skipped): "
            "give the folder holding the meshes."
        )
    return files


def _record_path(out: Path, file: str) -> Path:
    return out / "records" / f"{output_key(file)}.json"


def earlier_records(out: Path, files: list[str], recorded: dict, restart: bool) -> dict[str, dict]:
    """{file: record} of `files` already in `out`. With `restart`, their records and
    exports are deleted first (none returned); else raises BatchError when one was
    made with other settings than `recorded`, naming the differences and the ways out."""
    found = {f: json.loads(_record_path(out, f).read_text()) for f in files if _record_path(out, f).is_file()}
    if restart:
        for file in found:
            shutil.rmtree(out / "meshes" / output_key(file), ignore_errors=True)
            _record_path(out, file).unlink()
        if found:
            print(f"--restart: deleted the {len(found)} earlier results in {out}", file=sys.stderr)
        return {}
    for record in found.values():
        differences = settings_differences(record.get("settings"), recorded)
        if differences:
            raise BatchError(
                f"'{out}' holds results of other settings ({'; '.join(differences)}), which must not be mixed with this run's. "
                f"Give a new --out, or add --restart to delete its {len(found)} results of these meshes and start afresh."
            )
    return found


def _write_record(path: Path, record: dict) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, indent=1))
    temporary.replace(path)  # atomic: a killed run never leaves half a record


def segment_many(
    folder: str | Path,
    out: str | Path,
    segmenter,
    settings: Settings = Settings(),
    shard: tuple[int, int] = (0, 1),
    on_record: Callable[[dict], None] | None = None,
    recorded: dict | None = None,
    restart: bool = False,
) -> dict:
    """Segment the meshes of shard `shard` of `folder` into `out` with `settings`
    (resolution, PA, face budget and limit, profile; see the module docstring).
    `recorded`: the settings the records carry (default: :func:`run_settings` of
    `settings` and the segmenter's name). Returns the summary {"shard", "ok": [files],
    "failed": [{file, error}], "segmented": [files done by this run]}.

    One mesh failing (unreadable, too large, ...) is recorded with its error and
    the run goes on. Raises BatchError before any work for a missing or empty input
    folder, or an `out` holding results of other settings (see `earlier_records`)."""
    folder, out = Path(folder), Path(out)
    files = shard_of(input_files(folder, out), shard)
    recorded = recorded or run_settings(settings, segmenter.name)
    (out / "records").mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(json.dumps({"written_by": "geosam2 segment-many", "input": str(folder)}, indent=1))
    earlier = earlier_records(out, files, recorded, restart)
    segmented = []
    for file in files:
        digest = file_sha256(folder / file)
        if earlier.get(file, {}).get("status") == "ok" and earlier[file].get("sha256") == digest:
            continue
        start = time.perf_counter()
        exports = out / "meshes" / output_key(file)
        shutil.rmtree(exports, ignore_errors=True)  # a changed file's or a failure's leftovers
        record = {"file": file, "sha256": digest, "settings": recorded}
        try:
            record.update(segment_one(folder / file, segmenter, exports, settings))
            record["status"] = "ok"
        except Exception as exc:  # one bad mesh must not stop the batch
            record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        record["seconds"] = round(time.perf_counter() - start, 3)
        _write_record(_record_path(out, file), record)
        segmented.append(file)
        if on_record:
            on_record(record)
    records = [json.loads(_record_path(out, f).read_text()) for f in files]
    summary = {
        "shard": list(shard),
        "failed": [{"file": r["file"], "error": r["error"]} for r in records if r["status"] == "failed"],
        "ok": [r["file"] for r in records if r["status"] == "ok"],
        "segmented": segmented,
    }
    (out / f"summary_{shard[0]}_of_{shard[1]}.json").write_text(json.dumps(summary, indent=1))
    return summary


def print_record(record: dict) -> None:
    """One line per finished mesh on stderr."""
    status = f"{record['parts']} parts" if record["status"] == "ok" else f"FAILED: {record['error']}"
    print(f"{record['file']}: {status} ({record['seconds']:.1f} s)", file=sys.stderr)
