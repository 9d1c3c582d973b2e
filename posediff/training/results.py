"""What a training run reports: :class:`StepInfo` after every step, :class:`TrainResult` at the end."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from torch import nn

__all__ = ["StepInfo", "TrainResult"]


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
