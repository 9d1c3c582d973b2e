"""Exponential moving average of a model's weights (the weights a CPU-budget run ships).

``ema ← decay·ema + (1 − decay)·θ`` after every optimizer step, with the usual warm-up of the decay
(``min(decay, (1 + n) / (10 + n))`` after ``n`` updates) so early averages are not dominated by the random
initialisation. Buffers (e.g. normalisation statistics) are copied, not averaged; frozen parameters (a frozen
text tower) never change during training, so the shadow keeps its initial copy and updates skip them.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

__all__ = ["WeightEMA"]


class WeightEMA:
    """Shadow copy of a model's floating-point state, updated after each optimizer step.

    Args:
        model: The model being trained.
        decay: Target decay in ``(0, 1)``, e.g. 0.999.

    Example:
        >>> m = nn.Linear(2, 2)
        >>> ema = WeightEMA(m, 0.9)
        >>> ema.update(m); ema.updates
        1
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1); got {decay!r}")
        self.decay = float(decay)
        self.updates = 0
        self.shadow: dict[str, Tensor] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        self._buffers = {n for n, _ in model.named_buffers()} & set(self.shadow)

    def current_decay(self) -> float:
        """The decay of the next update (warmed up)."""
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the shadow towards the model's current weights."""
        d = self.current_decay()
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if k in self._trainable and s.is_floating_point():
                s.lerp_(v.detach().to(s.dtype), 1.0 - d)
            elif k in self._buffers:
                s.copy_(v.detach())
        self.updates += 1

    def state_dict(self) -> dict[str, Tensor]:
        """The averaged weights (a model ``state_dict``), detached CPU copies."""
        return {k: v.detach().cpu().clone() for k, v in self.shadow.items()}

    def load(self, state: Mapping[str, Tensor], updates: int) -> None:
        """Restore the shadow weights and the update count (resume)."""
        missing = set(self.shadow) - set(state)
        if missing:
            raise KeyError(f"EMA state lacks {sorted(missing)[:5]}")
        for k in self.shadow:
            self.shadow[k].copy_(state[k].to(self.shadow[k].device, self.shadow[k].dtype))
        self.updates = int(updates)

    @torch.no_grad()
    def swap_into(self, model: nn.Module) -> dict[str, Tensor]:
        """Load the averaged weights into ``model``; returns the model's own weights to restore later."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow, strict=True)
        return own
