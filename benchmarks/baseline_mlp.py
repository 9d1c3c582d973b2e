"""Reference baseline of issue 10: a plain single-frame MLP lifter (after Martinez et al. 2017).

One 2D pose ``(17, 2)`` in, one root-relative 3D pose ``(17, 3)`` in metres out. The network is
``Linear(34 → 1024)`` + BatchNorm + ReLU + Dropout, two residual blocks of
``[Linear 1024, BatchNorm1d, ReLU, Dropout] × 2`` with a skip connection, and ``Linear(1024 → 51)``.
Inputs and targets are standardised with the training set's per-coordinate mean/std (stored as
buffers, so saved weights are self-contained); the root joint of the output is set to 0 because
the target is root-relative with the root exactly 0 (a constraint, not information).

It trains on exactly the inputs posediff's diffusion models get (``posediff.training.datasets.load_dataset``,
every frame of S1, S5, S6, S7 from all four cameras), with batch 1024, Adam lr 1e-3 decayed
continuously by ``--lr-decay`` every ``--decay-samples`` samples, loss = MPJPE in metres, for a
budget of *training* CPU-minutes (``time.process_time()`` summed over training steps only; data
loading and evaluation are timed separately). Evaluation is on every frame of S8: MPJPE (mm, mean
over all 17 joints, the root included as posediff does) over all frames, the unweighted mean over
the 15 base actions (posediff's tables) and P-MPJPE (``posediff.metrics.p_mpjpe``).

This is a benchmark script, not a posediff component (it is not in the registry)::

    python benchmarks/baseline_mlp.py --data $POSEDIFF_SHARED/data/h36m --cpu-minutes 15 --threads 1 \\
        --eval-every-minutes 1 --out benchmarks/results/baseline_mlp.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
NUM_JOINTS = 17
TRAIN_SUBJECTS = ["S1", "S5", "S6", "S7"]
EVAL_SUBJECTS = ["S8"]
DATA_PLACEHOLDER = "$POSEDIFF_SHARED/data/h36m"


# --------------------------------------------------------------------------- model
class ResidualBlock(nn.Module):
    """``x + f(x)`` with ``f = [Linear, BatchNorm1d, ReLU, Dropout] × 2``."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class MLPLifter(nn.Module):
    """Single-frame 2D → 3D lifter: ``(B, J, 2)`` normalised screen coordinates → ``(B, J, 3)`` metres."""

    def __init__(self, joints: int = NUM_JOINTS, width: int = 1024, blocks: int = 2, dropout: float = 0.5) -> None:
        super().__init__()
        self.joints = joints
        self.inp = nn.Sequential(nn.Linear(joints * 2, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout))
        self.blocks = nn.Sequential(*[ResidualBlock(width, dropout) for _ in range(blocks)])
        self.out = nn.Linear(width, joints * 3)
        # Standardisation statistics (identity until set_stats is called).
        self.register_buffer("x_mean", torch.zeros(joints * 2))
        self.register_buffer("x_std", torch.ones(joints * 2))
        self.register_buffer("y_mean", torch.zeros(joints * 3))
        self.register_buffer("y_std", torch.ones(joints * 3))

    @torch.no_grad()
    def set_stats(self, x2d: torch.Tensor, x3d: torch.Tensor, eps: float = 1e-6) -> None:
        """Set the per-coordinate mean/std from training poses ``(N, J, 2)`` and ``(N, J, 3)``."""
        x = x2d.reshape(len(x2d), -1).double()
        y = x3d.reshape(len(x3d), -1).double()
        self.x_mean.copy_(x.mean(0))
        self.x_std.copy_(torch.where(x.std(0) > eps, x.std(0), torch.ones_like(x.std(0))))
        self.y_mean.copy_(y.mean(0))
        self.y_std.copy_(torch.where(y.std(0) > eps, y.std(0), torch.ones_like(y.std(0))))

    def forward(self, x2d: torch.Tensor) -> torch.Tensor:
        b = x2d.shape[0]
        x = (x2d.reshape(b, -1) - self.x_mean) / self.x_std
        h = self.blocks(self.inp(x))
        y = (self.out(h) * self.y_std + self.y_mean).reshape(b, self.joints, 3)
        return torch.cat([torch.zeros_like(y[:, :1]), y[:, 1:]], dim=1)  # root-relative: root is 0


