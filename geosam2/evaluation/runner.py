"""Benchmark runner: score a method on every object of a ground-truth folder.

Each object's result is written to `<out>/objects/<uid>.json` as soon as it is
known, so an interrupted run resumes where it stopped, and shards (`shard=(i, n)`
takes every n-th object from the i-th in uid order) can run on different
machines and be merged (`merge_results`). Objects that fail or lack a prediction
are recorded with their reason and listed in the reports, never dropped, and
are tried again by the next run.

Every record carries the settings that produced it (`settings.evaluation_settings`:
method and its options, checkpoint, weighting, protocol, code version), so a
folder never mixes results of different settings: a run with other settings
refuses it (or, with ``restart``, deletes its results and starts afresh).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import GeoSAM2Error
from .metrics import dense_labels, face_weights, nearest_faces, protocol_miou
from .readers import Dataset, GroundTruth, find_dataset, read_categories, read_prediction
from .report import write_reports
from .settings import evaluation_settings, settings_differences


class Method(Protocol):
    """Something that labels a ground-truth object's elements (faces or cloud points)."""

    name: str

    def predict(self, gt: GroundTruth) -> np.ndarray:
        """(E,) int predicted part per element of `gt` (or (L, E), one row per
        granularity level), -1 = unlabelled."""


class MissingPrediction(GeoSAM2Error):
    """The method has no output for this object (counted as missing, not failed)."""


