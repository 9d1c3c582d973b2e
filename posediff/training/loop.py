"""The training entry point (:func:`train`): official x0 objective, AdamW, per-epoch lr decay, exact resume, DDP.

Determinism contract (what makes ``--resume`` exact): the clip order of an epoch is a pure function of
``(shuffle_seed, epoch)`` (:func:`posediff.data.clips.epoch_permutation`), the position inside it is
stored, the diffusion noise comes from a dedicated ``torch.Generator`` whose state is stored, and the
global python/numpy/torch states (stochastic depth, dropout) of every process are stored too. A run
that is killed and resumed therefore replays the same steps bit for bit (on the same device and
PyTorch build) and ends with the same weights as an uninterrupted run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from . import distributed as D
from .config import TrainConfig
from .results import StepInfo, TrainResult
from .trainer import Trainer
from .validation import invalidate_caches, validation_mpjpe

__all__ = ["train", "TrainResult", "StepInfo", "validation_mpjpe", "invalidate_caches"]


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
    cfg = config if config is not None else TrainConfig()
    explicit = set(settings)
    if data is not None:
        settings["data"] = data
        explicit.add("data")
    if config is not None:
        explicit |= {k for k, v in config.to_dict().items() if v != getattr(TrainConfig(), k)}
    cfg = cfg.replace(**settings) if settings else cfg
    info = D.setup(cfg.device)
    trainer = Trainer(cfg, explicit, Path(out), info, on_step)
    clean_exit = False
    try:
        trainer.setup_model(spec, overrides, resume, init_weights)
        trainer.setup_data()
        trainer.setup_optimisation()
        trainer.setup_loss()
        trainer.setup_files()
        result = trainer.run()
        clean_exit = True
        return result
    finally:
        if trainer.logger is not None:
            trainer.logger.close()
        D.teardown(info, clean=clean_exit)
