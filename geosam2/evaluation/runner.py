"""Benchmark runner: score a method on every object of a ground-truth folder.

The runner only schedules, resumes, shards and reports; the methods (prompt
policies driving sessions, or stored predictions) are in
`geosam2.evaluation.policies` and `Predictions` below.

Each object's result is written to `<out>/objects/<uid>.json` as soon as it is
known, so an interrupted run resumes where it stopped, and shards (`shard=(i, n)`
takes every n-th object from the i-th in uid order) can run on different
machines and be merged (`merge_results`). Objects that fail or lack a prediction
are recorded with their reason and listed in the reports, never dropped, and
are tried again by the next run.

Every record carries the settings that produced it (`settings.evaluation_settings`:
method and its options, checkpoint, weighting, protocol, code version), so a
folder never mixes results of different settings: a run with other settings
refuses it (or, with ``restart``, deletes its results and starts afresh). It also
carries the SHA-256 of every file the object's result was read from (ground
truth, and stored predictions; :func:`object_inputs`): a result whose files
changed since (edited in place, or another prediction folder of the same name)
is redone. ``<out>/shard.json`` names the run's shard and its objects, so that
`merge_results` can check that shards 0..n-1 are all there exactly once, finished.
"""

from __future__ import annotations

import glob
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import GeoSAM2Error
from ..io.digest import file_sha256
from .metrics import face_weights, nearest_faces, protocol_miou
from .readers import Dataset, GroundTruth, find_dataset, read_categories, read_prediction
from .report import write_reports
from .settings import evaluation_settings, settings_differences


class Method(Protocol):
    """Something that labels a ground-truth object's elements (faces or cloud points).

    A method reading files of its own per object (stored predictions) also has
    ``input_files(uid) -> {name: path}``: their digests go into the records. A method
    may also have ``extra_scores(gt, pred, weighting) -> {name: score in [0, 1]}``:
    further figures of its prediction (e.g. one of its levels), reported beside mIoU."""

    name: str

    def predict(self, gt: GroundTruth) -> np.ndarray:
        """(E,) int predicted part per element of `gt` (or (L, E), one row per
        granularity level), -1 = unlabelled."""


class MissingPrediction(GeoSAM2Error):
    """The method has no output for this object (counted as missing, not failed)."""


class Predictions:
    """Another method's stored predictions (see `readers.read_prediction`; predicted
    meshes above `max_faces` faces refused, None: the default limit)."""

    def __init__(self, pred_dir: str | Path, max_faces: int | None = None):
        self.pred_dir = Path(pred_dir)
        self.max_faces = max_faces
        if not self.pred_dir.is_dir():
            raise GeoSAM2Error(f"Prediction folder '{pred_dir}' does not exist.")
        self.name = self.pred_dir.name

    def input_files(self, uid: str) -> dict[str, Path]:
        """{"prediction: <path in pred_dir>": path} of the files of object `uid`:
        ``<uid>.*`` in the folder and in its level sub-folders."""
        pattern = f"{glob.escape(uid)}.*"
        found = [*self.pred_dir.glob(pattern), *self.pred_dir.glob(f"*/{pattern}")]
        return {f"prediction: {p.relative_to(self.pred_dir).as_posix()}": p for p in sorted(found) if p.is_file()}

    def predict(self, gt: GroundTruth) -> np.ndarray:
        try:
            return read_prediction(self.pred_dir, gt, self.max_faces)
        except GeoSAM2Error as exc:
            if not any(self.pred_dir.glob(f"{glob.escape(gt.uid)}.*")):
                raise MissingPrediction(str(exc)) from exc
            raise


def object_inputs(dataset: Dataset, uid: str, method: Method) -> dict[str, str]:
    """{name: SHA-256} of the files object `uid`'s result is read from: its ground
    truth (`Dataset.input_files`) and the method's own (``method.input_files``, if any)."""
    files = dict(dataset.input_files(uid))
    files.update(method.input_files(uid) if hasattr(method, "input_files") else {})
    return {name: file_sha256(path) for name, path in sorted(files.items())}


def score(gt: GroundTruth, pred: np.ndarray, weighting: str = "area", protocol: str = "geosam2") -> float:
    """One object's score in [0, 1] under `protocol` (see `metrics.protocol_miou`).

    `pred` is (E,) or (L, E) labels of gt's elements (faces or cloud points).
    Faces are weighted by area by default; points count one each; separate
    labelled points (`gt.points`) take the label of their nearest face.
    """
    levels = np.atleast_2d(pred)
    if gt.mesh is None:
        return protocol_miou(gt.labels, levels, protocol=protocol)
    if gt.points is not None:
        faces = nearest_faces(gt.mesh, gt.points)
        return protocol_miou(gt.point_labels, levels[:, faces], protocol=protocol)
    return protocol_miou(gt.labels, levels, face_weights(gt.mesh, weighting), protocol)