class Predictions:
    """Another method's stored predictions (see `readers.read_prediction`)."""

    def __init__(self, pred_dir: str | Path):
        self.pred_dir = Path(pred_dir)
        if not self.pred_dir.is_dir():
            raise GeoSAM2Error(f"Prediction folder '{pred_dir}' does not exist.")
        self.name = self.pred_dir.name

    def predict(self, gt: GroundTruth) -> np.ndarray:
        try:
            return read_prediction(self.pred_dir, gt)
        except GeoSAM2Error as exc:
            if not any(self.pred_dir.glob(f"{gt.uid}.*")):
                raise MissingPrediction(str(exc)) from exc
            raise


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
    miou (percent, ok only), parts, faces, seconds, error."""
    start = time.perf_counter()
    record: dict = {"uid": uid}
    try:
        gt = dataset.read(uid)
        record.update(parts=gt.num_parts, elements=gt.num_elements)
        pred = method.predict(gt)
        record.update(status="ok", miou=100.0 * score(gt, pred, weighting, protocol))
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
) -> dict:
    """Evaluate `method` on the objects of `gt_dir` (shard `shard`), write reports into `out`.

    Objects with an "ok" result in `out/objects/` are not redone; missing and
    failed ones are tried again. `settings` (default: `evaluation_settings` of
    the method's name, weighting and protocol) go into every record; `out`
    holding results of other settings is refused, or emptied first with
    `restart` (see `prepare_out`). Returns the summary dict (see `report.summarise`).
    """
    out = Path(out)
    settings = settings or evaluation_settings(method.name, weighting, protocol)
    prepare_out(out, settings, restart)
    (out / "objects").mkdir(parents=True, exist_ok=True)
    dataset = find_dataset(gt_dir)
    category_of = read_categories(categories) if isinstance(categories, (str, Path)) else dict(categories or {})
    category_of = category_of or dataset.categories
    uids = shard_of(list(dataset.objects), shard)
    status = {u: json.loads(record_path(out, u).read_text())["status"] for u in uids if record_path(out, u).is_file()}
    todo = [u for u in uids if status.get(u) != "ok"]
    retried = sum(u in status for u in todo)
    if retried:
        print(f"retrying {retried} objects recorded as missing or failed", file=sys.stderr)
    start = time.perf_counter()
    for i, uid in enumerate(todo, 1):
        record = evaluate_object(dataset, uid, method, weighting, protocol)
        record.update(category=category_of.get(uid, ""), settings=settings)
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


def merge_results(shard_dirs: Sequence[str | Path], out: str | Path, method: str = "", protocol: str = "") -> dict:
    """Combine the per-object records of several shard folders into `out` and write
    the reports. Raises GeoSAM2Error when two shards hold different results for an object."""
    out = Path(out)
    (out / "objects").mkdir(parents=True, exist_ok=True)
    merged: dict[str, dict] = {}
    settings: dict | None = None  # of the first record: every other must have the same
    for folder in shard_dirs:
        if not (Path(folder) / "objects").is_dir():
            raise GeoSAM2Error(f"'{folder}' is not an evaluation folder (no objects/ inside).")
        if (Path(folder) / "summary.json").is_file():
            previous_summary = json.loads((Path(folder) / "summary.json").read_text())
            method = method or previous_summary.get("method", "")
            protocol = protocol or previous_summary.get("protocol", "")
        for record in load_records(folder):
            if not merged:
                settings = record.get("settings")
            elif record.get("settings") != settings:
                differences = settings_differences(settings, record.get("settings") or {})
                raise GeoSAM2Error(
                    f"'{folder}' holds results of other settings than the first shard ({'; '.join(differences)}): "
                    "merge only shards of one run."
                )
            previous = merged.get(record["uid"])
            if previous and (previous["status"], previous.get("miou")) != (record["status"], record.get("miou")):
                raise GeoSAM2Error(f"Shards disagree on '{record['uid']}': remove one of its results and merge again.")
            merged[record["uid"]] = record
    for uid, record in merged.items():
        record_path(out, uid).write_text(json.dumps(record, indent=1))
    return write_reports(list(merged.values()), out, method, protocol or "geosam2")


def render(gt: GroundTruth, resolution: int = 1024):
    """The views of a mesh (ray cast) or of a point cloud (splatted)."""
    if gt.mesh is None:
        from ..render.splat import splat_views

        return splat_views(gt.cloud, resolution=resolution)
    from ..render import render_views

    return render_views(gt.mesh, resolution=resolution)


def lift_and_clean(
    gt: GroundTruth,
    views,
    masks: np.ndarray,
    priorities: np.ndarray | None = None,
    pa: float = 0.02,
    samples_per_face: int = 5,
    split_disconnected: bool = True,
) -> np.ndarray:
    """(E,) int32 labels of gt's faces or points from (P, V, H, W) masks: lifted, then
    cleaned up (each part's largest piece on a mesh is never cleared). All -1 when
    no element was seen inside a mask."""
    if gt.mesh is None:
        from ..pointlift import clean_point_labels, lift_point_masks

        lifted = lift_point_masks(gt.cloud, views, masks, priorities)
        if (lifted < 0).all():
            return lifted
        return clean_point_labels(gt.cloud, lifted, pa=pa, split_disconnected=split_disconnected)
    from ..lift import lift_masks
    from ..postprocess import clean_labels

    lifted = lift_masks(gt.mesh, views, masks, priorities, samples_per_face=samples_per_face)
    if (lifted < 0).all():
        return lifted
    return clean_labels(gt.mesh, lifted, pa=pa, split_disconnected=split_disconnected, keep_largest_piece=True)


class Oracle:
    """Ground-truth masks on every view, lifted and cleaned up: the upper bound of
    the lifting stage (`geosam2 evaluate --segmenter oracle`), on meshes or point clouds.

    Disconnected pieces of one part keep one label (``split_disconnected=False``):
    the oracle measures how well lifting recovers the given parts, not how
    ground-truth parts made of several pieces (four wheels) would be split.
    Each part's largest piece is kept whatever its size (``keep_largest_piece``):
    the release's rule would erase genuine small parts (a 12-face part of
    245af7dd: about 90 instead of 100 mIoU on that object).
    """

    name = "oracle"

    def __init__(self, resolution: int = 1024, pa: float = 0.02, samples_per_face: int = 5):
        self.resolution, self.pa, self.samples_per_face = resolution, pa, samples_per_face

    def predict(self, gt: GroundTruth) -> np.ndarray:
        from .prompts import view_masks

        views = render(gt, self.resolution)
        labels, count = dense_labels(gt.labels)
        if count == 0:
            raise GeoSAM2Error(f"'{gt.uid}' has no labels on its faces or points: the oracle needs them.")
        masks = view_masks(labels, views.face_ids, count)
        return lift_and_clean(gt, views, masks, None, self.pa, self.samples_per_face, split_disconnected=False)


class PromptedSegmenter:
    """A Segmenter driven by the simulated user, with the paper's protocol.

    On each of `candidates` prompt views (90 degrees apart for 4, starting at
    `first_view`) the user clicks
    once in every visible ground-truth part. With `auto_complete`, the region of
    the opposite view's silhouette that no resulting mask covers gets automatic
    single-click prompts, as in `Session.auto_complete`: the segmenter's own
    ``propose_prompts`` when it has one, else one per uncovered piece (new parts,
    overridden by the prompted ones where they overlap). The masks are lifted and cleaned up (which labels whatever is still
    unseen; a part's largest piece is never cleared), and the best candidate
    view by mIoU is kept.

    Disconnected pieces of one part stay one part unless `split_disconnected`:
    the official GeoSAM2 outputs in ../shared/data keep them whole (they score
    100 on 4d350186, whose parts have several pieces; splitting caps even
    perfect masks at 71.8 there).
    """

    def __init__(
        self,
        segmenter,
        resolution: int = 1024,
        pa: float = 0.02,
        samples_per_face: int = 5,
        candidates: int = 4,
        box: bool = False,
        negative_clicks: int = 0,
        auto_complete: bool = True,
        first_view: int = 0,
        split_disconnected: bool = False,
    ):
        self.segmenter = segmenter
        self.name = getattr(segmenter, "name", type(segmenter).__name__)
        self.resolution, self.pa, self.samples_per_face = resolution, pa, samples_per_face
        self.candidates, self.box, self.negative_clicks = candidates, box, negative_clicks
        self.auto_complete, self.first_view = auto_complete, first_view
        self.split_disconnected = split_disconnected

    def _masks(self, views, prompts: list) -> tuple[np.ndarray, np.ndarray]:
        """(P, V, H, W) masks of the prompted parts and of the automatic ones, with priorities."""
        from ..prompts import completion_prompts
        from .prompts import opposite_view

        masks = np.asarray(self.segmenter.segment(views, prompts).masks, bool)
        priorities = np.ones(len(masks), np.int64)
        if self.auto_complete:
            opposite = opposite_view(views, prompts[0].view)
            region = views.silhouette[opposite] & ~masks[:, opposite].any(0)
            if hasattr(self.segmenter, "propose_prompts"):  # as the session: GeoSAM2's automatic masks
                extra = list(self.segmenter.propose_prompts(views, opposite, region))
            else:
                extra = completion_prompts(region, opposite)
            if extra:
                masks = np.concatenate([masks, np.asarray(self.segmenter.segment(views, extra).masks, bool)])
                priorities = np.r_[priorities, np.zeros(len(extra), np.int64)]
        return masks, priorities

    def predict(self, gt: GroundTruth) -> np.ndarray:
        from .prompts import candidate_views, simulate_prompts, view_masks

        if hasattr(self.segmenter, "bind"):  # a per-mesh segmenter (GeometrySegmenter)
            if gt.mesh is None:
                raise GeoSAM2Error(f"The {self.name} segmenter needs a mesh: '{gt.uid}' is a point cloud.")
            self.segmenter.bind(gt.mesh)
        views = render(gt, self.resolution)
        labels, count = dense_labels(gt.labels)
        best, best_score = None, -1.0
        for view in candidate_views(views, self.candidates, self.first_view):
            prompts, _ = simulate_prompts(
                view_masks(labels, views.face_ids[view], count), view, box=self.box, negative_clicks=self.negative_clicks
            )
            if not prompts:
                continue
            masks, priorities = self._masks(views, prompts)
            pred = lift_and_clean(gt, views, masks, priorities, self.pa, self.samples_per_face, self.split_disconnected)
            if (pred < 0).all():
                continue
            value = score(gt, pred)
            if value > best_score:
                best, best_score = pred, value
        if best is None:
            raise GeoSAM2Error(f"No candidate view of '{gt.uid}' gave a labelled face: nothing to score.")
        return best


SEGMENTERS = ("oracle", "geometry", "geosam2")


def make_method(name: str, resolution: int = 1024, pa: float = 0.02, checkpoint: str | None = None, **kwargs) -> Method:
    """The method of `geosam2 evaluate --segmenter NAME` (one of SEGMENTERS).

    Other keyword arguments go to `PromptedSegmenter` (the oracle ignores them).
    """
    if name == "oracle":
        return Oracle(resolution, pa)
    if name == "geometry":
        try:
            from ..geometry import GeometrySegmenter
        except ImportError as exc:
            raise GeoSAM2Error(f"The geometry segmenter is not available in this installation ({exc}).") from exc
        return PromptedSegmenter(GeometrySegmenter(), resolution, pa, **kwargs)
    if name == "geosam2":
        try:
            from ..predictor import GeoSAM2Segmenter, load_geosam2
        except ImportError as exc:
            raise GeoSAM2Error(f"The GeoSAM2 network is not available in this installation ({exc}).") from exc
        return PromptedSegmenter(GeoSAM2Segmenter(load_geosam2(checkpoint)), resolution, pa, **kwargs)
    raise GeoSAM2Error(f"Unknown segmenter '{name}': choose one of {', '.join(SEGMENTERS)}.")
