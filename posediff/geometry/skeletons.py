"""Joint sets: names, parents, left/right lists, flipping and conversion between sets.

Two 17-joint sets are built in:

* ``"h36m-17"`` — Human3.6M order after VideoPose3D's joint removal (reference §1.2); root = 0.
* ``"3dhp-17"`` — MPI-INF-3DHP "relevant" order (reference §1.9); root = 14 (pelvis).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import InputError

__all__ = ["Skeleton", "SKELETONS", "get_skeleton", "flip_pose", "convert_joints"]


@dataclass(frozen=True)
class Skeleton:
    """A named joint set.

    Attributes:
        name: Registered name, e.g. ``"h36m-17"``.
        joints: Joint names in order.
        parents: Parent index per joint (-1 for the root).
        left: Indices of left-side joints; ``left[i]`` mirrors ``right[i]``.
        right: Indices of right-side joints.
        root: Index of the root joint (pelvis).
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    root: int = 0
    _flip_perm: tuple[int, ...] = field(default=(), repr=False, compare=False)

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return len(self.joints)

    @property
    def flip_permutation(self) -> list[int]:
        """Index list ``p`` such that ``flipped[..., j, :] = pose[..., p[j], :]`` swaps left and right."""
        perm = list(range(self.num_joints))
        for a, b in zip(self.left, self.right):
            perm[a], perm[b] = b, a
        return perm

    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) pairs for drawing."""
        return [(p, c) for c, p in enumerate(self.parents) if p >= 0]


_H36M = Skeleton(
    name="h36m-17",
    joints=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "spine", "thorax", "neck", "head", "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left=(4, 5, 6, 11, 12, 13),
    right=(1, 2, 3, 14, 15, 16),
    root=0,
)

_3DHP = Skeleton(
    name="3dhp-17",
    joints=(
        "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
        "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
        "left_knee", "left_ankle", "pelvis", "spine", "head",
    ),
    parents=(16, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
    left=(5, 6, 7, 11, 12, 13),
    right=(2, 3, 4, 8, 9, 10),
    root=14,
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (_H36M, _3DHP)}
"""Built-in joint sets by name."""

# h36m index -> 3dhp index with the same meaning (thorax~neck, neck/nose~head, head~head_top).
_H36M_FROM_3DHP = [14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]


def get_skeleton(name: str | Skeleton) -> Skeleton:
    """Look up a joint set by name (or pass a :class:`Skeleton` through).

    Raises:
        InputError: unknown name (the message lists the known ones).
    """
    if isinstance(name, Skeleton):
        return name
    try:
        return SKELETONS[name]
    except KeyError:
        raise InputError(
            f"unknown skeleton {name!r}; expected one of {', '.join(sorted(SKELETONS))}"
        ) from None


def flip_pose(x, skeleton: str | Skeleton = "h36m-17"):
    """Mirror poses horizontally: negate the first coordinate and swap left/right joints.

    Works for 2D ``(..., J, 2)`` and 3D ``(..., J, 3)``, numpy or torch; returns a new array.
    """
    sk = get_skeleton(skeleton)
    perm = sk.flip_permutation
    if isinstance(x, torch.Tensor):
        out = x[..., perm, :].clone()
    else:
        out = np.array(x)[..., perm, :].copy()
    out[..., 0] = -out[..., 0]
    return out


def convert_joints(x, source: str | Skeleton, target: str | Skeleton):
    """Reorder joints ``(..., J, D)`` from one 17-joint set to another (h36m-17 ↔ 3dhp-17).

    The correspondence is the conventional one (3DHP neck ↔ H36M thorax, 3DHP head ↔ H36M
    neck/nose, 3DHP head_top ↔ H36M head).
    """
    src, dst = get_skeleton(source), get_skeleton(target)
    if x.shape[-2] != src.num_joints:
        raise InputError(
            f"x must have {src.num_joints} joints for skeleton {src.name!r}; got shape {tuple(x.shape)}"
        )
    if src.name == dst.name:
        return x
    if (src.name, dst.name) == ("3dhp-17", "h36m-17"):
        idx = _H36M_FROM_3DHP
    elif (src.name, dst.name) == ("h36m-17", "3dhp-17"):
        idx = [_H36M_FROM_3DHP.index(j) for j in range(17)]
    else:  # pragma: no cover - only two sets are built in
        raise InputError(f"no conversion from {src.name!r} to {dst.name!r}")
    return x[..., idx, :]