def shard_of(uids: Sequence[str], shard: tuple[int, int] = (0, 1)) -> list[str]:
    """The uids of shard i of n (0-based): every n-th in sorted order starting at i."""
    index, count = shard
    if not (count >= 1 and 0 <= index < count):
        raise GeoSAM2Error(f"Shard {index}/{count} is invalid: use i/n with 0 <= i < n.")
    return sorted(uids)[index::count]


def evaluate_object(dataset: Dataset, uid: str, method: Method, weighting: str = "area", protocol: str = "geosam2") -> dict:
    """The result record of one object: uid, status ("ok", "failed", "missing"),
    miou (percent, ok only), extra (the method's `extra_scores` in percent, if it has
    any), parts, faces, seconds, error."""
    start = time.perf_counter()
    record: dict = {"uid": uid}
    try:
        gt = dataset.read(uid)
        record.update(parts=gt.num_parts, elements=gt.num_elements)
        pred = method.predict(gt)
        record.update(status="ok", miou=100.0 * score(gt, pred, weighting, protocol))
        if hasattr(method, "extra_scores"):  # further figures of the same prediction, in percent
            record["extra"] = {name: 100.0 * value for name, value in method.extra_scores(gt, pred, weighting).items()}
    except MissingPrediction as exc:
        record.update(status="missing", error=str(exc))
    except Exception as exc:  # one bad object must not stop a benchmark
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


def _progress(done: int, total: int, uid: str, start: float, stream) -> None:
    elapsed = time.perf_counter() - start
    width = 30
    filled = int(width * done / max(total, 1))
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {elapsed:6.1f}s {uid[:24]:24s}")
    if done == total:
        stream.write("\n")
    stream.flush()


def prepare_out(out: str | Path, settings: dict, restart: bool = False) -> None:
    """Make `out` ready for a run with `settings`: with `restart`, delete its
    records; else raise GeoSAM2Error when it holds records of other settings
    (naming them and the ways out), so results are never mixed or lost silently."""
    objects = Path(out) / "objects"
    paths = sorted(objects.glob("*.json"))
    if restart:
        for path in paths:
            path.unlink()
        if paths:
            print(f"--restart: deleted the {len(paths)} earlier results in {out}", file=sys.stderr)
        return
    for path in paths:
        differences = settings_differences(json.loads(path.read_text()).get("settings"), settings)
        if differences:
            raise GeoSAM2Error(
                f"'{out}' holds results of other settings ({'; '.join(differences)}), which must not be mixed with "
                f"this run's. Give a new --out, or add --restart to delete its {len(paths)} results and start afresh."
            )


SHARD_FILE = "shard.json"  # in every evaluation folder: {"shard": [i, n], "uids": [the shard's objects]}


def record_path(out: Path, uid: str) -> Path:
    """Where the result of object `uid` is stored ("/" in PartNetE uids becomes "__")."""
    return Path(out) / "objects" / f"{uid.replace('/', '__')}.json"


def load_records(out: Path) -> list[dict]:
    """The per-object records stored under `out/objects/`."""
    return [json.loads(p.read_text()) for p in sorted((Path(out) / "objects").glob("*.json"))]


def run_evaluation(
    gt_dir: str | Path,
    method: Method,
    out: str | Path,
    categories: str | Path | dict | None = None,
    shard: tuple[int, int] = (0, 1),
    weighting: str = "area",
    protocol: str = "geosam2",
    progress: bool = True,
    on_record: Callable[[dict], None] | None = None,
    settings: dict | None = None,
    restart: bool = False,
    max_faces: int | None = None,
) -> dict:
    """Evaluate `method` on the objects of `gt_dir` (shard `shard`), write reports into `out`.

    Objects with an "ok" result in `out/objects/` are not redone; missing and
    failed ones are tried again. `settings` (default: `evaluation_settings` of
    the method's name, weighting and protocol) go into every record; `out`
    holding results of other settings is refused, or emptied first with
    `restart` (see `prepare_out`). Ground-truth meshes above `max_faces` faces are
    refused (None: the default limit). Returns the summary dict (see `report.summarise`).
    """
    out = Path(out)
    settings = settings or evaluation_settings(method.name, weighting, protocol)
    prepare_out(out, settings, restart)
    (out / "objects").mkdir(parents=True, exist_ok=True)
    dataset = find_dataset(gt_dir, max_faces)
    category_of = read_categories(categories) if isinstance(categories, (str, Path)) else dict(categories or {})
    category_of = category_of or dataset.categories
    uids = shard_of(list(dataset.objects), shard)
    (out / SHARD_FILE).write_text(json.dumps({"shard": list(shard), "uids": uids}, indent=1))
    inputs = {u: object_inputs(dataset, u, method) for u in uids}
    earlier = {u: json.loads(record_path(out, u).read_text()) for u in uids if record_path(out, u).is_file()}
    todo = [u for u in uids if not (earlier.get(u, {}).get("status") == "ok" and earlier[u].get("inputs") == inputs[u])]
    changed = sum(earlier.get(u, {}).get("status") == "ok" for u in todo)
    retried = sum(u in earlier and earlier[u]["status"] != "ok" for u in todo)
    if changed:
        print(f"redoing {changed} objects whose files changed since their result", file=sys.stderr)
    if retried:
        print(f"retrying {retried} objects recorded as missing or failed", file=sys.stderr)
    start = time.perf_counter()
    for i, uid in enumerate(todo, 1):
        record = evaluate_object(dataset, uid, method, weighting, protocol)
        record.update(category=category_of.get(uid, ""), settings=settings, inputs=inputs[uid])
        path = record_path(out, uid)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(path)  # atomic: a killed run never leaves half a record
        if on_record:
            on_record(record)
        if progress:
            _progress(i, len(todo), uid, start, sys.stderr)
    records = [r for r in load_records(out) if r["uid"] in set(uids)]
    return write_reports(records, out, method.name, protocol)


