"""Initial weights from a model trained with another clip length (``posediff train --init``).

A MixSTE lifter's only tensor sized by its receptive field is the temporal positional embedding
``(1, T, C)`` (each backbone names such tensors in :attr:`posediff.interfaces.Backbone.frame_parameters`).
Everything else (spatial and temporal attention, MLPs, conditioning, head) is shared by every clip length,
so a long-window model can start from what a short-window one learned: the embedding is resampled to the new
length by linear interpolation over normalised time (the first and last frames keep their vectors, the
frames between read the old embedding at the same relative position), the rest is copied unchanged.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..checkpoints import load_state_into, read_checkpoint, state_dict_of
from ..errors import CheckpointError

__all__ = ["resample_frames", "load_init_weights"]


def resample_frames(embedding: torch.Tensor, frames: int) -> torch.Tensor:
    """Resample a per-frame tensor ``(1, T_old, C)`` to ``(1, frames, C)`` (linear, ends aligned).

    ``frames == T_old`` returns an equal copy; ``frames == 1`` takes the middle of the old embedding (the
    value at relative position 0.5). The dtype is kept (interpolation runs in fp32).

    Example:
        >>> e = torch.arange(3.0).view(1, 3, 1)
        >>> resample_frames(e, 5).flatten().tolist()
        [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    if embedding.ndim != 3:
        raise CheckpointError(f"a per-frame tensor must be (1, T, C); got shape {tuple(embedding.shape)}")
    if frames < 1:
        raise CheckpointError(f"frames must be >= 1; got {frames}")
    old = embedding.shape[1]
    if old == frames:
        return embedding.clone()
    src = embedding.float().transpose(1, 2)                          # (1, C, T_old)
    if frames == 1:
        x = 0.5 * (old - 1)                                          # the middle of the old window
        lo, w = int(x), x - int(x)
        out = src[..., lo:lo + 1] * (1 - w) + src[..., min(lo + 1, old - 1):min(lo + 1, old - 1) + 1] * w
    else:
        out = F.interpolate(src, size=frames, mode="linear", align_corners=True)
    return out.transpose(1, 2).to(embedding.dtype).contiguous()


def load_init_weights(lifter: Any, path: str | Path) -> list[str]:
    """Load a posediff checkpoint into ``lifter``, resampling its per-frame tensors to the lifter's length.

    Args:
        lifter: The model to initialise (built from the spec being trained).
        path: A posediff checkpoint or shipped weights file.

    Returns:
        Notes to show the user (one per resampled tensor; empty when the lengths agree).

    Raises:
        CheckpointError: unreadable file, or tensors that differ in anything but their frame axis.
    """
    data = dict(read_checkpoint(path))
    state = dict(state_dict_of(data, path))
    own = lifter.state_dict()
    notes = []
    for name in lifter.backbone.frame_parameters:
        key = f"backbone.{name}"
        if key not in state or key not in own:
            continue
        src, dst = state[key], own[key]
        if tuple(src.shape) == tuple(dst.shape):
            continue
        if src.ndim != 3 or dst.ndim != 3 or src.shape[0] != dst.shape[0] or src.shape[2] != dst.shape[2]:
            raise CheckpointError(f"checkpoint {str(path)!r}: {key} {tuple(src.shape)} cannot be resampled to the "
                                  f"model's {tuple(dst.shape)} (only the frame axis, 1, may differ)")
        state[key] = resample_frames(src, dst.shape[1])
        notes.append(f"--init: {key} resampled from {src.shape[1]} to {dst.shape[1]} frames (linear in time)")
    data["state_dict"] = state
    load_state_into(lifter, path, data=data)
    return notes
