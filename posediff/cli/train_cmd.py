"""``posediff train``: train a lifter (official x0 objective), resumable, single- or multi-process.

Multi-process: ``torchrun --nproc_per_node N -m posediff train ...`` (NCCL on GPUs, gloo on CPU).
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "run"]

# CLI option → TrainConfig field (options whose default is None are passed only when given, so a
# resumed run can tell "given on the command line" from "not given").
_OPTIONS: dict[str, str] = {
    "train_subjects": "train_subjects", "val_subjects": "val_subjects", "keypoints": "keypoints",
    "epochs": "epochs", "batch_size": "batch_size", "grad_accum": "grad_accum", "micro_batch": "micro_batch",
    "lr": "lr",
    "lr_decay": "lr_decay", "weight_decay": "weight_decay", "action_dropout": "action_dropout", "amp": "amp",
    "seed": "seed", "shuffle_seed": "shuffle_seed", "max_steps": "max_steps", "max_minutes": "max_minutes",
    "checkpoint_every": "checkpoint_every", "keep_every": "keep_every", "val_every": "val_every",
    "val_windows": "val_windows", "log_every": "log_every", "device": "device",
    "lr_schedule": "lr_schedule", "warmup_steps": "warmup_steps", "final_lr_ratio": "final_lr_ratio",
    "schedule_steps": "schedule_steps", "ema_decay": "ema_decay", "noise_2d": "noise_2d",
    "joint_dropout": "joint_dropout", "objective": "objective",
}


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand."""
    p = subparsers.add_parser(
        "train",
        help="train a lifter on synthetic, Human3.6M or MPI-INF-3DHP data (resumable, DDP)",
        description="Train a lifter with the x0 objective. --recipe cpu (the default on a CPU) spends a CPU "
                    "budget well: 64 clips per step, lr 1.5e-3 with warm-up and cosine decay, bf16 autocast where "
                    "the CPU runs it faster (--amp auto), "
                    "random clip offsets, EMA weights, light 2D noise and joint drop-out. --recipe official "
                    "(the default on CUDA) is the FinePOSE/D3DP recipe (AdamW lr 6e-5 × 0.993 per epoch, "
                    "weight decay 0.1, 4 clips per step, flip augmentation). Options given explicitly win "
                    "over the recipe. Checkpoints "
                    "(last, best, every N) go to RUN_DIR/checkpoints, logs to RUN_DIR/train_log.csv and "
                    "val_log.csv. --resume continues a stopped or killed run exactly where it left off. "
                    "Run under torchrun for several processes.",
        epilog="examples:\n"
               "  posediff train finepose-tiny --data synthetic --out runs/tiny --max-steps 200\n"
               "  posediff train finepose-tiny --data h36m:/data/h36m --train-subjects S1,S5,S6,S7 "
               "--val-subjects S8 --out runs/h36m --max-minutes 15\n"
               "  posediff train --resume --out runs/h36m --max-minutes 15\n"
               "  torchrun --nproc_per_node 2 -m posediff train finepose-h36m --data h36m:/data/h36m "
               "--out runs/full",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", nargs="?", metavar="SPEC",
                   help="preset name or spec file (not needed with --resume: the checkpoint's spec is used)")
    p.add_argument("--data", metavar="DATA",
                   help="'synthetic[:subjects=3,frames=243,seed=0]', 'h36m:DIR' or '3dhp:PATH' "
                        "(default synthetic; with --resume the stored one)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder (checkpoints, logs, spec)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in RUN_DIR from its newest readable checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="spec override, e.g. --set backbone.drop_path=0.1 (repeatable; new runs only)")
    p.add_argument("--init", metavar="WEIGHTS", help="initialise a new run from a posediff checkpoint or shipped weights (e.g. h36m); a model trained with another clip length is resampled in time (docs/training.md)")
    p.add_argument("--recipe", choices=["auto", "cpu", "official"], default="auto",
                   help="bundle of training settings: 'cpu' (budget recipe), 'official' (paper recipe) or "
                        "'auto' (default: cpu on a CPU, official on CUDA); ignored with --resume")
    g = p.add_argument_group("data")
    g.add_argument("--train-subjects", metavar="LIST", help="e.g. S1,S5,S6,S7 (default per data set)")
    g.add_argument("--val-subjects", metavar="LIST", help="held-out subjects, e.g. S8; 'none' disables validation")
    g.add_argument("--keypoints", metavar="FILE",
                   help="H36M 2D file (VideoPose3D npz); default: ground-truth 2D by projecting the 3D")
    g.add_argument("--no-flip", dest="flip", action="store_false", default=None, help="no flip augmentation")
    g.add_argument("--random-offset", action="store_true", default=None,
                   help="random clip-grid offset per epoch (official: fixed centred grid)")
    g.add_argument("--no-actions", dest="use_actions", action="store_false", default=None,
                   help="train without action labels (neutral prompt for every clip)")
    g.add_argument("--action-dropout", type=float, metavar="P",
                   help="replace a clip's label by the neutral prompt with probability P (default 0, official)")
    o = p.add_argument_group("optimisation (defaults: those of the recipe; below, the official values)")
    o.add_argument("--epochs", type=int, metavar="N", help="epochs (default 100)")
    o.add_argument("--batch-size", type=int, metavar="B", help="clips per step over all processes (default 4)")
    o.add_argument("--grad-accum", type=int, metavar="K", help="micro-batches per step (default 1)")
    o.add_argument("--micro-batch", type=int, metavar="N",
                   help="most clips per forward/backward pass (default 0 = auto: cache-sized on CPU)")
    o.add_argument("--lr", type=float, help="initial learning rate (default 6e-5)")
    o.add_argument("--lr-decay", type=float, metavar="G", help="lr factor after every epoch (default 0.993)")
    o.add_argument("--lr-schedule", choices=["exponential", "cosine"],
                   help="'exponential' (official: --lr-decay per epoch) or 'cosine' (warm-up + cosine decay)")
    o.add_argument("--warmup-steps", type=int, metavar="N", help="linear warm-up steps of the cosine schedule")
    o.add_argument("--final-lr-ratio", type=float, metavar="R", help="final lr of the cosine schedule / lr")
    o.add_argument("--schedule-steps", type=int, metavar="N",
                   help="length of the cosine schedule (default: --max-steps, else epochs × steps per epoch)")
    o.add_argument("--ema-decay", type=float, metavar="D", help="EMA of the weights (0 = off; cpu recipe 0.999)")
    o.add_argument("--noise-2d", type=float, metavar="S",
                   help="largest per-clip std of 2D noise, normalised units (0.002 = 1 px of a 1000-px image)")
    o.add_argument("--joint-dropout", type=float, metavar="P",
                   help="drop each 2D joint-frame with probability P and fill it by interpolation in time")
    o.add_argument("--weight-decay", type=float, metavar="WD", help="AdamW weight decay (default 0.1)")
    o.add_argument("--objective", choices=["x0", "regression"],
                   help="'x0' (default): the diffusion objective; 'regression': every clip at the last step, the "
                        "same backbone as a deterministic regressor (its spec then samples one step, one hypothesis)")
    o.add_argument("--official-grad", action="store_true", default=None,
                   help="back-propagate MPJPE²/2 as the official loss.backward(loss) does")
    o.add_argument("--amp", choices=["none", "auto", "bf16", "fp16"],
                   help="autocast dtype (default none; the cpu recipe's auto = bf16 only where this CPU runs it "
                        "faster than fp32; fp16 needs CUDA); a resumed run may change it")
    o.add_argument("--seed", type=int, help="seed of python/numpy/torch (default 1)")
    o.add_argument("--shuffle-seed", type=int, help="seed of the clip order (default 1234)")
    b = p.add_argument_group("budgets, checkpoints and logs")
    b.add_argument("--max-steps", type=int, metavar="N", help="stop after N optimizer steps in total")
    b.add_argument("--max-minutes", type=float, metavar="MIN", help="stop this invocation after MIN minutes")
    b.add_argument("--checkpoint-every", type=int, metavar="N", help="write last.pt every N steps (default 500)")
    b.add_argument("--keep-every", type=int, metavar="N", help="also keep step_N.pt every N steps (default never)")
    b.add_argument("--val-every", type=int, metavar="N",
                   help="validate every N steps (default: at epoch ends and at the end)")
    b.add_argument("--val-windows", type=int, metavar="N", help="validation windows (default 256; 0 = all)")
    b.add_argument("--log-every", type=int, metavar="N", help="CSV row every N steps (default 10)")
    b.add_argument("--drop-last", action="store_true", default=None, help="skip incomplete last batches")
    b.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda or cuda:N")
    b.add_argument("--no-progress", dest="progress", action="store_false", default=None, help="no progress bar")
    p.set_defaults(func=run)
    return p


def settings_from_args(args: argparse.Namespace) -> dict:
    """The :class:`~posediff.training.TrainConfig` fields given on the command line."""
    out = {}
    for opt, field in _OPTIONS.items():
        v = getattr(args, opt, None)
        if v is not None:
            out[field] = v
    for flag in ("flip", "random_offset", "use_actions", "official_grad", "drop_last", "progress"):
        v = getattr(args, flag, None)
        if v is not None:
            out[flag] = v
    return out


def recipe_for(name: str, device: str) -> dict:
    """The settings of ``--recipe NAME``; ``auto`` is ``cpu`` unless training runs on CUDA."""
    from ..training.config import recipe_settings

    if name == "auto":
        import torch

        on_cuda = str(device).startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        name = "official" if on_cuda else "cpu"
    return recipe_settings(name)


def run(args: argparse.Namespace) -> int:
    """Run ``posediff train``."""
    from ..errors import InputError
    from ..training import train

    if not args.resume and not args.spec:
        raise InputError("SPEC is required for a new run (a preset such as 'finepose-tiny' or a spec file); "
                         "pass --resume to continue an existing run")
    if args.resume and args.set:
        raise InputError("--set cannot change the model of a resumed run (its spec comes from the checkpoint)")
    settings = settings_from_args(args)
    if not args.resume:
        settings = {**recipe_for(args.recipe, settings.get("device", "auto")), **settings}
    result = train(
        args.spec,
        data=args.data,
        out=args.out,
        overrides=list(args.set) or None,
        resume=args.resume,
        init_weights=args.init,
        **settings,
    )
    if result.last_checkpoint is not None:  # main process
        best = "n/a" if result.best_val_mpjpe_mm is None else f"{result.best_val_mpjpe_mm:.1f} mm"
        print(f"run {result.run_dir}: step {result.step}, epoch {result.epoch} ({result.stop_reason}); "
              f"validation MPJPE (H=1, M=1) best {best}; wall {result.wall_s:.0f} s "
              f"(total {result.total_wall_s:.0f} s)")
        print(f"checkpoints: last {result.last_checkpoint}"
              + (f", best {result.best_checkpoint}" if result.best_checkpoint else ""))
        sys.stdout.flush()
    return 0
