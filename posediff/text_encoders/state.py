"""Filling a frozen text tower with checkpoint tensors (shared by the encoders that load weights)."""
from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from ..errors import CheckpointError

__all__ = ["copy_state"]


def copy_state(module: nn.Module, state: Mapping[str, Tensor], what: str) -> None:
    """Copy ``state[k]`` into every tensor ``k`` of ``module`` (cast to its dtype), after checking shapes.

    The caller has checked that the keys match. ``what`` names the two sides in the error
    (e.g. ``"checkpoint vs encoder"``).

    Raises:
        CheckpointError: a tensor whose shape differs from the module's.
    """
    own = module.state_dict(keep_vars=True)
    bad = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items() if state[k].shape != v.shape]
    if bad:
        raise CheckpointError(f"weights: shape mismatch ({what}): {'; '.join(bad[:5])}")
    with torch.no_grad():
        for k, v in own.items():
            v.copy_(state[k].to(v.dtype))
