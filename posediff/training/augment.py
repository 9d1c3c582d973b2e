"""2D input augmentation for training: detector-like noise and dropped joints.

Both act on a batch of normalised 2D clips ``(B, T, J, 2)`` (screen coordinates scaled so that the image
width spans 2, i.e. one pixel of a 1000-pixel-wide Human3.6M image is 0.002) and draw every random number
from the generator they are given, so a training run that stores that generator's state resumes bit for bit.

* :func:`add_keypoint_noise` adds Gaussian noise whose standard deviation is drawn per clip, uniformly in
  ``[0, max_std]``: the model sees clean and noisy inputs in one run.
* :func:`drop_joints` marks joint-frames as missing and fills them exactly as inference fills missing
  detections (:func:`posediff.data.formats.interpolate_missing`: linear interpolation in time, the nearest
  observed frame at the ends), so training sees the inputs that ``posediff lift`` produces from keypoints
  with dropped joints.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

__all__ = ["add_keypoint_noise", "drop_joints", "fill_missing_in_time"]


def add_keypoint_noise(x2d: Tensor, max_std: float, generator: Optional[torch.Generator] = None) -> Tensor:
    """``x2d + σ_b·ε`` with ``σ_b ~ U[0, max_std]`` per clip and ``ε ~ N(0, 1)``.

    Args:
        x2d: ``(B, T, J, 2)`` normalised screen coordinates.
        max_std: Largest per-clip standard deviation (normalised units; 0 returns ``x2d`` unchanged).
        generator: CPU generator of the draws.

    Returns:
        A new ``(B, T, J, 2)`` tensor (same dtype and device as ``x2d``).
    """
    if max_std <= 0:
        return x2d
    b = x2d.shape[0]
    std = torch.rand(b, generator=generator) * float(max_std)
    eps = torch.randn(x2d.shape, generator=generator)
    return x2d + (eps * std.view(b, 1, 1, 1)).to(device=x2d.device, dtype=x2d.dtype)


def fill_missing_in_time(x2d: Tensor, observed: Tensor) -> Tensor:
    """Fill unobserved entries by linear interpolation in time, per clip and joint (vectorised).

    Same rule as :func:`posediff.data.formats.interpolate_missing`: between two observed frames the value
    is interpolated linearly; before the first (after the last) observed frame the first (last) observed
    value is repeated. A joint never observed in a clip keeps its input values.

    Args:
        x2d: ``(B, T, J, D)`` values.
        observed: ``(B, T, J)`` bool, True where the value is observed.

    Returns:
        ``(B, T, J, D)`` with every unobserved entry filled.
    """
    b, t, j, _ = x2d.shape
    frames = torch.arange(t, device=x2d.device).view(1, t, 1).expand(b, t, j)
    prev_idx = torch.where(observed, frames, torch.full_like(frames, -1)).cummax(dim=1).values
    rev = torch.where(observed.flip(1), frames, torch.full_like(frames, -1)).cummax(dim=1).values.flip(1)
    next_idx = torch.where(rev >= 0, (t - 1) - rev, torch.full_like(rev, -1))
    never = ~observed.any(dim=1, keepdim=True).expand(b, t, j)
    has_prev, has_next = prev_idx >= 0, next_idx >= 0
    lo = torch.where(has_prev, prev_idx, next_idx).clamp(min=0)
    hi = torch.where(has_next, next_idx, prev_idx).clamp(min=0)
    gather = lambda idx: torch.gather(x2d, 1, idx.unsqueeze(-1).expand_as(x2d))  # noqa: E731
    v_lo, v_hi = gather(lo), gather(hi)
    span = (hi - lo).clamp(min=1).to(x2d.dtype)
    w = ((frames - lo).to(x2d.dtype) / span).clamp(0, 1).unsqueeze(-1)
    filled = v_lo + (v_hi - v_lo) * w
    keep = (observed | never).unsqueeze(-1)
    return torch.where(keep, x2d, filled)


def drop_joints(x2d: Tensor, p: float, generator: Optional[torch.Generator] = None) -> Tensor:
    """Drop each joint-frame with probability ``p`` and fill it by interpolation in time.

    Args:
        x2d: ``(B, T, J, 2)`` normalised screen coordinates.
        p: Drop probability per joint and frame, in ``[0, 1)`` (0 returns ``x2d`` unchanged).
        generator: CPU generator of the draws.

    Returns:
        A ``(B, T, J, 2)`` tensor: observed entries unchanged, dropped ones interpolated.
    """
    if p <= 0:
        return x2d
    observed = (torch.rand(x2d.shape[:3], generator=generator) >= float(p)).to(x2d.device)
    return fill_missing_in_time(x2d, observed)
