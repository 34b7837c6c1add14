"""Fine-tuning GeoSAM2: LoRA matrices + fusion convs + IoU head, SAM2's losses.

One training item is a sequence of V + 1 frames (the prompted view twice, see
`dataset.frame_order`). The forward pass runs the model's own SAM2 pieces frame
by frame, as the video predictor does: fused normal/point features, the prompt
on frame 0, memory attention on the later frames, the memory encoder after
every frame. Multi-GPU: run under `torchrun`; the process group starts when
WORLD_SIZE > 1, the data is sharded with a DistributedSampler and gradients are
averaged by DistributedDataParallel. Mixed precision (bfloat16) on CUDA.

Checkpoints per epoch in the output folder:
- `adapter_epoch{e}.pt` / `adapter_last.pt`: the trained tensors only, plus the
  optimizer state, epoch and options (small; used to resume);
- `geosam2_last.pt`: the full state dict in the official layout (`save_geosam2`),
  read by `load_geosam2` (one file, overwritten: a full copy is ~600 MB).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import GeoSAM2Error
from ..segmenters.geosam2 import prompt_inputs
from .dataset import PROMPT_TYPES, CuratedViews, Sample, collate_samples, curated_objects
from .loss import LossWeights, frame_loss, mask_iou

TRAINABLE_PATTERNS = (".linear_a_q.", ".linear_b_q.", ".linear_a_v.", ".linear_b_v.", "feature_fusion.", "sam_mask_decoder.iou_prediction_head.")
INIT_CHOICES = ("sam2", "geosam2", "random")


@dataclass
class TrainOptions:
    """Options of `train` (the CLI flags of `geosam2 train`)."""

    epochs: int = 50
    batch_size: int = 8
    lr: float = 5e-5
    weight_decay: float = 0.01
    variant: str = "base_plus"
    image_size: int = 1024
    lora_rank: int = 4
    init: str = "sam2"
    init_checkpoint: str | None = None
    val_split: float = 0.1
    val_runner: bool = False
    samples_per_object: int = 1
    prompt_types: tuple = PROMPT_TYPES
    num_views: int = 12
    num_workers: int = 0
    seed: int = 0
    max_steps: int | None = None
    model_overrides: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- parameters


def is_trainable_name(name: str) -> bool:
    """True for LoRA matrices, fusion convs and the IoU prediction head."""
    return any(pattern in f".{name}" for pattern in TRAINABLE_PATTERNS)


def freeze_for_finetuning(model: torch.nn.Module) -> dict[str, int]:
    """Train only LoRA + fusion + IoU head; return parameter counts
    {"trainable", "frozen", "lora", "fusion", "iou_head"}."""
    counts = {"trainable": 0, "frozen": 0, "lora": 0, "fusion": 0, "iou_head": 0}
    for name, param in model.named_parameters():
        trainable = is_trainable_name(name)
        param.requires_grad_(trainable)
        counts["trainable" if trainable else "frozen"] += param.numel()
        if trainable:
            group = "fusion" if "feature_fusion." in name else "iou_head" if "iou_prediction_head" in name else "lora"
            counts[group] += param.numel()
    return counts


def adapter_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The trained tensors (LoRA + fusion + IoU head) of `model`, by state-dict key."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if is_trainable_name(k)}


# --------------------------------------------------------------------------- forward pass


def forward_sequence(model, sample: Sample, device) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Run the model over the frames of `sample` as the video predictor does.

    Returns
    -------
    Per frame: (multimask logits (1, M, H, W) at the sample's resolution,
    predicted IoUs (1, M), object score logits (1, 1)).
    """
    views = sample.views.tolist()
    unique_views = sorted(set(views))
    slot = {v: i for i, v in enumerate(unique_views)}
    normals = sample.normals[[views.index(v) for v in unique_views]].to(device)
    points = sample.points[[views.index(v) for v in unique_views]].to(device)
    backbone_out = model.forward_image(torch.cat([normals, points], dim=1))  # fused, as at inference
    _, vision_feats, vision_pos, feat_sizes = model._prepare_backbone_features(backbone_out)
    resolution = sample.masks.shape[-1]
    point_inputs, mask_inputs = prompt_inputs(sample.prompt, resolution, model.image_size, device)
    output_dict = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
    num_frames = len(views)
    outputs = []
    for t, view in enumerate(views):
        i = slot[view]
        feats = [x[:, i : i + 1] for x in vision_feats]
        pos = [x[:, i : i + 1] for x in vision_pos]
        is_cond = t == 0
        current, sam_outputs, _, _ = model._track_step(
            t, is_cond, feats, pos, feat_sizes,
            point_inputs if is_cond else None, mask_inputs if is_cond else None,
            output_dict, num_frames, False, None,
        )
        _, high_res_multimasks, ious, _, high_res_masks, obj_ptr, object_score_logits = sam_outputs
        current["pred_masks_high_res"] = high_res_masks
        current["obj_ptr"] = obj_ptr
        current["object_score_logits"] = object_score_logits
        model._encode_memory_in_output(feats, feat_sizes, point_inputs if is_cond else None, True, high_res_masks, object_score_logits, current)
        output_dict["cond_frame_outputs" if is_cond else "non_cond_frame_outputs"][t] = current
        if high_res_multimasks.shape[-1] != resolution:
            high_res_multimasks = F.interpolate(high_res_multimasks.float(), size=(resolution, resolution), mode="bilinear", align_corners=False)
        outputs.append((high_res_multimasks.float(), ious.float(), object_score_logits.float()))
    return outputs