def apply_max_norm(model: nn.Module, max_norm: float) -> None:
    """Max-norm constraint: rescale every Linear layer's per-unit weight row to an L2 norm ≤ ``max_norm``."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.renorm(m.weight, p=2, dim=0, maxnorm=max_norm))


def mpjpe_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean joint distance (metres), the training loss."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def learning_rate(base_lr: float, samples_seen: int, decay: float, decay_samples: int) -> float:
    """Exponential decay, continuous in samples: ``base_lr · decay^(samples / decay_samples)``."""
    return base_lr * decay ** (samples_seen / decay_samples)


def flip_batch(x2d: torch.Tensor, x3d: torch.Tensor, mask: torch.Tensor, perm: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror the poses where ``mask`` is True (negate x, swap left/right joints, as posediff's ``flip_pose``)."""
    fx2, fx3 = x2d[:, perm].clone(), x3d[:, perm].clone()
    fx2[..., 0] = -fx2[..., 0]
    fx3[..., 0] = -fx3[..., 0]
    m = mask[:, None, None]
    return torch.where(m, fx2, x2d), torch.where(m, fx3, x3d)


def train_step(model: nn.Module, opt: torch.optim.Optimizer, x2d: torch.Tensor, x3d: torch.Tensor,
               lr: float, max_norm: Optional[float] = None) -> float:
    """One optimiser step on a batch; returns the loss (metres)."""
    for g in opt.param_groups:
        g["lr"] = lr
    model.train()
    loss = mpjpe_loss(model(x2d), x3d)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if max_norm:
        apply_max_norm(model, max_norm)
    return float(loss.detach())


# --------------------------------------------------------------------------- evaluation
@torch.no_grad()
def predict(model: nn.Module, x2d: torch.Tensor, batch: int = 8192) -> torch.Tensor:
    """Predictions ``(N, J, 3)`` for ``(N, J, 2)`` inputs in eval mode (BatchNorm running stats, no dropout)."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x2d[i:i + batch]) for i in range(0, len(x2d), batch)])
    model.train(was_training)
    return out


def error_table(pred: torch.Tensor, gt: torch.Tensor, actions: Iterable[str], *, procrustes: bool = True) -> dict:
    """MPJPE (and P-MPJPE) in mm: mean over all frames, unweighted mean over base actions, per action.

    Per-frame errors are the mean over all joints (the root included) of the joint distances,
    as ``posediff.metrics.mpjpe``; each action's value is the frame-weighted mean of its frames and
    the action mean is the plain mean of the action values (``posediff.metrics.ErrorTable``).
    """
    from posediff.metrics import ErrorTable, mpjpe, p_mpjpe

    actions = np.asarray(list(actions))
    errs = {"mpjpe": mpjpe(pred, gt, reduction="pose", validate=False).double().numpy() * 1000.0}
    if procrustes:
        errs["p_mpjpe"] = p_mpjpe(pred, gt, reduction="pose", validate=False).double().numpy() * 1000.0
    out: dict = {"frames": int(len(actions))}
    per_action: "OrderedDict[str, dict]" = OrderedDict()
    for name, e in errs.items():
        tab = ErrorTable()
        for a in sorted(set(actions.tolist())):
            tab.add_frames(a, e[actions == a])
        out[f"{name}_mm"] = float(e.mean())
        out[f"{name}_action_mean_mm"] = float(tab.average())
        for a, v in tab.means().items():
            per_action.setdefault(a, {"frames": int(tab.weights()[a])})[f"{name}_mm"] = float(v)
    out["per_action"] = per_action
    return out


# --------------------------------------------------------------------------- data
def stack_frames(ds) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Every (valid) frame of a posediff Dataset: ``x2d (N, J, 2)``, ``x3d (N, J, 3)`` and each frame's base action."""
    x2d, x3d, actions = [], [], []
    for seq in ds:
        keep = np.ones(len(seq.x2d), bool) if seq.valid is None else np.asarray(seq.valid, bool)
        x2d.append(np.asarray(seq.x2d, np.float32)[keep])
        x3d.append(np.asarray(seq.x3d, np.float32)[keep])
        actions.extend([seq.base_action] * int(keep.sum()))
    return torch.from_numpy(np.concatenate(x2d)), torch.from_numpy(np.concatenate(x3d)), actions


def default_data() -> str:
    env = os.environ.get("POSEDIFF_SHARED")
    return str(Path(env) / "data" / "h36m") if env else str(REPO.parent / "shared" / "data" / "h36m")


