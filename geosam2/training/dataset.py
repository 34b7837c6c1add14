"""Training samples from curated objects: rendered views, GT part masks, a prompt.

Each object of a curated folder (see `curate.py`) is rendered once with the rig
and cached on disk; a sample picks a part, a prompt view where it is visible and
a prompt (a click inside the part, its box, or its mask), and returns the frames
in the order the predictor consumes them: the prompted view first, then every
view from it around the ring (the seed view appears twice).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..model.encode import encode_normals, encode_points
from ..errors import GeoSAM2Error
from ..io.mesh import load_mesh
from ..segmenters.prompts import Prompt
from ..render import Views, render_views
from ..render.rig import official_rig

PROMPT_TYPES = ("click", "box", "mask")


def frame_order(seed_view: int, num_views: int) -> np.ndarray:
    """(num_views + 1,) int64 view per frame: [s] + s..V-1 + 0..s-1."""
    return np.concatenate([[seed_view], np.roll(np.arange(num_views), -seed_view)]).astype(np.int64)


@dataclass
class Sample:
    """One training sequence.

    Attributes
    ----------
    normals, points : (T, 3, H, W) float32
        Network inputs per frame (T = V + 1), in frame order.
    masks : (T, H, W) bool
        Ground-truth mask of the sampled part per frame.
    views : (T,) int64
        Rig view of each frame.
    prompt : Prompt
        The prompt, given on frame 0 (view `prompt.view`).
    name : str
        Curated object name.
    part : int
        The sampled part label.
    """

    normals: torch.Tensor
    points: torch.Tensor
    masks: torch.Tensor
    views: torch.Tensor
    prompt: Prompt
    name: str
    part: int


def curated_objects(data_dir: str | Path) -> list[str]:
    """Names of curated objects in `data_dir` (folders holding labels.npy and stats.json)."""
    data_dir = Path(data_dir)
    return sorted(p.parent.name for p in data_dir.glob("*/labels.npy") if (p.parent / "stats.json").is_file())


def sample_prompt(mask: np.ndarray, view: int, kind: str, rng: np.random.Generator) -> Prompt:
    """A prompt for the part covering (H, W) bool `mask` on `view`.

    "click": one positive click at a random pixel centre inside the mask;
    "box": the mask's tight pixel box (x0, y0, x1, y1), edges on pixel borders;
    "mask": the mask itself.
    """
    rows, cols = np.nonzero(mask)
    if kind == "click":
        i = rng.integers(len(rows))
        return Prompt(view, points=[[cols[i] + 0.5, rows[i] + 0.5]], labels=[1])
    if kind == "box":
        return Prompt(view, box=[cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
    if kind == "mask":
        return Prompt(view, mask=mask)
    raise ValueError(f"Unknown prompt type '{kind}': choose from {PROMPT_TYPES}.")


class CuratedViews(torch.utils.data.Dataset):
    """Sequences of rendered views with one prompted part, from a curated folder.

    Parameters
    ----------
    data_dir : folder written by `curate_directory`.
    objects : names to use (default: all curated objects).
    resolution, num_views : the rig (official defaults 1024, 12).
    cache_dir : where rendered views are cached (default `<data_dir>/render_cache`).
    prompt_types : prompt kinds drawn uniformly.
    min_pixels : a part must cover at least this many pixels on the prompt view.
    samples_per_object : items per object per epoch.
    seed : base seed; item i of epoch e uses seed (seed, e, i) (see `set_epoch`).
    """

    def __init__(
        self,
        data_dir: str | Path,
        objects: list[str] | None = None,
        resolution: int = 1024,
        num_views: int = 12,
        cache_dir: str | Path | None = None,
        prompt_types: tuple = PROMPT_TYPES,
        min_pixels: int = 16,
        samples_per_object: int = 1,
        seed: int = 0,
    ):
        self.data_dir = Path(data_dir)
        self.objects = list(objects) if objects is not None else curated_objects(self.data_dir)
        if not self.objects:
            raise GeoSAM2Error(f"No curated objects in '{self.data_dir}': run `geosam2 curate` first.")
        self.resolution = resolution
        self.num_views = num_views
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.data_dir / "render_cache"
        self.prompt_types = tuple(prompt_types)
        self.min_pixels = min_pixels
        self.samples_per_object = samples_per_object
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw different parts/prompts in each epoch (deterministically)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.objects) * self.samples_per_object

    def views(self, name: str) -> tuple[Views, np.ndarray]:
        """Rendered views of object `name` and its (V, H, W) int32 part map (-1 background), cached."""
        path = self.cache_dir / f"{name}_{self.num_views}x{self.resolution}.npz"
        labels = np.load(self.data_dir / name / "labels.npy")
        if path.is_file():
            with np.load(path) as data:
                rig = official_rig(data["bbox_size"], resolution=self.resolution, num_views=self.num_views)
                views = Views(rig, data["face_ids"], data["depth"], data["normals"].astype(np.float32), data["points"].astype(np.float32))
        else:
            stats = json.loads((self.data_dir / name / "stats.json").read_text())
            mesh = load_mesh(stats["source"])
            if mesh.num_faces != len(labels):
                raise ValueError(f"'{stats['source']}' has {mesh.num_faces} faces but {name}/labels.npy has {len(labels)}: re-run curation.")
            rig = official_rig(mesh.bbox_size, resolution=self.resolution, num_views=self.num_views)
            views = render_views(mesh, rig)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")  # one per process (DDP ranks, loader workers)
            np.savez_compressed(
                tmp,
                bbox_size=mesh.bbox_size,
                face_ids=views.face_ids,
                depth=views.depth,
                normals=views.normals.astype(np.float16),
                points=views.points.astype(np.float16),
            )
            tmp.replace(path)  # atomic: concurrent workers never read half a file
        part_map = np.where(views.face_ids >= 0, labels[np.maximum(views.face_ids, 0)], -1).astype(np.int32)
        return views, part_map

    def __getitem__(self, index: int) -> Sample:
        name = self.objects[index // self.samples_per_object]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        views, part_map = self.views(name)
        pixels = np.stack([np.bincount(part_map[v][part_map[v] >= 0], minlength=part_map.max() + 1) for v in range(views.num_views)])
        candidates = np.argwhere(pixels >= self.min_pixels)  # (view, part) pairs
        if len(candidates) == 0:
            raise ValueError(f"'{name}' has no part covering {self.min_pixels} pixels on any view.")
        view, part = candidates[rng.integers(len(candidates))]
        kind = self.prompt_types[rng.integers(len(self.prompt_types))]
        prompt = sample_prompt(part_map[view] == part, int(view), kind, rng)
        order = frame_order(int(view), views.num_views)
        return Sample(
            normals=encode_normals(views)[order],
            points=encode_points(views)[order],
            masks=torch.from_numpy(part_map[order] == part),
            views=torch.from_numpy(order),
            prompt=prompt,
            name=name,
            part=int(part),
        )


def collate_samples(samples: list[Sample]) -> list[Sample]:
    """Keep a batch as a list: sequences carry different prompts."""
    return list(samples)
