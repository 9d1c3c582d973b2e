"""Covering a long sequence with the model's fixed-length windows, and blending their overlaps."""
from __future__ import annotations

import numpy as np

from ..errors import InputError


def window_plan(length: int, frames: int, overlap: int) -> np.ndarray:
    """Start frames of the windows covering ``length`` frames with windows of ``frames``.

    The fewest windows whose neighbours overlap by at least ``overlap`` frames, spread evenly from the
    first frame to the last (the first window starts at 0, the last ends at the last frame). A
    sequence no longer than a window gets one window starting at 0 (it is padded).

    Returns:
        ``(n,)`` int64 start frames.
    """
    if length < 1 or frames < 1:
        raise InputError(f"length and frames must be >= 1; got length={length}, frames={frames}")
    if not 0 <= overlap < frames:
        raise InputError(f"overlap must be in [0, {frames - 1}] for a {frames}-frame window; got {overlap}")
    if length <= frames:
        return np.zeros(1, dtype=np.int64)
    n = 1 + -(-(length - frames) // (frames - overlap))  # ceil((length - overlap) / stride)
    starts = np.floor(np.linspace(0, length - frames, n) + 0.5).astype(np.int64)
    return np.unique(starts)


def blend_weights(starts: np.ndarray, frames: int, length: int) -> np.ndarray:
    """Linear cross-fade weights ``(n, F)`` of the windows of :func:`window_plan`.

    Over the overlap of two neighbouring windows (``o`` frames) the earlier window's weight falls as
    ``(o − k)/(o + 1)`` while the later one's rises as ``(k + 1)/(o + 1)`` (``k = 0 … o−1``), so the
    two sum to 1; elsewhere a window has weight 1. Frames past the end (padding) get weight 0. When
    more than two windows cover a frame (overlap above half a window) the ramps are divided by their
    sum, so the weights of every frame always sum to 1.
    """
    starts = np.asarray(starts, dtype=np.int64)
    n = len(starts)
    i = np.arange(frames, dtype=np.float64)
    w = np.ones((n, frames))
    for a in range(n):
        if a > 0:
            o = int(starts[a - 1] + frames - starts[a])
            if o > 0:
                w[a] = np.minimum(w[a], np.where(i < o, (i + 1) / (o + 1), 1.0))
        if a < n - 1:
            o = int(starts[a] + frames - starts[a + 1])
            if o > 0:
                w[a] = np.minimum(w[a], np.where(i >= frames - o, (frames - i) / (o + 1), 1.0))
    frame = starts[:, None] + i[None].astype(np.int64)
    w[frame >= length] = 0.0
    tot = np.zeros(length)
    np.add.at(tot, frame[frame < length], w[frame < length])
    return np.where(frame < length, w / tot[np.clip(frame, 0, length - 1)], 0.0)