# --------------------------------------------------------------------------- provenance
def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def cpu_model() -> str:
    """The CPU's model name (shared with the other benchmarks: ``measure.cpu_model``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from measure import cpu_model as measured_cpu_model

    return measured_cpu_model()


def public_command(argv: list[str], data: str) -> str:
    """The command as run, with the data path replaced by the placeholder and repo paths made relative."""
    out = ["python", "benchmarks/baseline_mlp.py"]
    data_placeholder = DATA_PLACEHOLDER + ("/data_3d_h36m.npz" if data.endswith(".npz") else "")
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--data="):
            out.append("--data=" + data_placeholder)
        elif a == "--data" and i + 1 < len(argv):
            out += [a, data_placeholder]
            i += 1
        else:
            p = Path(a)
            if p.is_absolute():
                try:
                    a = str(p.resolve().relative_to(REPO))
                except ValueError:
                    a = "<path>"
            out.append(a)
        i += 1
    if not any(a == "--data" or a.startswith("--data=") for a in argv):
        out += ["--data", data_placeholder]
    return " ".join(shlex.quote(a) if not a.startswith("$POSEDIFF_SHARED") else a for a in out)


# --------------------------------------------------------------------------- main
def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default=None, help="H36M folder (data_3d_h36m.npz); default $POSEDIFF_SHARED/data/h36m or ../shared/data/h36m")
    p.add_argument("--cpu-minutes", type=float, default=15.0, help="training budget in process CPU-minutes")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--eval-every-minutes", type=float, default=1.0, help="evaluate S8 every this many training CPU-minutes")
    p.add_argument("--out", default="benchmarks/results/baseline_mlp.json")
    p.add_argument("--save", default=None, help="save the final weights (state_dict) here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-decay", type=float, default=0.96, help="lr factor per --decay-samples samples (continuous)")
    p.add_argument("--decay-samples", type=int, default=100_000)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--max-norm", type=float, default=0.0, help="max-norm constraint on Linear weight rows (0 = off)")
    p.add_argument("--flip", action="store_true", help="flip augmentation: each training sample mirrored with p=0.5")
    p.add_argument("--eval-batch", type=int, default=8192)
    p.add_argument("--from-log", metavar="LOG", default=None,
                   help="write --out from the printed learning curve of a run that was stopped before its budget "
                        "(give the run's own options again); the result says it is incomplete")
    return p.parse_args(argv)


def result_record(args: argparse.Namespace, raw_argv: list[str], data: str, n_params: int, data_info: dict,
                  budget: dict, curve: list[dict], final: Optional[dict], complete: bool) -> "OrderedDict":
    """The JSON record of a run. An incomplete one (stopped before its budget, or written while running)
    has ``complete: false`` and ``final`` = its last curve point (no P-MPJPE, no per-action table)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    if final is None:
        last = curve[-1] if curve else {}
        final = {"mpjpe_mm": last.get("s8_mpjpe_mm"), "mpjpe_action_mean_mm": last.get("s8_mpjpe_action_mean_mm"),
                 "p_mpjpe_mm": None, "p_mpjpe_action_mean_mm": None, "per_action": {},
                 "at_cpu_minutes": last.get("cpu_minutes")}
    command = public_command(raw_argv, data)
    if args.from_log:
        command = public_command([a for i, a in enumerate(raw_argv)
                                  if a != "--from-log" and (i == 0 or raw_argv[i - 1] != "--from-log")], data)
    return OrderedDict(
        benchmark="baseline_mlp (issue 10): single-frame MLP lifter, Martinez et al. 2017",
        command=command,
        complete=complete,
        git_commit=_git("rev-parse", "HEAD"),
        git_dirty=bool(status),
        torch=torch.__version__,
        python=platform.python_version(),
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count(),
        threads=args.threads,
        seed=args.seed,
        config={
            "train_subjects": TRAIN_SUBJECTS, "eval_subjects": EVAL_SUBJECTS, "inputs": "posediff load_dataset (projected ground-truth 2D)",
            "batch": args.batch, "optimizer": "Adam", "lr": args.lr, "lr_decay": args.lr_decay,
            "decay_samples": args.decay_samples, "width": args.width, "blocks": args.blocks, "dropout": args.dropout,
            "max_norm": args.max_norm or None, "flip": args.flip, "loss": "MPJPE (metres)",
            "standardise": "per-coordinate train mean/std on inputs and targets; output root set to 0",
            "parameters": n_params,
        },
        data=data_info,
        budget=budget,
        learning_curve=curve,
        final={k: v for k, v in final.items() if k != "per_action"},
        per_action=final["per_action"],
    )


