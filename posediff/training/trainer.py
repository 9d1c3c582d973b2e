"""The :class:`Trainer`: one training run as small steps — set up, step, log, validate, checkpoint, finish.

:func:`posediff.training.train` creates one and calls :meth:`Trainer.run`. The determinism contract that
makes ``--resume`` exact is described in :mod:`posediff.training.loop`; everything this class keeps in
its checkpoints (:meth:`Trainer.save`) is what that contract needs.

Size: one class whose methods are the stages of a run (five set-up steps, the step, validation,
checkpoints, the end); each method is short, and they share the run's state.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import math
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn

from ..checkpoints import checkpoint_dir, checkpoint_files, save_checkpoint
from ..data.clips import TrainingClips, epoch_permutation
from ..errors import InputError
from ..sources import locate
from ..spec import dump_spec
from . import distributed as D
from .augment import add_keypoint_noise, drop_joints
from .config import TrainConfig
from .datasets import accepted_actions, load_dataset, to_skeleton
from .ema import WeightEMA
from .logging import RunLogger
from .results import StepInfo, TrainResult
from .schedule import cosine_lr
from .transfer import load_init_weights
from ..precision import autocast_dtype_for, bf16_speedup
from .state import capture_rng, find_resume_checkpoint, restore_rng
from .validation import (LossModule, build_lifter, dropout_mask, invalidate_caches, merge_config, seed_all,
                         set_train_mode, unused_parameters, val_windows, validation_mpjpe, with_regression_sampling,
                         write_json)

__all__ = ["Trainer"]


class Trainer:
    """One training run (see :func:`posediff.training.train` for the arguments' meaning).

    Args:
        cfg: The settings given (merged with a resumed run's stored ones in :meth:`setup_model`).
        explicit: Names of the settings the caller set explicitly (they win over a resumed run's budget).
        run_dir: The run folder.
        info: The process/device description of :func:`posediff.training.distributed.setup`.
        on_step: Optional callback after every step.
    """

    def __init__(self, cfg: TrainConfig, explicit: set[str], run_dir: Path, info: D.DistInfo,
                 on_step: Optional[Callable[[StepInfo], None]] = None) -> None:
        self.t_start = time.monotonic()
        self.cfg = cfg
        self.explicit = explicit
        self.run_dir = run_dir
        self.info = info
        self.on_step = on_step
        self.notes: list[str] = []
        self.logger: Optional[RunLogger] = None
        self.ckpt: Optional[dict] = None
        self.ckpt_path: Optional[Path] = None
        self.step = self.epoch = self.index = 0
        self.best_metric: Optional[float] = None
        self.best_step = -1
        self.prev_elapsed = 0.0
        self.last_loss: Optional[float] = None

    # ------------------------------------------------------------------ set-up
    def setup_model(self, spec: Any, overrides: Any, resume: bool, init_weights: Any) -> None:
        """The model: from the newest readable checkpoint when resuming, else built (and initialised)."""
        cfg = self.cfg
        if resume:
            self.ckpt_path, self.ckpt, rnotes = find_resume_checkpoint(self.run_dir)
            self.notes += rnotes
        elif checkpoint_files(self.run_dir)["last"] is not None or checkpoint_files(self.run_dir)["steps"]:
            raise InputError(
                f"out {str(self.run_dir)!r} already holds a training run; pass resume=True (--resume) to continue it "
                "or choose another folder"
            )
        if self.ckpt is not None:
            tr = self.ckpt["training"]
            cfg = self.cfg = merge_config(tr["config"], cfg, self.explicit, self.notes)
            seed_all(cfg.seed)
            self.lifter = build_lifter(self.ckpt["spec"], None)
            # With EMA the checkpoint's state_dict holds the averaged weights; the raw ones resume training.
            self.lifter.load_state_dict(tr.get("raw_state_dict") or self.ckpt["state_dict"], strict=True)
        else:
            seed_all(cfg.seed)
            if cfg.objective == "regression":
                overrides, snotes = with_regression_sampling(overrides)
                self.notes += snotes
            self.lifter = build_lifter(spec, overrides)
            if init_weights is not None:
                where = locate(init_weights)
                if where.weights is None:
                    raise InputError(f"init_weights: {where.label!r} is a spec, not weights")
                self.notes += load_init_weights(self.lifter, where.weights)
        self.dev = self.info.device
        self.lifter.to(self.dev)
        invalidate_caches(self.lifter)
        if cfg.amp == "fp16" and self.dev.type != "cuda":
            raise InputError(f"amp='fp16' must run on a CUDA device; got device {self.dev.type!r} (use amp='auto' "
                             "or 'bf16' on CPU)")
        # 'auto': bf16 autocast only where this machine runs bf16 faster than fp32 (posediff.precision)
        self.amp_dtype = autocast_dtype_for(cfg.amp, self.dev)
        self.amp_used = {None: "none", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.amp_dtype]
        if cfg.amp in ("auto", "bf16") and self.dev.type == "cpu":
            self.notes.append(f"precision: amp={cfg.amp!r} trains with {self.amp_used} autocast here (bf16 matmul "
                              f"measured {bf16_speedup(self.dev):.2f}× fp32 on this CPU)")
        if cfg.batch_size % self.info.world_size:
            raise InputError(f"batch_size ({cfg.batch_size}) must be a multiple of the number of processes "
                             f"({self.info.world_size})")
        local_batch = cfg.batch_size // self.info.world_size
        if cfg.grad_accum > local_batch:
            raise InputError(f"grad_accum ({cfg.grad_accum}) cannot exceed the clips per process and step "
                             f"({local_batch})")
        self.micro_limit = cfg.micro_batch
        if self.micro_limit == 0 and self.dev.type == "cpu" and not cfg.official_grad:
            self.micro_limit = self.lifter.cache_rows(torch.float32) if hasattr(self.lifter, "cache_rows") else 0

    def micro_count(self, clips: int) -> int:
        """Micro-batches for a share of ``clips`` clips: grad_accum, more if the micro-batch limit asks."""
        need = -(-clips // self.micro_limit) if self.micro_limit > 0 else 1
        return max(1, min(clips, max(self.cfg.grad_accum, need)))

    def setup_data(self) -> None:
        """Training clips, action labels, validation windows."""
        cfg, info = self.cfg, self.info
        train_ds = to_skeleton(load_dataset(cfg.data, cfg.train_subjects, role="train", keypoints=cfg.keypoints),
                               self.lifter.skeleton.name)
        self.train_sequences = len(train_ds)
        self.clips = TrainingClips(train_ds, frames=self.lifter.frames, flip=cfg.flip,
                                   random_offset=cfg.random_offset, seed=cfg.shuffle_seed)
        self.n_items = len(self.clips)
        self.drop_last = cfg.drop_last or info.distributed
        if self.n_items < cfg.batch_size and self.drop_last:
            raise InputError(f"the training set has {self.n_items} clips, fewer than one batch ({cfg.batch_size})")
        self.label_map: dict[str, Optional[str]] = {}
        if cfg.use_actions:
            self.label_map, rejected = accepted_actions(self.lifter, train_ds.base_actions)
            if rejected:
                self.notes.append(f"the conditioner does not accept the action labels {sorted(rejected)}: those "
                                  "clips are trained with the neutral prompt")
        self.val_rows: list[dict] = []
        if cfg.val_subjects != ["none"] and info.is_main:
            try:
                val_ds = load_dataset(cfg.data, cfg.val_subjects, role="val", keypoints=cfg.keypoints)
            except Exception as exc:  # no held-out data is not fatal for training
                if cfg.val_subjects:
                    raise
                val_ds = None
                self.notes.append(f"no validation data ({exc}); best.pt is not written")
            if val_ds is not None and len(val_ds):
                val_ds = to_skeleton(val_ds, self.lifter.skeleton.name)
                if cfg.use_actions:
                    self.label_map.update(accepted_actions(self.lifter, [a for a in val_ds.base_actions
                                                                         if a not in self.label_map])[0])
                self.val_rows = val_windows(val_ds, self.lifter.frames, cfg.val_windows,
                                            self.label_map if cfg.use_actions else None)

    def setup_optimisation(self) -> None:
        """Optimizer, lr schedule, EMA, gradient scaler and the noise stream; restored when resuming."""
        cfg, info = self.cfg, self.info
        self.params = [p for p in self.lifter.parameters() if p.requires_grad]
        if not self.params:
            raise InputError("the model has no trainable parameters")
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps,
                                           weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma=cfg.lr_decay)
        self.ema = WeightEMA(self.lifter, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.scaler = torch.amp.GradScaler("cuda") if cfg.amp == "fp16" else None
        self.noise = torch.Generator(device="cpu").manual_seed(cfg.seed * 1_000_003 + info.rank)
        if self.ckpt is None:
            # Per-process streams: rank r draws its own noise; the model's initialisation used cfg.seed.
            seed_all(cfg.seed + info.rank)
            return
        tr = self.ckpt["training"]
        self.optimizer.load_state_dict(tr["optimizer"])
        if self.ema is not None:
            self.ema.load(self.ckpt["state_dict"], int(tr.get("ema_updates", 0)))
        self.scheduler.load_state_dict(tr["scheduler"])
        if self.scaler is not None and tr.get("scaler"):
            self.scaler.load_state_dict(tr["scaler"])
        self.step, self.epoch, self.index = int(tr["step"]), int(tr["epoch"]), int(tr["index"])
        best = tr.get("best") or {}
        self.best_metric = best.get("metric")
        self.best_step = int(best.get("step", -1))
        self.prev_elapsed = float(tr.get("elapsed_s", 0.0))
        rngs = tr.get("rng") or []
        if int(tr.get("world_size", 1)) == info.world_size and len(rngs) == info.world_size:
            restore_rng(rngs[info.rank], self.noise)
        else:
            self.notes.append(f"resume: the run was written by {tr.get('world_size')} process(es) and now runs on "
                              f"{info.world_size}: random streams are reseeded, so the result will not match an "
                              "uninterrupted run exactly")
            seed_all(cfg.seed + 7919 * (self.step + 1) + info.rank)
            self.noise.manual_seed(cfg.seed * 1_000_003 + 7919 * (self.step + 1) + info.rank)

    def setup_loss(self) -> None:
        """Train mode, and the loss module (wrapped in DistributedDataParallel under torchrun)."""
        set_train_mode(self.lifter)
        self.loss_module: nn.Module = LossModule(self.lifter, self.cfg.objective)
        if self.info.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            probe = self.clips[0]
            unused = unused_parameters(self.lifter, probe["x2d"][None].to(self.dev), probe["x3d"][None].to(self.dev),
                                       self.label_map.get(probe["base_action"]) if self.cfg.use_actions else None)
            self.loss_module = DDP(self.loss_module, device_ids=[self.dev.index] if self.dev.type == "cuda" else None,
                                   find_unused_parameters=bool(unused))

    def setup_files(self) -> None:
        """Schedule length, run folder files (spec, settings), the logger and the autocast context."""
        cfg, info = self.cfg, self.info
        self.steps_per_epoch = (self.n_items // cfg.batch_size if self.drop_last
                                else math.ceil(self.n_items / cfg.batch_size))
        total_steps = cfg.max_steps if cfg.max_steps else self.steps_per_epoch * cfg.epochs
        if cfg.lr_schedule == "cosine" and cfg.schedule_steps == 0:
            # resolved once and stored: a resumed run with another budget keeps its schedule
            cfg = self.cfg = cfg.replace(schedule_steps=int(total_steps))
        if info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            checkpoint_dir(self.run_dir).mkdir(parents=True, exist_ok=True)
            (self.run_dir / "spec.toml").write_text(dump_spec(self.lifter.spec))
            write_json(self.run_dir / "train_config.json", cfg.to_dict())
        self.logger = RunLogger(self.run_dir, enabled=info.is_main, progress=cfg.progress, total_steps=total_steps,
                                start_step=self.step)
        self.notes += self.logger.notes
        for n in self.notes:
            self.logger.note(f"posediff train: {n}")
        if info.is_main and self.ckpt is None:
            self.logger.note(
                f"posediff train: {self.train_sequences} training sequences, {self.n_items} clips of "
                f"{self.lifter.frames} frames (flip={cfg.flip}), {self.steps_per_epoch} steps/epoch, "
                f"{len(self.val_rows)} validation windows, {sum(p.numel() for p in self.params):,} trainable "
                f"parameters, {info.world_size} process(es) on {self.dev}")
        elif info.is_main:
            self.logger.note(f"posediff train: resumed from {self.ckpt_path} at step {self.step} (epoch "
                             f"{self.epoch}, clip {self.index})")

    def amp_context(self):
        """The autocast context of a forward pass (a null context without mixed precision)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.dev.type, dtype=self.amp_dtype)

    def lr_for(self, done: int) -> float:
        """The cosine schedule's lr after ``done`` steps."""
        c = self.cfg
        return cosine_lr(done, c.lr, c.schedule_steps, c.warmup_steps, c.final_lr_ratio)

    def elapsed(self) -> float:
        """Wall seconds of the run over every invocation."""
        return self.prev_elapsed + (time.monotonic() - self.t_start)

    # ------------------------------------------------------------------ checkpoints and validation
    def save(self, kind: str, path: Path) -> None:
        """Write a checkpoint: weights (EMA when on), and the full training state for an exact resume."""
        info = self.info
        rngs = D.all_gather_object(info, capture_rng(self.noise))
        if not info.is_main:
            return
        raw = {k: v.detach().cpu() for k, v in self.lifter.state_dict().items()}
        ema = self.ema
        payload = {
            "format": "posediff", "version": 1, "spec": self.lifter.spec,
            "state_dict": ema.state_dict() if ema is not None else raw,
            "extra": {"kind": "training", "checkpoint": kind, "step": self.step, "epoch": self.epoch,
                      "val_mpjpe_mm": self.best_metric if kind == "best" else None},
            "training": {
                "kind": kind, "step": self.step, "epoch": self.epoch, "index": self.index,
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": None if self.scaler is None else self.scaler.state_dict(),
                "rng": rngs, "world_size": info.world_size, "config": self.cfg.to_dict(),
                "raw_state_dict": raw if ema is not None else None,
                "ema_updates": 0 if ema is None else ema.updates,
                "best": {"metric": self.best_metric, "step": self.best_step},
                "elapsed_s": self.elapsed(),
                "torch_version": str(torch.__version__),
                "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            },
        }
        save_checkpoint(payload, path)

    def validate(self) -> Optional[float]:
        """Validation MPJPE (EMA weights when on); writes ``best.pt`` when it improved."""
        improved = False
        value = None
        if self.info.is_main and self.val_rows:
            own = self.ema.swap_into(self.lifter) if self.ema is not None else None
            try:
                value = validation_mpjpe(self.lifter, self.val_rows, seed=self.cfg.seed)
            finally:
                if own is not None:
                    self.lifter.load_state_dict(own, strict=True)
            self.logger.val_row({"step": self.step, "epoch": self.epoch, "index": self.index, "val_mpjpe_mm": value,
                                 "val_windows": len(self.val_rows), "elapsed_s": self.elapsed()})
            if self.best_metric is None or value < self.best_metric:
                self.best_metric, self.best_step, improved = value, self.step, True
        improved = D.broadcast_object(self.info, improved)
        if improved:
            self.save("best", checkpoint_dir(self.run_dir) / "best.pt")
        return value

    # ------------------------------------------------------------------ steps
    def epoch_done(self) -> bool:
        """Whether the current epoch has no (full, with drop_last) batch left."""
        left = self.n_items - self.index
        return left <= 0 or (self.drop_last and left < self.cfg.batch_size)

    def end_epoch(self) -> None:
        """Move to the next epoch (the official exponential lr decay steps here)."""
        if self.cfg.lr_schedule == "exponential":
            self.scheduler.step()
        self.epoch, self.index = self.epoch + 1, 0

    def _micro_batch(self, order: np.ndarray, share: np.ndarray, sel: np.ndarray, drop: np.ndarray):
        """Inputs of one micro-batch: augmented 2D, 3D targets and prompt labels."""
        cfg = self.cfg
        items = [self.clips[int(order[share[j]])] for j in sel]
        x2d = torch.stack([it["x2d"] for it in items])
        x2d = drop_joints(add_keypoint_noise(x2d, cfg.noise_2d, self.noise), cfg.joint_dropout, self.noise).to(self.dev)
        y3d = torch.stack([it["x3d"] for it in items]).to(self.dev)
        actions = None
        if cfg.use_actions:
            actions = [None if drop[j] else self.label_map.get(it["base_action"]) for j, it in zip(sel, items)]
            if all(a is None for a in actions):
                actions = None
        return x2d, y3d, actions

    def train_step(self, order: np.ndarray) -> tuple[int, float]:
        """One optimizer step on the next batch of ``order``; returns (clips taken, lr used)."""
        cfg, info = self.cfg, self.info
        take = min(cfg.batch_size, self.n_items - self.index)
        positions = np.arange(self.index, self.index + take)
        # rank r takes its contiguous share of the global batch
        share = np.array_split(positions, info.world_size)[info.rank]
        drop = dropout_mask(cfg.seed, self.epoch, share, cfg.action_dropout)
        micro = [m for m in np.array_split(np.arange(len(share)), self.micro_count(len(share))) if len(m)]
        self.optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for mi, sel in enumerate(micro):
            x2d, y3d, actions = self._micro_batch(order, share, sel, drop)
            sync = contextlib.nullcontext()
            if info.distributed and mi < len(micro) - 1:
                sync = self.loss_module.no_sync()
            with sync:
                with self.amp_context():
                    loss = self.loss_module(x2d, y3d, actions, self.noise)
                loss = loss.float()
                weight = len(sel) / len(share)
                objective = 0.5 * loss * loss if cfg.official_grad else loss
                objective = objective * weight
                if self.scaler is not None:
                    self.scaler.scale(objective).backward()
                else:
                    objective.backward()
            step_loss += float(loss.detach()) * weight
        if not math.isfinite(step_loss):
            raise FloatingPointError(f"training loss became {step_loss} at step {self.step + 1} "
                                     f"(epoch {self.epoch}, clip {self.index}); lower lr or use amp='none'")
        if cfg.lr_schedule == "cosine":
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr_for(self.step)
        lr_now = self.optimizer.param_groups[0]["lr"]
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.lifter)
        # The conditioner drops its prompt cache by itself when a parameter changes (version stamps),
        # so the cache is never read with stale weights; nothing to clear here.
        self.step += 1
        self.index += take
        self.last_loss = step_loss
        return take, lr_now

    def _stop_reason(self, deadline: Optional[float]) -> str:
        cfg = self.cfg
        reason = "epochs" if self.epoch >= cfg.epochs else ""
        if cfg.max_steps and self.step >= cfg.max_steps:
            reason = reason or "max_steps"
        if deadline is not None:
            over = time.monotonic() >= deadline
            if self.info.distributed:
                over = bool(D.broadcast_object(self.info, over))
            if over:
                reason = reason or "max_minutes"
        return reason

    def run(self) -> TrainResult:
        """Steps until the epochs, ``max_steps`` or ``max_minutes`` run out; then :meth:`finish`."""
        cfg = self.cfg
        order_epoch, order = -1, None
        stop_reason = "epochs" if self.epoch >= cfg.epochs else ""
        if cfg.max_steps and self.step >= cfg.max_steps:
            stop_reason = "max_steps"
        log_t, log_clips = time.monotonic(), 0
        deadline = self.t_start + 60.0 * cfg.max_minutes if cfg.max_minutes else None
        lr_now = self.optimizer.param_groups[0]["lr"]
        if not stop_reason and self.epoch_done():  # a checkpoint written exactly at an epoch's end
            self.end_epoch()
            stop_reason = "epochs" if self.epoch >= cfg.epochs else ""
        while not stop_reason:
            if order_epoch != self.epoch:
                self.clips.set_epoch(self.epoch)
                order = epoch_permutation(self.n_items, cfg.shuffle_seed, self.epoch)
                order_epoch = self.epoch
            take, lr_now = self.train_step(order)
            log_clips += take
            ended_epoch = self.epoch_done()
            if ended_epoch:
                self.end_epoch()
            stop_reason = self._stop_reason(deadline)
            if self.step % cfg.log_every == 0 or stop_reason:
                now = time.monotonic()
                loss_avg = D.all_reduce_mean(self.info, self.last_loss)
                self.logger.train_row({"step": self.step, "epoch": self.epoch, "index": self.index, "loss": loss_avg,
                                       "lr": lr_now, "clips_per_s": log_clips / max(now - log_t, 1e-9),
                                       "elapsed_s": self.elapsed()})
                log_t, log_clips = now, 0
            self.logger.step(1, loss=self.last_loss, lr=lr_now, epoch=self.epoch)
            if (cfg.val_every and self.step % cfg.val_every == 0) or ended_epoch or stop_reason:
                self.validate()
            if self.step % cfg.checkpoint_every == 0 or ended_epoch or stop_reason:
                self.save("last", checkpoint_dir(self.run_dir) / "last.pt")
            if cfg.keep_every and self.step % cfg.keep_every == 0:
                self.save("step", checkpoint_dir(self.run_dir) / f"step_{self.step:08d}.pt")
            if self.on_step is not None:
                self.on_step(StepInfo(step=self.step, epoch=self.epoch, index=self.index, loss=float(self.last_loss),
                                      lr=float(lr_now), rank=self.info.rank, lifter=self.lifter))
        return self.finish(stop_reason)

    def finish(self, stop_reason: str) -> TrainResult:
        """The result (EMA weights swapped in, eval mode) and ``summary.json``."""
        info = self.info
        wall = time.monotonic() - self.t_start
        if self.ema is not None:  # the run's result is the averaged model, as in its checkpoints
            self.ema.swap_into(self.lifter)
        self.lifter.eval()
        invalidate_caches(self.lifter)
        files = checkpoint_files(self.run_dir)
        result = TrainResult(
            run_dir=self.run_dir, lifter=self.lifter, step=self.step, epoch=self.epoch, index=self.index,
            stop_reason=stop_reason, last_checkpoint=files["last"] if info.is_main else None,
            best_checkpoint=files["best"] if info.is_main else None, best_val_mpjpe_mm=self.best_metric,
            final_loss=self.last_loss, wall_s=wall, total_wall_s=self.prev_elapsed + wall,
            resumed_from=self.ckpt_path, notes=self.notes,
        )
        if info.is_main:
            write_json(self.run_dir / "summary.json", {
                "step": self.step, "epoch": self.epoch, "index": self.index, "stop_reason": stop_reason,
                "final_loss": self.last_loss, "best_val_mpjpe_mm": self.best_metric, "best_step": self.best_step,
                "wall_s": round(wall, 1), "total_wall_s": round(self.prev_elapsed + wall, 1),
                "resumed_from": None if self.ckpt_path is None else str(self.ckpt_path),
                "world_size": info.world_size, "device": str(self.dev), "amp": self.cfg.amp,
                "amp_used": self.amp_used, "notes": self.notes,
            })
            loss = self.last_loss if self.last_loss is None else round(self.last_loss, 5)
            best = "n/a" if self.best_metric is None else f"{self.best_metric:.1f} mm"
            self.logger.note(f"posediff train: stopped ({stop_reason}) at step {self.step}, epoch {self.epoch}; "
                             f"loss {loss} m; best validation MPJPE {best}; {wall:.0f} s")
        return result
