"""Detector-like 2D keypoints made from motion-capture sequences, for honest "own keypoints" figures.

A 2D detector gives a user COCO-17 keypoints in pixels with a few pixels of noise and some joints missing
(low confidence). :func:`detector_like_keypoints` makes exactly that from a posediff
:class:`~posediff.data.Sequence` whose ``x2d`` is the ground-truth projection (Human3.6M, 3DHP): the COCO-17
joints are taken from the matching Human3.6M joints (eyes and ears from the head joint, the nose from the
neck/nose joint), converted to pixels, perturbed by Gaussian noise and given confidence 0 where dropped.
Lifting the result with ``format="coco17"`` then goes through the same conversion (pelvis, spine and thorax
synthesised from hips and shoulders) as a real detector's output.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..geometry.cameras import image_coordinates
from .sample import Sequence

__all__ = ["H36M_TO_COCO17", "detector_like_keypoints"]

H36M_TO_COCO17: tuple[int, ...] = (9, 10, 10, 10, 10, 11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3)
"""For each COCO-17 joint (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles; left before
right), the Human3.6M-17 joint it is taken from."""


def detector_like_keypoints(seq: Sequence, noise_px: float = 3.0, drop: float = 0.03, seed: int = 0,
                            start: int = 0, frames: int | None = None) -> np.ndarray:
    """COCO-17 pixel keypoints with confidence, ``(T, 17, 3)``, from a sequence's ground-truth 2D.

    Args:
        seq: A Human3.6M-17 sequence with ``image_size`` (its ``x2d`` in normalised screen coordinates).
        noise_px: Standard deviation of the Gaussian noise, pixels.
        drop: Probability that a joint-frame is dropped (confidence 0; its coordinates stay, noisy).
        seed: Seed of the noise and the drops.
        start, frames: The frame range ``[start, start + frames)`` (default: to the end).

    Returns:
        ``(T, 17, 3)`` float64: x, y in pixels and a confidence of 1 (kept) or 0 (dropped).

    Raises:
        InputError: wrong skeleton, no image size, or an empty frame range.
    """
    if seq.skeleton != "h36m-17":
        raise InputError(f"seq must use the h36m-17 skeleton; got {seq.skeleton!r}")
    if seq.image_size is None:
        raise InputError(f"seq {seq.subject} {seq.action!r} has no image_size: pixels cannot be made")
    end = seq.num_frames if frames is None else start + int(frames)
    if not 0 <= start < end <= seq.num_frames:
        raise InputError(f"frame range [{start}, {end}) must lie inside the sequence's {seq.num_frames} frames")
    w, h = seq.image_size
    px = np.asarray(image_coordinates(np.asarray(seq.x2d[start:end], dtype=np.float64), w, h))
    coco = px[:, list(H36M_TO_COCO17)]
    rng = np.random.default_rng(seed)
    coco = coco + rng.normal(0.0, float(noise_px), coco.shape)
    conf = (rng.random(coco.shape[:2]) >= float(drop)).astype(np.float64)
    return np.concatenate([coco, conf[..., None]], axis=-1)