_DATA_LINE = re.compile(r"^data: (\d+) train frames \((\d+) sequences\), (\d+) S8 frames \((\d+) sequences\)")


def from_log(args: argparse.Namespace, raw_argv: list[str], data: str) -> "OrderedDict":
    """The record of a stopped run, rebuilt from its printed output (the data line and one JSON line per
    evaluation); the curve's points are exactly those the run printed."""
    curve, info = [], {}
    for line in Path(args.from_log).read_text().splitlines():
        m = _DATA_LINE.match(line)
        if m:
            info = {"train_frames": int(m[1]), "train_sequences": int(m[2]), "eval_frames": int(m[3]),
                    "eval_sequences": int(m[4])}
        elif line.startswith("{") and '"cpu_minutes"' in line:
            curve.append(json.loads(line))
    if not curve:
        raise SystemExit(f"baseline_mlp: {args.from_log} holds no learning-curve line")
    n_params = sum(p.numel() for p in MLPLifter(NUM_JOINTS, args.width, args.blocks, args.dropout).parameters())
    last = curve[-1]
    budget = {"cpu_minutes": args.cpu_minutes, "train_cpu_s": 60 * last["cpu_minutes"],
              "train_wall_s": last["train_wall_s"], "samples_seen": last["samples_seen"], "steps": last["steps"],
              "stopped_at_cpu_minutes": last["cpu_minutes"],
              "note": "stopped before its budget; rebuilt from the run's printed curve (--from-log)"}
    return result_record(args, raw_argv, data, n_params, info, budget, curve, None,
                         complete=last["cpu_minutes"] >= args.cpu_minutes)


