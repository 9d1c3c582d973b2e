"""Validation during training (H = 1, M = 1 on held-out windows) and the small run helpers the trainer uses."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from .config import BUDGET_FIELDS, CORE_FIELDS, TrainConfig

__all__ = ["validation_mpjpe", "val_windows", "invalidate_caches", "set_train_mode", "seed_all", "dropout_mask",
           "merge_config", "build_lifter", "write_json", "LossModule", "unused_parameters", "REGRESSION_SAMPLING",
           "with_regression_sampling"]


class LossModule(nn.Module):
    """Wraps the lifter so DistributedDataParallel sees the training loss as ``forward``.

    ``objective``: ``"x0"`` (the diffusion objective, a random step per clip) or ``"regression"`` (every clip
    at the last step ``T - 1``: the deterministic baseline of the same backbone, see :class:`TrainConfig`).
    """

    def __init__(self, lifter: nn.Module, objective: str = "x0") -> None:
        super().__init__()
        self.lifter = lifter
        self.step = None if objective == "x0" else int(lifter.sampler.schedule.timesteps) - 1

    def forward(self, x2d, y3d, actions, generator):  # noqa: D401 - nn.Module API
        """The training loss of the wrapped lifter (metres)."""
        return self.lifter.training_loss(x2d, y3d, actions=actions, generator=generator, step=self.step)


def invalidate_caches(module: nn.Module) -> int:
    """Drop every cached prompt feature of a model (call whenever weights changed).

    Calls the ``clear_cache()`` hook of every component in it (a no-op for components without a cache).
    Returns how many components were asked.
    """
    from ..interfaces import Component

    n = 0
    for m in module.modules():
        if isinstance(m, Component):
            m.clear_cache()
            n += 1
    return n


def set_train_mode(lifter: nn.Module) -> None:
    """Train mode for the trainable parts; modules without any trainable parameter (frozen text towers)
    stay in eval mode so they behave exactly as at inference."""
    lifter.train()
    for m in lifter.modules():
        params = list(m.parameters(recurse=True))
        if params and not any(p.requires_grad for p in params):
            m.eval()


def seed_all(seed: int) -> None:
    """Seed python, numpy and torch global generators with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)




def dropout_mask(seed: int, epoch: int, positions: np.ndarray, p: float) -> np.ndarray:
    """Per-clip label dropout decisions, a pure function of (seed, epoch, position in the epoch)."""
    if p <= 0:
        return np.zeros(len(positions), dtype=bool)
    return np.array([np.random.default_rng([seed, 7, epoch, int(q)]).random() < p for q in positions], dtype=bool)


def val_windows(dataset, frames: int, limit: int, labels: Optional[Mapping[str, Optional[str]]]) -> list[dict]:
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
        set_train_mode(lifter)
    return 1000.0 * num / max(den, 1e-12)


def merge_config(stored: Mapping[str, Any], given: TrainConfig, explicit: set[str], notes: list[str]) -> TrainConfig:
    """A resumed run's stored settings, with the budget settings the caller set explicitly (the core settings
    are kept, with a note)."""
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


REGRESSION_SAMPLING = {"sampler.steps": 1, "sampler.hypotheses": 1}
"""The sampling a model trained with ``objective="regression"`` is built with: it has seen only the last step,
so one step from noise is its prediction (more steps would feed it inputs it never saw)."""


def with_regression_sampling(overrides: Any) -> tuple[Any, list[str]]:
    """``overrides`` plus :data:`REGRESSION_SAMPLING` for the keys they do not set, and a note of what was set.

    Args:
        overrides: ``None``, a dict (``{"sampler.steps": 5}``) or ``"key=value"`` strings.
    """
    if isinstance(overrides, Mapping):
        given = set(overrides)
    else:
        given = {str(o).split("=", 1)[0].strip() for o in (overrides or ())}
    added = {k: v for k, v in REGRESSION_SAMPLING.items() if k not in given}
    if not added:
        return overrides, []
    if isinstance(overrides, Mapping):
        merged: Any = {**overrides, **added}
    else:
        merged = list(overrides or ()) + [f"{k}={v}" for k, v in added.items()]
    note = ("objective 'regression': the model's spec samples with "
            + ", ".join(f"{k.split('.', 1)[1]}={v}" for k, v in added.items())
            + " (it is trained at the last step only)")
    return merged, [note]


def build_lifter(spec: Any, overrides: Any):
    """The model of a new run: a built PoseLifter as is, else built from a preset, spec file or dict."""
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


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def unused_parameters(lifter: nn.Module, x2d: torch.Tensor, y3d: torch.Tensor, action: Optional[str]) -> list[str]:
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