def shard_folders(shard_dirs: Sequence[str | Path]) -> list[tuple[Path, list[str]]]:
    """[(folder, uids of its shard)] for the folders of one sharded run. Raises
    GeoSAM2Error unless they hold shards 0..n-1 of one n, each exactly once, each
    with a result for every one of its objects."""
    shards = []
    for folder in map(Path, shard_dirs):
        if not (folder / "objects").is_dir() or not (folder / SHARD_FILE).is_file():
            raise GeoSAM2Error(
                f"'{folder}' is not an evaluation folder of this version (no objects/ or {SHARD_FILE} inside): "
                "run its `geosam2 evaluate` again (finished objects are kept), then merge."
            )
        shards.append((folder, json.loads((folder / SHARD_FILE).read_text())))
    counts = sorted({info["shard"][1] for _, info in shards})
    if len(counts) > 1:
        raise GeoSAM2Error(f"The folders hold shards of runs split {' and '.join(map(str, counts))} ways: merge the shards of one run.")
    given: dict[int, list[str]] = {}
    for folder, info in shards:
        given.setdefault(info["shard"][0], []).append(str(folder))
    count = counts[0]
    twice = [f"{i}/{count} ({', '.join(folders)})" for i, folders in sorted(given.items()) if len(folders) > 1]
    missing = [f"{i}/{count}" for i in range(count) if i not in given]
    if twice or missing:
        problems = ([f"given twice: {'; '.join(twice)}"] if twice else []) + ([f"missing: {', '.join(missing)}"] if missing else [])
        raise GeoSAM2Error(f"Merge needs each of shards 0..{count - 1} exactly once; {'; '.join(problems)}.")
    for folder, info in shards:
        unfinished = [u for u in info["uids"] if not record_path(folder, u).is_file()]
        if unfinished:
            raise GeoSAM2Error(
                f"Shard {info['shard'][0]}/{count} in '{folder}' has no result for {len(unfinished)} of its {len(info['uids'])} objects "
                "(interrupted?): run its `geosam2 evaluate` again to finish it, then merge."
            )
    return [(folder, info["uids"]) for folder, info in shards]


def merge_results(shard_dirs: Sequence[str | Path], out: str | Path, method: str = "", protocol: str = "") -> dict:
    """Combine the per-object records of the shard folders of one run into `out`
    and write the reports. Raises GeoSAM2Error unless they are shards 0..n-1 each
    exactly once and finished (`shard_folders`), or when they hold other settings."""
    out = Path(out)
    shards = shard_folders(shard_dirs)
    (out / "objects").mkdir(parents=True, exist_ok=True)
    merged: dict[str, dict] = {}
    settings: dict | None = None  # of the first record: every other must have the same
    for folder, uids in shards:
        if (folder / "summary.json").is_file():
            previous_summary = json.loads((folder / "summary.json").read_text())
            method = method or previous_summary.get("method", "")
            protocol = protocol or previous_summary.get("protocol", "")
        for record in (json.loads(record_path(folder, u).read_text()) for u in uids):
            if not merged:
                settings = record.get("settings")
            elif record.get("settings") != settings:
                differences = settings_differences(settings, record.get("settings") or {})
                raise GeoSAM2Error(
                    f"'{folder}' holds results of other settings than the first shard ({'; '.join(differences)}): "
                    "merge only shards of one run."
                )
            merged[record["uid"]] = record
    for uid, record in merged.items():
        record_path(out, uid).write_text(json.dumps(record, indent=1))
    return write_reports(list(merged.values()), out, method, protocol or "geosam2")