def sequence_loss(model, sample: Sample, device, weights: LossWeights = LossWeights()) -> dict[str, torch.Tensor]:
    """SAM2 loss terms averaged over the frames of one sequence."""
    outputs = forward_sequence(model, sample, device)
    masks = sample.masks.to(device)
    terms: dict[str, torch.Tensor] = {}
    for t, (logits, ious, score) in enumerate(outputs):
        for key, value in frame_loss(logits, ious, score, masks[t : t + 1], weights).items():
            terms[key] = terms.get(key, 0.0) + value / len(outputs)
    return terms


class BatchLoss(torch.nn.Module):
    """Mean loss over a batch of sequences, as one module call (what
    DistributedDataParallel wraps: one forward per backward)."""

    def __init__(self, model: torch.nn.Module, weights: LossWeights = LossWeights()):
        super().__init__()
        self.model = model
        self.weights = weights

    def forward(self, batch: list[Sample]) -> dict[str, torch.Tensor]:
        device = next(self.model.parameters()).device
        terms: dict[str, torch.Tensor] = {}
        for sample in batch:
            for key, value in sequence_loss(self.model, sample, device, self.weights).items():
                terms[key] = terms.get(key, 0.0) + value / len(batch)
        return terms


@torch.no_grad()
def sequence_iou(model, sample: Sample, device) -> float:
    """Mean IoU over frames of the predicted mask (the candidate with the highest
    predicted IoU, as the predictor picks it) against the ground truth."""
    outputs = forward_sequence(model, sample, device)
    masks = sample.masks.to(device)
    values = []
    for t, (logits, ious, _) in enumerate(outputs):
        best = ious.argmax(dim=1)
        values.append(mask_iou(logits[:, best[0]][:, None], masks[t : t + 1, None].float()).item())
    return float(np.mean(values))


# --------------------------------------------------------------------------- model set-up


def build_model(options: TrainOptions, device) -> torch.nn.Module:
    """The model to fine-tune, per `options.init`: "random" (seeded), "sam2" (a fresh
    GeoSAM2 from SAM2.1 weights, `init_checkpoint` or the hub) or "geosam2" (a GeoSAM2
    checkpoint, `init_checkpoint` or the default lookup of `load_geosam2`)."""
    from ..model import build_geosam2, init_from_sam2, load_geosam2

    if options.init not in INIT_CHOICES:
        raise ValueError(f"Unknown --init '{options.init}': choose one of {INIT_CHOICES}.")
    torch.manual_seed(options.seed)  # the LoRA A matrices (and everything, for "random") are drawn
    if options.init == "geosam2":
        model = load_geosam2(options.init_checkpoint, device="cpu")
    elif options.init == "sam2":
        model = init_from_sam2(options.init_checkpoint, variant=options.variant, image_size=options.image_size, lora_rank=options.lora_rank)
    else:
        model = build_geosam2(variant=options.variant, image_size=options.image_size, lora_rank=options.lora_rank, **options.model_overrides)
    return model.to(device)


def split_objects(names: list[str], val_split: float, seed: int = 0) -> tuple[list[str], list[str]]:
    """(train, validation) names: a seeded shuffle, the last round(val_split * n) held out
    (at least one when val_split > 0 and there are two or more objects)."""
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    count = int(round(val_split * len(order)))
    if val_split > 0 and len(order) > 1:
        count = min(max(count, 1), len(order) - 1)
    else:
        count = 0
    return sorted(order[: len(order) - count]), sorted(order[len(order) - count :])


