"""The training loop: official x0 objective, AdamW, per-epoch lr decay, exact resume, DDP.

Determinism contract (what makes ``--resume`` exact): the clip order of an epoch is a pure function of
``(shuffle_seed, epoch)`` (:func:`posediff.data.clips.epoch_permutation`), the position inside it is
stored, the diffusion noise comes from a dedicated ``torch.Generator`` whose state is stored, and the
global python/numpy/torch states (stochastic depth, dropout) of every process are stored too. A run
that is killed and resumed therefore replays the same steps bit for bit (on the same device and
PyTorch build) and ends with the same weights as an uninterrupted run.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import numpy as np
import torch
from torch import nn

from ..checkpoints import save_checkpoint
from ..errors import InputError
from . import distributed as D
from .augment import add_keypoint_noise, drop_joints
from .config import BUDGET_FIELDS, CORE_FIELDS, TrainConfig
from .datasets import accepted_actions, load_dataset, to_skeleton
from .ema import WeightEMA
from .schedule import cosine_lr
from .logging import RunLogger
from .state import capture_rng, checkpoint_dir, checkpoint_files, find_resume_checkpoint, restore_rng

__all__ = ["train", "TrainResult", "StepInfo", "validation_mpjpe", "invalidate_caches"]


@dataclass
class StepInfo:
    """What an ``on_step`` callback receives after every optimizer step (and its checkpoint, if any).

    Attributes:
        step: Optimizer steps done in total.
        epoch: Current epoch (0-based) after the step.
        index: Position of the next clip in the epoch's order.
        loss: Mean training loss of the step on this process (metres, MPJPE).
        lr: Learning rate used by the step.
        rank: This process's rank.
        lifter: The (unwrapped) model.
    """

    step: int
    epoch: int
    index: int
    loss: float
    lr: float
    rank: int
    lifter: nn.Module


@dataclass
class TrainResult:
    """The outcome of :func:`train`.

    Attributes:
        run_dir: The run folder.
        lifter: The trained model (unwrapped, in eval mode).
        step: Optimizer steps done in total (over every resume).
        epoch, index: Data position reached.
        stop_reason: ``"epochs"``, ``"max_steps"`` or ``"max_minutes"``.
        last_checkpoint: ``checkpoints/last.pt`` (None on non-main processes).
        best_checkpoint: ``checkpoints/best.pt`` or None (no validation data).
        best_val_mpjpe_mm: Lowest validation MPJPE (H=1, M=1), or None.
        final_loss: Training loss of the last step.
        wall_s: Wall time of this invocation in seconds.
        total_wall_s: Wall time summed over every invocation of the run.
        resumed_from: The checkpoint this invocation resumed from, or None.
        notes: Messages (fallbacks, skipped TensorBoard, ignored settings).
    """

    run_dir: Path
    lifter: nn.Module
    step: int
    epoch: int
    index: int
    stop_reason: str
    last_checkpoint: Optional[Path]
    best_checkpoint: Optional[Path]
    best_val_mpjpe_mm: Optional[float]
    final_loss: Optional[float]
    wall_s: float
    total_wall_s: float
    resumed_from: Optional[Path] = None
    notes: list[str] = field(default_factory=list)


class _LossModule(nn.Module):
    """Wraps the lifter so DistributedDataParallel sees the training loss as ``forward``."""

    def __init__(self, lifter: nn.Module) -> None:
        super().__init__()
        self.lifter = lifter

    def forward(self, x2d, y3d, actions, generator):  # noqa: D401 - nn.Module API
        return self.lifter.training_loss(x2d, y3d, actions=actions, generator=generator)


def invalidate_caches(module: nn.Module) -> int:
    """Drop every cached prompt feature of a model (call whenever weights changed).

    Calls ``clear_cache()`` on each submodule that has one. Returns how many caches were cleared.
    """
    n = 0
    for m in module.modules():
        fn = getattr(m, "clear_cache", None)
        if callable(fn):
            fn()
            n += 1
    return n


def _set_train_mode(lifter: nn.Module) -> None:
    """Train mode for the trainable parts; modules without any trainable parameter (frozen text towers)
    stay in eval mode so they behave exactly as at inference."""
    lifter.train()
    for m in lifter.modules():
        params = list(m.parameters(recurse=True))
        if params and not any(p.requires_grad for p in params):
            m.eval()


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)




def _dropout_mask(seed: int, epoch: int, positions: np.ndarray, p: float) -> np.ndarray:
    """Per-clip label dropout decisions, a pure function of (seed, epoch, position in the epoch)."""
    if p <= 0:
        return np.zeros(len(positions), dtype=bool)
    return np.array([np.random.default_rng([seed, 7, epoch, int(q)]).random() < p for q in positions], dtype=bool)


# --------------------------------------------------------------------------- validation
def _val_windows(dataset, frames: int, limit: int, labels: Optional[Mapping[str, Optional[str]]]) -> list[dict]:
    """Evaluation windows of the held-out set, at most ``limit`` evenly spread ones (0 = all); ``labels`` maps
    base actions to the prompt label (None = no labels)."""
    from ..data.clips import sequence_windows

    rows = []
    for seq in dataset:
        if seq.x3d is None:
            continue
        w = sequence_windows(seq, frames)
        act = labels.get(seq.base_action) if labels is not None else None
        for i in range(w["windows"].num_windows):
            if float(w["weights"][i].sum()) <= 0:
                continue
            rows.append({"x2d": w["x2d"][i], "x3d": w["x3d"][i], "weights": w["weights"][i], "action": act})
    if limit and len(rows) > limit:
        idx = np.unique(np.linspace(0, len(rows) - 1, limit).round().astype(int))
        rows = [rows[i] for i in idx]
    return rows


@torch.no_grad()
def validation_mpjpe(lifter: nn.Module, windows: list[dict], batch: int = 16, seed: int = 0) -> float:
    """Frame-weighted MPJPE in mm of single-hypothesis, single-step sampling (the official per-epoch
    check, H=1, M=1, flip TTA as the sampler is configured) on pre-cut windows.

    Uses its own seeded generator, so it never disturbs the training random streams.
    """
    if not windows:
        return float("nan")
    was_training = lifter.training
    lifter.eval()
    invalidate_caches(lifter)
    gen = torch.Generator().manual_seed(seed)
    num = den = 0.0
    dev = next(lifter.parameters()).device
    for b0 in range(0, len(windows), batch):
        rows = windows[b0:b0 + batch]
        x2d = torch.stack([r["x2d"] for r in rows]).to(dev)
        gt = torch.stack([r["x3d"] for r in rows]).to(dev).float()
        w = torch.stack([r["weights"] for r in rows]).to(dev).double()
        acts = [r["action"] for r in rows]
        hyps = lifter.sample(x2d, actions=None if all(a is None for a in acts) else acts, generator=gen,
                             hypotheses=1, steps=1)
        pred = hyps[:, -1, 0].float()
        err = torch.linalg.vector_norm(pred - gt, dim=-1).mean(-1).double()  # (B, T) metres
        num += float((err * w).sum())
        den += float(w.sum())
    invalidate_caches(lifter)
    if was_training:
        _set_train_mode(lifter)
    return 1000.0 * num / max(den, 1e-12)


# --------------------------------------------------------------------------- helpers
def _merge_config(stored: Mapping[str, Any], given: TrainConfig, explicit: set[str], notes: list[str]) -> TrainConfig:
    base = TrainConfig.from_dict(stored)
    changes = {}
    for name in BUDGET_FIELDS:
        if name in explicit:
            changes[name] = getattr(given, name)
    for name in CORE_FIELDS:
        if name in explicit and getattr(given, name) != getattr(base, name):
            notes.append(f"resume: keeping the stored {name}={getattr(base, name)!r} "
                         f"(ignoring {getattr(given, name)!r}; it would change the run's trajectory)")
    return base.replace(**changes) if changes else base


def _build_lifter(spec: Any, overrides: Any):
    from ..build import build
    from ..lifter import PoseLifter

    if isinstance(spec, PoseLifter):
        if overrides:
            raise InputError("overrides cannot be applied to an already built lifter; pass its spec instead")
        return spec
    if spec is None:
        raise InputError("spec is required for a new run: expected a preset name (e.g. 'finepose-tiny'), a spec file "
                         "or a dict; got None")
    return build(spec, overrides=overrides)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


# --------------------------------------------------------------------------- the loop
def train(
    spec: Any = None,
    data: Optional[str] = None,
    out: str | Path = "runs/run",
    *,
    overrides: Any = None,
    resume: bool = False,
    init_weights: Optional[str | Path] = None,
    config: Optional[TrainConfig] = None,
    on_step: Optional[Callable[[StepInfo], None]] = None,
    **settings: Any,
) -> TrainResult:
    """Train a lifter with the official x0 objective (reference §4.2, §6.1).

    Args:
        spec: Preset name, spec file, spec dict or a built :class:`~posediff.lifter.PoseLifter`. Ignored
            when resuming (the checkpoint's spec is used).
        data: Data selector (``"synthetic"``, ``"h36m:DIR"``, ``"3dhp:PATH"``); see
            :mod:`posediff.training.datasets`. Overrides ``config.data``.
        out: Run folder (checkpoints, logs, spec). Must not hold checkpoints unless ``resume``.
        overrides: Spec overrides, e.g. ``{"backbone.drop_path": 0.1}``.
        resume: Continue the run in ``out`` from its newest readable checkpoint (falls back to the last
            good one when the newest is corrupted); starts a new run if ``out`` has none.
        init_weights: A posediff checkpoint whose weights initialise a new run (fine-tuning).
        config: A :class:`~posediff.training.config.TrainConfig`; ``settings`` are applied on top.
        on_step: Called on every process after every step (after checkpointing) with a :class:`StepInfo`;
            an exception raised there stops the run without a final checkpoint (like a crash).
        **settings: Any :class:`TrainConfig` field, e.g. ``max_steps=100, lr=1e-4, batch_size=8``.

    Returns:
        A :class:`TrainResult` (the trained lifter is in eval mode).

    Raises:
        InputError: bad settings, or ``out`` already holds a run and ``resume`` is False.
        DataError: missing data. CheckpointError: no readable checkpoint to resume from.

    Example:
        >>> from posediff.training import train
        >>> res = train("finepose-tiny", data="synthetic", out="runs/demo", max_steps=20,
        ...             progress=False)  # doctest: +SKIP
    """
    t_start = time.monotonic()
    notes: list[str] = []
    cfg = config if config is not None else TrainConfig()
    explicit = set(settings)
    if data is not None:
        settings["data"] = data
        explicit.add("data")
    if config is not None:
        explicit |= {k for k, v in config.to_dict().items() if v != getattr(TrainConfig(), k)}
    cfg = cfg.replace(**settings) if settings else cfg
    run_dir = Path(out)

    info = D.setup(cfg.device)
    logger: Optional[RunLogger] = None
    clean_exit = False
    try:
        # ---------------------------------------------------------------- resume or start
        ckpt = ckpt_path = None
        if resume:
            ckpt_path, ckpt, rnotes = find_resume_checkpoint(run_dir)
            notes += rnotes
        elif checkpoint_files(run_dir)["last"] is not None or checkpoint_files(run_dir)["steps"]:
            raise InputError(
                f"out {str(run_dir)!r} already holds a training run; pass resume=True (--resume) to continue it "
                "or choose another folder"
            )
        if ckpt is not None:
            tr = ckpt["training"]
            cfg = _merge_config(tr["config"], cfg, explicit, notes)
            _seed_all(cfg.seed)
            lifter = _build_lifter(ckpt["spec"], None)
            # With EMA the checkpoint's state_dict holds the averaged weights; the raw ones resume training.
            lifter.load_state_dict(tr.get("raw_state_dict") or ckpt["state_dict"], strict=True)
        else:
            _seed_all(cfg.seed)
            lifter = _build_lifter(spec, overrides)
            if init_weights is not None:
                from ..checkpoints import load_state_into
                from ..sources import locate

                where = locate(init_weights)
                if where.weights is None:
                    raise InputError(f"init_weights: {where.label!r} is a spec, not weights")
                load_state_into(lifter, where.weights)
        dev = info.device
        lifter.to(dev)
        invalidate_caches(lifter)
        if cfg.amp == "fp16" and dev.type != "cuda":
            raise InputError(f"amp='fp16' must run on a CUDA device; got device {dev.type!r} (use amp='bf16' on CPU)")
        if cfg.batch_size % info.world_size:
            raise InputError(f"batch_size ({cfg.batch_size}) must be a multiple of the number of processes "
                             f"({info.world_size})")
        local_batch = cfg.batch_size // info.world_size
        if cfg.grad_accum > local_batch:
            raise InputError(f"grad_accum ({cfg.grad_accum}) cannot exceed the clips per process and step "
                             f"({local_batch})")

        micro_limit = cfg.micro_batch
        if micro_limit == 0 and dev.type == "cpu" and not cfg.official_grad:
            micro_limit = lifter.cache_rows(torch.float32) if hasattr(lifter, "cache_rows") else 0

        def micro_count(clips: int) -> int:
            """Micro-batches for a share of ``clips`` clips: grad_accum, more if micro_limit asks."""
            need = -(-clips // micro_limit) if micro_limit > 0 else 1
            return max(1, min(clips, max(cfg.grad_accum, need)))

        # ---------------------------------------------------------------- data
        train_ds = to_skeleton(load_dataset(cfg.data, cfg.train_subjects, role="train", keypoints=cfg.keypoints),
                               lifter.skeleton.name)
        from ..data.clips import TrainingClips, epoch_permutation

        clips = TrainingClips(train_ds, frames=lifter.frames, flip=cfg.flip, random_offset=cfg.random_offset,
                              seed=cfg.shuffle_seed)
        n_items = len(clips)
        drop_last = cfg.drop_last or info.distributed
        if n_items < cfg.batch_size and drop_last:
            raise InputError(f"the training set has {n_items} clips, fewer than one batch ({cfg.batch_size})")
        label_map: dict[str, Optional[str]] = {}
        if cfg.use_actions:
            label_map, rejected = accepted_actions(lifter, train_ds.base_actions)
            if rejected:
                notes.append(f"the conditioner does not accept the action labels {sorted(rejected)}: those clips "
                             "are trained with the neutral prompt")
        val_rows: list[dict] = []
        if cfg.val_subjects != ["none"] and info.is_main:
            try:
                val_ds = load_dataset(cfg.data, cfg.val_subjects, role="val", keypoints=cfg.keypoints)
            except Exception as exc:  # no held-out data is not fatal for training
                if cfg.val_subjects:
                    raise
                val_ds = None
                notes.append(f"no validation data ({exc}); best.pt is not written")
            if val_ds is not None and len(val_ds):
                val_ds = to_skeleton(val_ds, lifter.skeleton.name)
                if cfg.use_actions:
                    label_map.update(accepted_actions(lifter, [a for a in val_ds.base_actions
                                                               if a not in label_map])[0])
                val_rows = _val_windows(val_ds, lifter.frames, cfg.val_windows,
                                        label_map if cfg.use_actions else None)

        # ---------------------------------------------------------------- optimisation state
        params = [p for p in lifter.parameters() if p.requires_grad]
        if not params:
            raise InputError("the model has no trainable parameters")
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps,
                                      weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)
        ema = WeightEMA(lifter, cfg.ema_decay) if cfg.ema_decay > 0 else None
        scaler = torch.amp.GradScaler("cuda") if cfg.amp == "fp16" else None
        noise = torch.Generator(device="cpu").manual_seed(cfg.seed * 1_000_003 + info.rank)
        step = epoch = index = 0
        best_metric: Optional[float] = None
        best_step = -1
        prev_elapsed = 0.0
        if ckpt is not None:
            tr = ckpt["training"]
            optimizer.load_state_dict(tr["optimizer"])
            if ema is not None:
                ema.load(ckpt["state_dict"], int(tr.get("ema_updates", 0)))
            scheduler.load_state_dict(tr["scheduler"])
            if scaler is not None and tr.get("scaler"):
                scaler.load_state_dict(tr["scaler"])
            step, epoch, index = int(tr["step"]), int(tr["epoch"]), int(tr["index"])
            best = tr.get("best") or {}
            best_metric = best.get("metric")
            best_step = int(best.get("step", -1))
            prev_elapsed = float(tr.get("elapsed_s", 0.0))
            rngs = tr.get("rng") or []
            if int(tr.get("world_size", 1)) == info.world_size and len(rngs) == info.world_size:
                restore_rng(rngs[info.rank], noise)
            else:
                notes.append(f"resume: the run was written by {tr.get('world_size')} process(es) and now runs on "
                             f"{info.world_size}: random streams are reseeded, so the result will not match an "
                             "uninterrupted run exactly")
                _seed_all(cfg.seed + 7919 * (step + 1) + info.rank)
                noise.manual_seed(cfg.seed * 1_000_003 + 7919 * (step + 1) + info.rank)
        else:
            # Per-process streams: rank r draws its own noise; the model's initialisation used cfg.seed.
            _seed_all(cfg.seed + info.rank)

        _set_train_mode(lifter)
        loss_module: nn.Module = _LossModule(lifter)
        if info.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            probe = clips[0]
            unused = _unused_parameters(lifter, probe["x2d"][None].to(dev), probe["x3d"][None].to(dev),
                                        label_map.get(probe["base_action"]) if cfg.use_actions else None)
            loss_module = DDP(loss_module, device_ids=[dev.index] if dev.type == "cuda" else None,
                              find_unused_parameters=bool(unused))

        # ---------------------------------------------------------------- files and logs
        total_steps = None
        steps_per_epoch = n_items // cfg.batch_size if drop_last else math.ceil(n_items / cfg.batch_size)
        if cfg.max_steps:
            total_steps = cfg.max_steps
        else:
            total_steps = steps_per_epoch * cfg.epochs
        if cfg.lr_schedule == "cosine" and cfg.schedule_steps == 0:
            # resolved once and stored: a resumed run with another budget keeps its schedule
            cfg = cfg.replace(schedule_steps=int(total_steps))

        def lr_for(done: int) -> float:
            return cosine_lr(done, cfg.lr, cfg.schedule_steps, cfg.warmup_steps, cfg.final_lr_ratio)
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            checkpoint_dir(run_dir).mkdir(parents=True, exist_ok=True)
            from ..spec import dump_spec

            (run_dir / "spec.toml").write_text(dump_spec(lifter.spec))
            _write_json(run_dir / "train_config.json", cfg.to_dict())
        logger = RunLogger(run_dir, enabled=info.is_main, progress=cfg.progress, total_steps=total_steps,
                           start_step=step)
        notes += logger.notes
        for n in notes:
            logger.note(f"posediff train: {n}")
        if info.is_main and ckpt is None:
            logger.note(f"posediff train: {len(train_ds)} training sequences, {n_items} clips of {lifter.frames} "
                        f"frames (flip={cfg.flip}), {steps_per_epoch} steps/epoch, {len(val_rows)} validation "
                        f"windows, {sum(p.numel() for p in params):,} trainable parameters, "
                        f"{info.world_size} process(es) on {dev}")
        elif info.is_main:
            logger.note(f"posediff train: resumed from {ckpt_path} at step {step} (epoch {epoch}, clip {index})")

        amp_ctx: Callable[[], Any]
        if cfg.amp == "none":
            amp_ctx = contextlib.nullcontext
        else:
            dtype = torch.bfloat16 if cfg.amp == "bf16" else torch.float16
            amp_ctx = lambda: torch.autocast(device_type=dev.type, dtype=dtype)  # noqa: E731

        def save(kind: str, path: Path) -> None:
            rngs = D.all_gather_object(info, capture_rng(noise))
            if not info.is_main:
                return
            raw = {k: v.detach().cpu() for k, v in lifter.state_dict().items()}
            payload = {
                "format": "posediff", "version": 1, "spec": lifter.spec,
                "state_dict": ema.state_dict() if ema is not None else raw,
                "extra": {"kind": "training", "checkpoint": kind, "step": step, "epoch": epoch,
                          "val_mpjpe_mm": best_metric if kind == "best" else None},
                "training": {
                    "kind": kind, "step": step, "epoch": epoch, "index": index,
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "scaler": None if scaler is None else scaler.state_dict(),
                    "rng": rngs, "world_size": info.world_size, "config": cfg.to_dict(),
                    "raw_state_dict": raw if ema is not None else None,
                    "ema_updates": 0 if ema is None else ema.updates,
                    "best": {"metric": best_metric, "step": best_step},
                    "elapsed_s": prev_elapsed + (time.monotonic() - t_start),
                    "torch_version": str(torch.__version__),
                    "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                },
            }
            save_checkpoint(payload, path)

        def validate() -> Optional[float]:
            nonlocal best_metric, best_step
            improved = False
            value = None
            if info.is_main and val_rows:
                own = ema.swap_into(lifter) if ema is not None else None
                try:
                    value = validation_mpjpe(lifter, val_rows, seed=cfg.seed)
                finally:
                    if own is not None:
                        lifter.load_state_dict(own, strict=True)
                logger.val_row({"step": step, "epoch": epoch, "index": index, "val_mpjpe_mm": value,
                                "val_windows": len(val_rows),
                                "elapsed_s": prev_elapsed + time.monotonic() - t_start})
                if best_metric is None or value < best_metric:
                    best_metric, best_step, improved = value, step, True
            improved = D.broadcast_object(info, improved)
            if improved:
                save("best", checkpoint_dir(run_dir) / "best.pt")
            return value

        # ---------------------------------------------------------------- steps
        order_epoch, order = -1, None
        stop_reason = "epochs" if epoch >= cfg.epochs else ""
        if cfg.max_steps and step >= cfg.max_steps:
            stop_reason = "max_steps"
        last_loss: Optional[float] = None
        log_t, log_clips = time.monotonic(), 0
        deadline = t_start + 60.0 * cfg.max_minutes if cfg.max_minutes else None
        def epoch_done() -> bool:
            left = n_items - index
            return left <= 0 or (drop_last and left < cfg.batch_size)

        lr_now = optimizer.param_groups[0]["lr"]
        if not stop_reason and epoch_done():  # a checkpoint written exactly at an epoch's end
            if cfg.lr_schedule == "exponential":
                scheduler.step()
            epoch, index = epoch + 1, 0
            stop_reason = "epochs" if epoch >= cfg.epochs else ""
        while not stop_reason:
            if order_epoch != epoch:
                clips.set_epoch(epoch)
                order = epoch_permutation(n_items, cfg.shuffle_seed, epoch)
                order_epoch = epoch
            take = min(cfg.batch_size, n_items - index)
            positions = np.arange(index, index + take)
            # rank r takes its contiguous share of the global batch
            share = np.array_split(positions, info.world_size)[info.rank]
            drop = _dropout_mask(cfg.seed, epoch, share, cfg.action_dropout)
            micro = [m for m in np.array_split(np.arange(len(share)), micro_count(len(share))) if len(m)]
            optimizer.zero_grad(set_to_none=True)
            step_loss = 0.0
            for mi, sel in enumerate(micro):
                items = [clips[int(order[share[j]])] for j in sel]
                x2d = torch.stack([it["x2d"] for it in items])
                x2d = drop_joints(add_keypoint_noise(x2d, cfg.noise_2d, noise), cfg.joint_dropout, noise).to(dev)
                y3d = torch.stack([it["x3d"] for it in items]).to(dev)
                actions = None
                if cfg.use_actions:
                    actions = [None if drop[j] else label_map.get(it["base_action"]) for j, it in zip(sel, items)]
                    if all(a is None for a in actions):
                        actions = None
                sync = contextlib.nullcontext()
                if info.distributed and mi < len(micro) - 1:
                    sync = loss_module.no_sync()
                with sync:
                    with amp_ctx():
                        loss = loss_module(x2d, y3d, actions, noise)
                    loss = loss.float()
                    weight = len(sel) / len(share)
                    objective = 0.5 * loss * loss if cfg.official_grad else loss
                    objective = objective * weight
                    if scaler is not None:
                        scaler.scale(objective).backward()
                    else:
                        objective.backward()
                step_loss += float(loss.detach()) * weight
            if not math.isfinite(step_loss):
                raise FloatingPointError(f"training loss became {step_loss} at step {step + 1} "
                                         f"(epoch {epoch}, clip {index}); lower lr or use amp='none'")
            if cfg.lr_schedule == "cosine":
                for group in optimizer.param_groups:
                    group["lr"] = lr_for(step)
            lr_now = optimizer.param_groups[0]["lr"]
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            if ema is not None:
                ema.update(lifter)
            # The conditioner drops its prompt cache by itself when a parameter changes (version stamps),
            # so the cache is never read with stale weights; nothing to clear here.
            step += 1
            index += take
            last_loss = step_loss
            log_clips += take
            ended_epoch = epoch_done()
            if ended_epoch:
                if cfg.lr_schedule == "exponential":
                    scheduler.step()  # official: lr decay after every epoch
                epoch, index = epoch + 1, 0
                if epoch >= cfg.epochs:
                    stop_reason = "epochs"
            if cfg.max_steps and step >= cfg.max_steps:
                stop_reason = stop_reason or "max_steps"
            if deadline is not None:
                over = time.monotonic() >= deadline
                if info.distributed:
                    over = bool(D.broadcast_object(info, over))
                if over:
                    stop_reason = stop_reason or "max_minutes"
            if step % cfg.log_every == 0 or stop_reason:
                now = time.monotonic()
                loss_avg = D.all_reduce_mean(info, last_loss)
                logger.train_row({"step": step, "epoch": epoch, "index": index, "loss": loss_avg, "lr": lr_now,
                                  "clips_per_s": log_clips / max(now - log_t, 1e-9),
                                  "elapsed_s": prev_elapsed + now - t_start})
                log_t, log_clips = now, 0
            logger.step(1, loss=last_loss, lr=lr_now, epoch=epoch)
            if (cfg.val_every and step % cfg.val_every == 0) or ended_epoch or stop_reason:
                validate()
            if step % cfg.checkpoint_every == 0 or ended_epoch or stop_reason:
                save("last", checkpoint_dir(run_dir) / "last.pt")
            if cfg.keep_every and step % cfg.keep_every == 0:
                save("step", checkpoint_dir(run_dir) / f"step_{step:08d}.pt")
            if on_step is not None:
                on_step(StepInfo(step=step, epoch=epoch, index=index, loss=float(last_loss), lr=float(lr_now),
                                 rank=info.rank, lifter=lifter))

        wall = time.monotonic() - t_start
        if ema is not None:  # the run's result is the averaged model, as in its checkpoints
            ema.swap_into(lifter)
        lifter.eval()
        invalidate_caches(lifter)
        files = checkpoint_files(run_dir)
        result = TrainResult(
            run_dir=run_dir, lifter=lifter, step=step, epoch=epoch, index=index, stop_reason=stop_reason,
            last_checkpoint=files["last"] if info.is_main else None,
            best_checkpoint=files["best"] if info.is_main else None,
            best_val_mpjpe_mm=best_metric, final_loss=last_loss, wall_s=wall, total_wall_s=prev_elapsed + wall,
            resumed_from=ckpt_path, notes=notes,
        )
        if info.is_main:
            _write_json(run_dir / "summary.json", {
                "step": step, "epoch": epoch, "index": index, "stop_reason": stop_reason,
                "final_loss": last_loss, "best_val_mpjpe_mm": best_metric, "best_step": best_step,
                "wall_s": round(wall, 1), "total_wall_s": round(prev_elapsed + wall, 1),
                "resumed_from": None if ckpt_path is None else str(ckpt_path), "world_size": info.world_size,
                "device": str(dev), "notes": notes,
            })
            logger.note(f"posediff train: stopped ({stop_reason}) at step {step}, epoch {epoch}; loss "
                        f"{last_loss if last_loss is None else round(last_loss, 5)} m; best validation MPJPE "
                        f"{'n/a' if best_metric is None else f'{best_metric:.1f} mm'}; {wall:.0f} s")
        clean_exit = True
        return result
    finally:
        if logger is not None:
            logger.close()
        D.teardown(info, clean=clean_exit)


def _unused_parameters(lifter: nn.Module, x2d: torch.Tensor, y3d: torch.Tensor, action: Optional[str]) -> list[str]:
    """Names of trainable parameters that get no gradient from the loss with a label or without one.

    DistributedDataParallel must know before the first step whether to look for unused parameters. The
    probe runs on one clip with throw-away noise and restores the global random state, so it changes
    nothing about the run.
    """
    state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state(x2d.device) if x2d.is_cuda else None
    unused: set[str] = set()
    try:
        for acts in ([action] if action else None, None):
            lifter.zero_grad(set_to_none=True)
            loss = lifter.training_loss(x2d, y3d, actions=acts, generator=torch.Generator().manual_seed(0))
            loss.backward()
            unused |= {n for n, p in lifter.named_parameters() if p.requires_grad and p.grad is None}
    finally:
        lifter.zero_grad(set_to_none=True)
        torch.set_rng_state(state)
        if cuda_state is not None:
            torch.cuda.set_rng_state(cuda_state, x2d.device)
    return sorted(unused)
