"""Bone lengths of a pose sequence: measure how much they vary, and hold them constant.

A lifter predicts every window's joints independently, so a limb's length can change from frame to frame
(a shin by several centimetres on detector output). :func:`bone_length_cv` measures that (coefficient of
variation of each bone over the sequence); :func:`hold_bone_lengths` removes it: every bone keeps its
direction and takes one length for the whole sequence (its median), the skeleton rebuilt from the root
outwards. The BVH export (:mod:`posediff.bvh`) does the same for its skeleton.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..errors import InputError
from .skeletons import Skeleton, get_skeleton

__all__ = ["bone_lengths", "bone_length_cv", "hold_bone_lengths"]


def _poses(poses: Any, sk: Skeleton) -> np.ndarray:
    x = np.asarray(poses, dtype=np.float64)
    if x.ndim < 3 or x.shape[-2:] != (sk.num_joints, 3):
        raise InputError(f"poses must have shape (..., T, {sk.num_joints}, 3) for skeleton {sk.name!r}; got {x.shape}")
    if not np.isfinite(x).all():
        raise InputError("poses contain NaN/Inf values")
    return x


def bone_lengths(poses: Any, skeleton: str | Skeleton = "h36m-17") -> np.ndarray:
    """Length of every bone (each joint but the root, in joint order), ``(..., T, J − 1)`` in the poses' units."""
    sk = get_skeleton(skeleton)
    x = _poses(poses, sk)
    kids = [k for k, p in enumerate(sk.parents) if p >= 0]
    par = [sk.parents[k] for k in kids]
    return np.linalg.norm(x[..., kids, :] - x[..., par, :], axis=-1)


def bone_length_cv(poses: Any, skeleton: str | Skeleton = "h36m-17") -> np.ndarray:
    """Coefficient of variation over the frames of each bone's length, ``(..., J − 1)`` (std / mean; 0 for a
    rigid skeleton). ``poses`` ``(..., T, J, 3)``."""
    lengths = bone_lengths(poses, skeleton)
    return lengths.std(axis=-2) / np.maximum(lengths.mean(axis=-2), 1e-12)


def hold_bone_lengths(poses: Any, skeleton: str | Skeleton = "h36m-17",
                      lengths: Optional[np.ndarray] = None) -> np.ndarray:
    """Every bone at one length for the whole sequence, its direction in each frame kept.

    Args:
        poses: ``(T, J, 3)`` (or ``(..., T, J, 3)``; each sequence on its own).
        skeleton: Joint set.
        lengths: ``(J − 1,)`` lengths to use (default each bone's median over the frames).

    Returns:
        Poses of the same shape and dtype float64; the root joint is where it was.
    """
    sk = get_skeleton(skeleton)
    x = _poses(poses, sk)
    kids = [k for k, p in enumerate(sk.parents) if p >= 0]
    target = np.median(bone_lengths(x, sk), axis=-2) if lengths is None else np.asarray(lengths, np.float64)
    if target.shape[-1] != len(kids):
        raise InputError(f"lengths must have {len(kids)} entries (one per bone); got shape {target.shape}")
    out = x.copy()
    for b, k in enumerate(kids):  # parents come before their children in every joint set of posediff
        p = sk.parents[k]
        bone = x[..., k, :] - x[..., p, :]
        norm = np.linalg.norm(bone, axis=-1, keepdims=True)
        length = target[..., b][..., None, None] if target.ndim > 1 else target[b]  # per sequence, or one
        out[..., k, :] = out[..., p, :] + bone / np.maximum(norm, 1e-12) * length
    return out