def main(argv: Optional[list[str]] = None) -> dict:
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw_argv)
    data = args.data or default_data()
    if args.from_log:
        result = from_log(args, raw_argv, data)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out} from {args.from_log}: {len(result['learning_curve'])} curve points up to "
              f"{result['budget']['stopped_at_cpu_minutes']} CPU-minutes", flush=True)
        return result
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    from posediff.geometry.skeletons import get_skeleton
    from posediff.training.datasets import load_dataset

    # ---- data
    w0, c0 = time.perf_counter(), time.process_time()
    train_ds = load_dataset("h36m:" + data, TRAIN_SUBJECTS, role="train")
    load_train = {"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0}
    w1, c1 = time.perf_counter(), time.process_time()
    val_ds = load_dataset("h36m:" + data, EVAL_SUBJECTS, role="val")
    load_val = {"wall_s": time.perf_counter() - w1, "cpu_s": time.process_time() - c1}
    x2d, x3d, _ = stack_frames(train_ds)
    v2d, v3d, v_actions = stack_frames(val_ds)
    n_train_seqs, n_val_seqs = len(list(train_ds)), len(list(val_ds))
    del train_ds, val_ds
    load = {"train": load_train, "val": load_val,
            "total_wall_s": time.perf_counter() - w0, "total_cpu_s": time.process_time() - c0}
    print(f"data: {len(x2d)} train frames ({n_train_seqs} sequences), {len(v2d)} S8 frames ({n_val_seqs} sequences); "
          f"loaded in {load['total_wall_s']:.1f} s wall / {load['total_cpu_s']:.1f} s CPU", flush=True)

    # ---- model
    model = MLPLifter(NUM_JOINTS, args.width, args.blocks, args.dropout)
    model.set_stats(x2d, x3d)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    perm_flip = get_skeleton("h36m-17").flip_permutation
    n_params = sum(p.numel() for p in model.parameters())

    budget_cpu = args.cpu_minutes * 60.0
    eval_every = args.eval_every_minutes * 60.0
    train_cpu = 0.0
    train_wall = 0.0
    eval_cpu = 0.0
    eval_wall = 0.0
    samples = 0
    steps = 0
    epoch = 0
    order = torch.from_numpy(rng.permutation(len(x2d)))
    pos = 0
    curve: list[dict] = []
    next_eval = eval_every
    loss_acc, loss_n = 0.0, 0
    run_w0 = time.perf_counter()

    def evaluate(final: bool) -> dict:
        nonlocal eval_cpu, eval_wall
        ec, ew = time.process_time(), time.perf_counter()
        res = error_table(predict(model, v2d, args.eval_batch), v3d, v_actions, procrustes=final)
        eval_cpu += time.process_time() - ec
        eval_wall += time.perf_counter() - ew
        return res

    while train_cpu < budget_cpu:
        c, w = time.process_time(), time.perf_counter()
        if pos + args.batch > len(order):
            epoch += 1
            order = torch.from_numpy(rng.permutation(len(x2d)))
            pos = 0
        idx = order[pos:pos + args.batch]
        pos += args.batch
        b2, b3 = x2d[idx], x3d[idx]
        if args.flip:
            b2, b3 = flip_batch(b2, b3, torch.from_numpy(rng.random(len(idx)) < 0.5), perm_flip)
        lr = learning_rate(args.lr, samples, args.lr_decay, args.decay_samples)
        loss_acc += train_step(model, opt, b2, b3, lr, args.max_norm or None)
        loss_n += 1
        samples += len(idx)
        steps += 1
        train_cpu += time.process_time() - c
        train_wall += time.perf_counter() - w
        if train_cpu >= next_eval and train_cpu < budget_cpu:
            res = evaluate(final=False)
            curve.append({"cpu_minutes": round(train_cpu / 60, 4), "wall_s": round(time.perf_counter() - run_w0, 2),
                          "train_wall_s": round(train_wall, 2), "samples_seen": samples, "steps": steps,
                          "lr": lr, "train_loss_mm": 1000 * loss_acc / loss_n,
                          "s8_mpjpe_mm": res["mpjpe_mm"], "s8_mpjpe_action_mean_mm": res["mpjpe_action_mean_mm"]})
            loss_acc, loss_n = 0.0, 0
            print(json.dumps(curve[-1]), flush=True)
            next_eval += eval_every
            # written after every evaluation, so a run stopped before its budget leaves its curve behind
            partial = {"cpu_minutes": args.cpu_minutes, "train_cpu_s": train_cpu, "train_wall_s": train_wall,
                       "samples_seen": samples, "steps": steps, "stopped_at_cpu_minutes": round(train_cpu / 60, 4),
                       "note": "written while the run was going; the run had not reached its budget"}
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(result_record(
                args, raw_argv, data, n_params, {"train_frames": int(len(x2d)), "eval_frames": int(len(v2d))},
                partial, curve, None, complete=False), indent=2) + "\n")

    final = evaluate(final=True)
    curve.append({"cpu_minutes": round(train_cpu / 60, 4), "wall_s": round(time.perf_counter() - run_w0, 2),
                  "train_wall_s": round(train_wall, 2), "samples_seen": samples, "steps": steps,
                  "lr": learning_rate(args.lr, samples, args.lr_decay, args.decay_samples),
                  "train_loss_mm": 1000 * loss_acc / max(loss_n, 1),
                  "s8_mpjpe_mm": final["mpjpe_mm"], "s8_mpjpe_action_mean_mm": final["mpjpe_action_mean_mm"]})
    print(json.dumps(curve[-1]), flush=True)

    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": model.state_dict(),
                    "config": {"joints": NUM_JOINTS, "width": args.width, "blocks": args.blocks, "dropout": args.dropout}},
                   args.save)

    data_info = {"train_frames": int(len(x2d)), "train_sequences": n_train_seqs,
                 "eval_frames": int(len(v2d)), "eval_sequences": n_val_seqs, "load": load}
    budget = {"cpu_minutes": args.cpu_minutes, "train_cpu_s": train_cpu, "train_wall_s": train_wall,
              "eval_cpu_s": eval_cpu, "eval_wall_s": eval_wall, "total_wall_s": time.perf_counter() - w0,
              "samples_seen": samples, "steps": steps, "epochs_completed": epoch,
              "samples_per_cpu_s": samples / train_cpu if train_cpu else None}
    result = result_record(args, raw_argv, data, n_params, data_info, budget, curve, final, complete=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"final S8: MPJPE {final['mpjpe_mm']:.2f} mm (action mean {final['mpjpe_action_mean_mm']:.2f}), "
          f"P-MPJPE {final['p_mpjpe_mm']:.2f} mm (action mean {final['p_mpjpe_action_mean_mm']:.2f}); wrote {out}", flush=True)
    return result


if __name__ == "__main__":
    main()
