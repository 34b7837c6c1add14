"""`geosam2 curate` and `geosam2 train`: training data from artist meshes, and fine-tuning."""

from __future__ import annotations

from pathlib import Path

from .options import add_face_limits, settings_of


def add_curate(sub) -> None:
    p = sub.add_parser("curate", help="curate training parts (per-face labels, stats, previews) from a folder of meshes")
    p.add_argument("mesh_dir", help="folder searched recursively for mesh files")
    p.add_argument("--out", required=True, help="output folder (one sub-folder per kept object, curation.json)")
    p.add_argument("--max-parts", type=int, default=15, help="merge small parts until at most this many remain (default 15)")
    p.add_argument("--preview-resolution", type=int, default=128, help="size of each preview view in pixels")
    add_face_limits(p, budget=False)
    p.set_defaults(run=run_curate)


def run_curate(args) -> None:
    from ..training.curate import curate_directory

    max_faces = settings_of(args).max_faces
    report = curate_directory(args.mesh_dir, args.out, max_parts=args.max_parts, preview_resolution=args.preview_resolution, max_faces=max_faces)
    for entry in report["skipped"]:
        print(f"skipped {entry['file']}: {entry['reason']}")
    print(f"kept {len(report['kept'])} objects, skipped {len(report['skipped'])}; see {Path(args.out) / 'curation.json'}")


def add_train(sub) -> None:
    p = sub.add_parser("train", help="fine-tune GeoSAM2 (LoRA + fusion + IoU head) on curated objects; run under torchrun for several GPUs")
    p.add_argument("data_dir", help="folder written by `geosam2 curate`")
    p.add_argument("--out", required=True, help="folder for checkpoints and history.json")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=8, help="sequences per optimizer step, over all GPUs")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--variant", default="base_plus", help="SAM2.1 size of the network (default base_plus)")
    p.add_argument("--image-size", type=int, help="network input size in pixels (default: the training options')")
    p.add_argument("--views", type=int, default=12, help="views per object (default 12)")
    p.add_argument("--init", default="sam2", choices=("sam2", "geosam2", "random"), help="start from SAM2.1 weights, a GeoSAM2 checkpoint or random")
    p.add_argument("--init-checkpoint", help="the SAM2.1 or GeoSAM2 checkpoint for --init sam2|geosam2")
    p.add_argument("--resume", help="adapter checkpoint (adapter_*.pt) to continue from")
    p.add_argument("--val-split", type=float, default=0.1, help="share of objects held out for validation")
    p.add_argument("--val-runner", action="store_true", help="also run the evaluation runner (face mIoU) on the held-out objects each epoch")
    p.add_argument("--workers", type=int, default=0, help="data loader worker processes")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run_train)


def run_train(args) -> None:
    from ..training.train import TrainOptions, train

    given = {} if args.image_size is None else {"image_size": args.image_size}
    options = TrainOptions(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, variant=args.variant, num_views=args.views,
        init=args.init, init_checkpoint=args.init_checkpoint, val_split=args.val_split, val_runner=args.val_runner,
        num_workers=args.workers, seed=args.seed, **given,
    )
    train(args.data_dir, args.out, options, resume=args.resume)
