"""Learning-rate schedules as pure functions of the optimizer step (so a resumed run needs no state).

* ``"exponential"``: the official recipe, ``lr · decay^epoch`` (applied by an epoch-level scheduler in the
  loop, not here).
* ``"cosine"``: linear warm-up from ``lr / warmup_steps`` to ``lr`` over ``warmup_steps`` steps, then a
  half cosine from ``lr`` down to ``lr · final_ratio`` at ``total_steps``; constant after.
"""
from __future__ import annotations

import math

__all__ = ["cosine_lr"]


def cosine_lr(step: int, lr: float, total_steps: int, warmup_steps: int = 0, final_ratio: float = 0.0) -> float:
    """Learning rate of optimizer step ``step`` (0-based: the rate the step ``step + 1`` uses).

    Args:
        step: Steps already done.
        lr: Peak learning rate.
        total_steps: Length of the schedule (warm-up included), ≥ 1.
        warmup_steps: Linear warm-up steps (0 = none).
        final_ratio: Final learning rate as a fraction of ``lr``.

    Example:
        >>> round(cosine_lr(0, 1e-3, 100, warmup_steps=10), 6)
        0.0001
        >>> cosine_lr(10, 1e-3, 100, warmup_steps=10)
        0.001
        >>> cosine_lr(100, 1e-3, 100, warmup_steps=10)
        0.0
    """
    if warmup_steps > 0 and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, max(0.0, (step - warmup_steps) / span))
    floor = lr * final_ratio
    return floor + (lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