def _distributed() -> tuple[int, int, int]:
    """(rank, local_rank, world_size); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def _write_checkpoints(model, optimizer, epoch: int, options: TrainOptions, out: Path, history: list) -> None:
    from ..model import save_geosam2

    adapter = {"adapter": adapter_state(model), "optimizer": optimizer.state_dict(), "epoch": epoch, "options": asdict(options), "history": history}
    for name in (f"adapter_epoch{epoch}.pt", "adapter_last.pt"):
        torch.save(adapter, out / name)
    save_geosam2(model, out / "geosam2_last.pt")


def validation_miou(model, dataset: CuratedViews, device, out: Path, options: TrainOptions, epoch: int) -> dict:
    """Validation figures: "mask_iou" (mean over held-out sequences of the mean
    per-frame mask IoU) and, with `options.val_runner`, "miou" from the evaluation
    runner (prompted segmentation lifted to faces) on the held-out objects."""
    model.eval()
    result = {"mask_iou": float(np.mean([sequence_iou(model, dataset[i], device) for i in range(len(dataset))]))}
    if options.val_runner:
        from ..evaluation.policies import SimulatedUser
        from ..evaluation.runner import run_evaluation
        from ..segmenters.geosam2 import GeoSAM2Segmenter

        gt_dir = out / "val_gt"
        gt_dir.mkdir(parents=True, exist_ok=True)
        for name in dataset.objects:  # GT folder: the source mesh with its labels as a .npy beside it
            source = Path(json.loads((dataset.data_dir / name / "stats.json").read_text())["source"])
            link = gt_dir / f"{name}{source.suffix}"
            if not link.exists():
                link.symlink_to(source)
            np.save(gt_dir / f"{name}.npy", np.load(dataset.data_dir / name / "labels.npy"))
        summary = run_evaluation(gt_dir, SimulatedUser(GeoSAM2Segmenter(model), resolution=dataset.resolution), out / f"val_epoch{epoch}", progress=False)
        result["miou"] = summary.get("miou")
    model.train()
    return result


def _one_epoch(loader, batch_loss, optimizer, autocast, step: int, max_steps: int | None) -> tuple[dict, int]:
    """One pass over `loader` (stopping once `step` reaches `max_steps`): the mean of each
    loss term over its batches, and the step count after it."""
    sums: dict[str, float] = {}
    batches = 0
    for batch in loader:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            terms = batch_loss(batch)
        terms["total"].backward()
        optimizer.step()
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + float(value.detach())
        batches += 1
        step += 1
        if max_steps is not None and step >= max_steps:
            break
    return {key: value / max(batches, 1) for key, value in sums.items()}, step


def train(data_dir: str | Path, out_dir: str | Path, options: TrainOptions = TrainOptions(), resume: str | Path | None = None, log=print) -> list[dict]:
    """Fine-tune on the curated objects of `data_dir`, writing checkpoints and
    `history.json` (losses and validation figures per epoch) into `out_dir`.

    `resume` is an adapter checkpoint (`adapter_*.pt`): the model is rebuilt with the
    options stored in it, its tensors and the optimizer state are restored, and
    training continues from the next epoch.

    Returns
    -------
    The history: one dict per epoch.
    """
    rank, local_rank, world = _distributed()
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = None
    if resume is not None:
        state = torch.load(resume, map_location="cpu", weights_only=False)
        stored = TrainOptions(**state["options"])
        stored.epochs = options.epochs  # the only option a resumed run may change
        options = stored
    names = curated_objects(data_dir)
    if not names:
        raise GeoSAM2Error(f"No curated objects in '{data_dir}': run `geosam2 curate` first.")
    train_names, val_names = split_objects(names, options.val_split, options.seed)
    model = build_model(options, device)
    counts = freeze_for_finetuning(model)
    if state is not None:
        missing = set(adapter_state(model)) - set(state["adapter"])
        if missing:
            raise ValueError(f"Checkpoint '{resume}' lacks {len(missing)} trained tensors (e.g. {sorted(missing)[0]}).")
        model.load_state_dict(state["adapter"], strict=False)
    if rank == 0:
        log(
            f"parameters: {counts['trainable']:,} trainable (LoRA {counts['lora']:,}, fusion {counts['fusion']:,}, "
            f"IoU head {counts['iou_head']:,}), {counts['frozen']:,} frozen"
        )
    dataset_args = dict(resolution=options.image_size, num_views=options.num_views, prompt_types=tuple(options.prompt_types), seed=options.seed)
    train_set = CuratedViews(data_dir, train_names, samples_per_object=options.samples_per_object, **dataset_args)
    val_set = CuratedViews(data_dir, val_names, **dataset_args) if val_names else None
    sampler = torch.utils.data.DistributedSampler(train_set, seed=options.seed) if world > 1 else None
    per_rank = max(1, options.batch_size // world)
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=per_rank, shuffle=sampler is None, sampler=sampler,
        num_workers=options.num_workers, collate_fn=collate_samples, generator=torch.Generator().manual_seed(options.seed),
    )
    batch_loss = BatchLoss(model)
    if world > 1:
        batch_loss = torch.nn.parallel.DistributedDataParallel(batch_loss, device_ids=[local_rank] if device.type == "cuda" else None)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=options.lr, weight_decay=options.weight_decay)
    history = []
    start_epoch = 0
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = state["epoch"] + 1
        history = list(state.get("history", []))
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    step = 0
    model.train()
    for epoch in range(start_epoch, options.epochs):
        train_set.set_epoch(epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        start = time.perf_counter()
        means, step = _one_epoch(loader, batch_loss, optimizer, autocast, step, options.max_steps)
        record = {"epoch": epoch, "seconds": round(time.perf_counter() - start, 2), **{f"loss_{k}": v for k, v in means.items()}}
        if rank == 0:
            if val_set is not None:
                record.update({f"val_{k}": v for k, v in validation_miou(model, val_set, device, out, options, epoch).items()})
            history.append(record)
            _write_checkpoints(model, optimizer, epoch, options, out, history)
            (out / "history.json").write_text(json.dumps(history, indent=1))
            log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
        if options.max_steps is not None and step >= options.max_steps:
            break
    if world > 1:
        torch.distributed.destroy_process_group()
    return history
