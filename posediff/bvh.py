"""BVH export: joint rotations solved from lifted 3D joints, with every bone's length held constant.

A lifter returns joint *positions*; animation tools (Blender, Maya, MotionBuilder, Unity, Unreal) take a
skeleton of fixed bone lengths driven by joint *rotations*. :func:`solve_motion` turns a ``(T, J, 3)``
sequence into that form and :func:`write_bvh` writes it as a BVH file:

* **Bone lengths**: the median over the clip of each bone's length; the skeleton never stretches.
* **Rest pose**: a T-pose (legs and spine straight up and down, arms out sideways) with those lengths, the
  pelvis and the shoulder girdle in the clip's median shape; the BVH ``OFFSET`` of each joint is its bone in
  the rest pose.
* **Rotations**: per frame, each joint's rotation turns its rest-pose bone to the bone of the frame, as the
  smallest rotation from the parent's frame (the twist about a bone cannot be seen in 17 joints and is left
  at zero). A joint with several children (pelvis, thorax) turns by the least-squares rotation of all of
  them (Kabsch), and each of its bones hangs from a zero-length joint of its own (``thorax_to_neck``, …) that
  takes up what the group's single rotation cannot, so a bone's direction is reproduced exactly. The root
  also carries the frame's root position.
* **Axes**: posediff's camera space (x right, y down, z forward) becomes the usual BVH convention, y up and
  z towards the viewer (a half turn about x); units centimetres by default.
* **Channels**: the root ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``, every other joint
  ``Zrotation Xrotation Yrotation`` (R = Rz·Rx·Ry, degrees), the order most importers expect.

:func:`read_bvh` and :func:`bvh_positions` read such a file back and run its forward kinematics, so that a
round trip can be measured: every bone's direction is reproduced exactly, so the only difference from the
input is each bone's length held at its median (the price of a skeleton that does not stretch).

Size: small; one job (BVH out and back).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, InputError
from .geometry.bones import bone_lengths
from .geometry.skeletons import Skeleton, get_skeleton

__all__ = ["Motion", "solve_motion", "write_bvh", "read_bvh", "bvh_positions", "CAMERA_TO_BVH"]

CAMERA_TO_BVH = np.diag([1.0, -1.0, -1.0])
"""posediff camera space (x right, y down, z forward) → BVH axes (x right, y up, z towards the viewer)."""

_REST_DIRECTION = {  # direction of each joint's bone (from its parent) in the T-pose, BVH axes
    "right_hip": (-1, 0, 0), "right_knee": (0, -1, 0), "right_ankle": (0, -1, 0),
    "left_hip": (1, 0, 0), "left_knee": (0, -1, 0), "left_ankle": (0, -1, 0),
    "spine": (0, 1, 0), "thorax": (0, 1, 0), "neck": (0, 1, 0), "head": (0, 1, 0),
    "left_shoulder": (1, 0, 0), "left_elbow": (1, 0, 0), "left_wrist": (1, 0, 0),
    "right_shoulder": (-1, 0, 0), "right_elbow": (-1, 0, 0), "right_wrist": (-1, 0, 0),
}


@dataclass
class Motion:
    """A skeleton of fixed bone lengths driven by joint rotations (BVH axes, metres).

    Attributes:
        names: Joint names: the joint set's, plus one zero-length joint per bone of a joint with several
            children (``pelvis_to_spine``, ``thorax_to_left_shoulder``, …).
        parents: Parent index of each joint (-1 for the root).
        offsets: ``(J, 3)`` each joint's bone in the rest pose (the root's is zero).
        root: ``(T, 3)`` root position per frame.
        rotations: ``(T, J, 3, 3)`` local rotation of each joint (relative to its parent's frame).
        fps: Frames per second.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    root: np.ndarray
    rotations: np.ndarray
    fps: float

    def positions(self) -> np.ndarray:
        """Forward kinematics: ``(T, J, 3)`` joint positions (BVH axes, metres)."""
        return _forward(self.parents, self.offsets, self.root, self.rotations)


def _forward(parents, offsets: np.ndarray, root: np.ndarray, local: np.ndarray) -> np.ndarray:
    t, j = local.shape[:2]
    glob = np.zeros_like(local)
    pos = np.zeros((t, j, 3))
    for k, p in enumerate(parents):
        if p < 0:
            glob[:, k] = local[:, k]
            pos[:, k] = root
        else:
            glob[:, k] = glob[:, p] @ local[:, k]
            pos[:, k] = pos[:, p] + np.einsum("tij,j->ti", glob[:, p], offsets[k])
    return pos


def _children(parents) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in parents]
    for k, p in enumerate(parents):
        if p >= 0:
            out[p].append(k)
    return out


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations turning unit vectors ``a (T, 3)`` into ``b (T, 3)`` → ``(T, 3, 3)`` (Rodrigues)."""
    v = np.cross(a, b)
    c = np.einsum("ti,ti->t", a, b)
    vx = np.zeros((len(a), 3, 3))
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    vx = vx - vx.transpose(0, 2, 1)
    out = np.eye(3) + vx + (vx @ vx) / (1.0 + c)[:, None, None].clip(min=1e-9)
    opposite = c < -1 + 1e-9  # a half turn: about any axis orthogonal to a
    if opposite.any():
        axis = np.cross(a[opposite], np.array([1.0, 0.0, 0.0]))
        small = np.linalg.norm(axis, axis=-1) < 1e-6
        axis[small] = np.cross(a[opposite][small], np.array([0.0, 1.0, 0.0]))
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        out[opposite] = 2 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    return out


def _kabsch(rest: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Rotations ``(T, 3, 3)`` minimising Σ‖R·rest_k − cur_k‖² for rest ``(K, 3)`` and cur ``(T, K, 3)``."""
    h = np.einsum("ki,tkj->tij", rest, cur)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.transpose(0, 2, 1) @ u.transpose(0, 2, 1)))
    fix = np.ones((len(cur), 3))
    fix[:, -1] = np.where(d == 0, 1.0, d)
    return (vt.transpose(0, 2, 1) * fix[:, None, :]) @ u.transpose(0, 2, 1)


def solve_motion(poses: Any, skeleton: str | Skeleton = "h36m-17", fps: float = 50.0) -> Motion:
    """Joint rotations and constant bone lengths from a joint-position sequence (see the module docstring).

    Args:
        poses: ``(T, J, 3)`` metres in posediff's camera space (root-relative or with the root trajectory).
        skeleton: Joint set; its bones must have rest directions (``h36m-17``).
        fps: Frames per second of the sequence.

    Returns:
        A :class:`Motion` in BVH axes.

    Raises:
        InputError: wrong shape, NaN/Inf values, an unsupported joint set, fps <= 0.
    """
    sk = get_skeleton(skeleton)
    x = np.asarray(poses, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (sk.num_joints, 3) or x.shape[0] < 1:
        raise InputError(f"poses must have shape (T, {sk.num_joints}, 3) for skeleton {sk.name!r}; got {x.shape}")
    if not np.isfinite(x).all():
        raise InputError("poses contain NaN/Inf values; fill or drop those frames before exporting")
    if not fps > 0:
        raise InputError(f"fps must be > 0; got {fps}")
    missing = [n for n, p in zip(sk.joints, sk.parents) if p >= 0 and n not in _REST_DIRECTION]
    if missing:
        raise InputError(f"BVH export knows the rest pose of h36m-17; skeleton {sk.name!r} has joints {missing} "
                         "without one (convert the poses to h36m-17 first)")
    x = x @ CAMERA_TO_BVH.T
    kids = _children(sk.parents)
    bones = [k for k, p in enumerate(sk.parents) if p >= 0]  # bone_lengths' order: each joint but the root
    length = dict(zip(bones, np.median(bone_lengths(x, sk), axis=0).tolist()))
    # the BVH skeleton: every joint of the set, and where a joint has several children (pelvis, thorax) one
    # zero-length joint per child, so that each bone turns on its own
    names: list[str] = []
    parents: list[int] = []
    source: list[int] = []  # the joint of the set each BVH joint sits at
    bone_of: dict[int, int] = {}  # BVH joint → the joint of the set at the end of its bone (its one child)

    def add(k: int, parent: int) -> None:
        e = len(names)
        names.append(sk.joints[k])
        parents.append(parent)
        source.append(k)
        if len(kids[k]) > 1:
            for c in kids[k]:
                v = len(names)
                names.append(f"{sk.joints[k]}_to_{sk.joints[c]}")
                parents.append(e)
                source.append(k)
                bone_of[v] = c
                add(c, v)
        else:
            for c in kids[k]:
                bone_of[e] = c
                add(c, e)

    add(sk.root, -1)
    n = len(names)
    offsets = np.zeros((n, 3))
    for e, k in enumerate(source):
        if parents[e] >= 0 and source[parents[e]] != k:  # a real bone, from the joint it hangs from
            offsets[e] = np.asarray(_REST_DIRECTION[sk.joints[k]], dtype=np.float64) * length[k]
    t = x.shape[0]
    glob = np.tile(np.eye(3), (t, n, 1, 1))
    local = glob.copy()
    for e in range(n):  # parents come before their children
        parent_glob = glob[:, parents[e]] if parents[e] >= 0 else np.tile(np.eye(3), (t, 1, 1))
        k = source[e]
        if e in bone_of:  # one bone: the smallest turn from the parent's frame
            c = bone_of[e]
            bone = x[:, c] - x[:, k]
            cur = bone / np.linalg.norm(bone, axis=-1, keepdims=True).clip(min=1e-12)
            child = names.index(sk.joints[c])
            rest = np.tile(offsets[child] / max(length[c], 1e-12), (t, 1))
            local[:, e] = _min_rotation(rest, np.einsum("tji,tj->ti", parent_glob, cur))
        elif len(kids[k]) > 1:  # a group (pelvis, thorax): its least-squares turn, in the clip's median shape
            ch = kids[k]
            cur = np.stack([(x[:, c] - x[:, k]) / np.linalg.norm(x[:, c] - x[:, k], axis=-1, keepdims=True)
                            .clip(min=1e-12) * length[c] for c in ch], axis=1)
            at = [names.index(sk.joints[c]) for c in ch]
            first = _kabsch(np.stack([offsets[a] for a in at]), cur)
            shape = np.median(np.einsum("tji,tkj->tki", first, cur), axis=0)
            for i, a in enumerate(at):
                offsets[a] = shape[i] / max(np.linalg.norm(shape[i]), 1e-12) * length[ch[i]]
            glob_k = _kabsch(np.stack([offsets[a] for a in at]), cur)
            local[:, e] = parent_glob.transpose(0, 2, 1) @ glob_k
        glob[:, e] = parent_glob @ local[:, e]
    return Motion(tuple(names), tuple(parents), offsets, x[:, sk.root].copy(), local, float(fps))


def _to_zxy_degrees(r: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` → ``(..., 3)`` angles (z, x, y) in degrees with R = Rz·Rx·Ry."""
    x = np.arcsin(np.clip(r[..., 2, 1], -1.0, 1.0))
    z = np.arctan2(-r[..., 0, 1], r[..., 1, 1])
    y = np.arctan2(-r[..., 2, 0], r[..., 2, 2])
    return np.degrees(np.stack([z, x, y], axis=-1))


def _rotation(axis: str, deg: np.ndarray) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    r = np.zeros(a.shape + (3, 3))
    i = "XYZ".index(axis)
    j, k = [n for n in range(3) if n != i]
    r[..., i, i] = 1.0
    r[..., j, j], r[..., k, k] = c, c
    sign = 1.0 if axis != "Y" else -1.0  # Ry has +sin at (0, 2)
    r[..., j, k], r[..., k, j] = -sign * s, sign * s
    return r


def write_bvh(path: str | Path, poses: Any, *, skeleton: str | Skeleton = "h36m-17", fps: float = 50.0,
              units: str = "cm") -> Motion:
    """Write a lifted sequence as a BVH file (see the module docstring for the conventions).

    Args:
        path: Output ``.bvh`` file.
        poses: ``(T, J, 3)`` metres, posediff camera space.
        skeleton: Joint set of ``poses``.
        fps: Frames per second (``Frame Time`` = 1 / fps).
        units: ``"cm"`` (default, what most tools assume) or ``"m"``.

    Returns:
        The :class:`Motion` that was written (metres).
    """
    if units not in ("cm", "m"):
        raise InputError(f"units must be 'cm' or 'm'; got {units!r}")
    path = Path(path)
    if path.suffix.lower() != ".bvh":
        raise InputError(f"path must end in .bvh; got {str(path)!r}")
    motion = solve_motion(poses, skeleton, fps)
    scale = 100.0 if units == "cm" else 1.0
    kids = _children(motion.parents)
    lines = ["HIERARCHY"]

    def joint(k: int, depth: int) -> None:
        pad = "  " * depth
        head = "ROOT" if motion.parents[k] < 0 else "JOINT"
        off = motion.offsets[k] * scale
        lines.append(f"{pad}{head} {motion.names[k]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
                     if head == "ROOT" else f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation")
        for c in kids[k]:
            joint(c, depth + 1)
        if not kids[k]:
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET 0.000000 0.000000 0.000000", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    order = _dfs(motion.parents)
    joint(order[0], 0)
    angles = _to_zxy_degrees(motion.rotations)  # (T, J, 3)
    t = motion.root.shape[0]
    lines += ["MOTION", f"Frames: {t}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    for f in range(t):
        vals = list(motion.root[f] * scale) + [v for k in order for v in angles[f, k]]
        lines.append(" ".join(f"{v:.6f}" for v in vals))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return motion


def _dfs(parents) -> list[int]:
    kids = _children(parents)
    out: list[int] = []
    stack = [parents.index(-1)]
    while stack:
        k = stack.pop()
        out.append(k)
        stack.extend(reversed(kids[k]))
    return out


def read_bvh(path: str | Path) -> dict:
    """Read a BVH file: ``{"names", "parents", "offsets" (J, 3), "channels" [per joint], "frames" (T, C),
    "frame_time"}`` in the file's units and joint order (depth first).

    Raises:
        DataError: missing file or not a BVH file this reader understands.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"BVH file not found: {str(path)!r}")
    tokens = path.read_text().split()
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    i = 0
    try:
        if tokens[i] != "HIERARCHY":
            raise ValueError("no HIERARCHY")
        i += 1
        while tokens[i] != "MOTION":
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                names.append(tokens[i + 1])
                parents.append(stack[-1] if stack else -1)
                i += 2
            elif tok == "End":
                i += 2  # "End Site"
                depth = 0
                while True:  # skip its block
                    if tokens[i] == "{":
                        depth += 1
                    elif tokens[i] == "}":
                        depth -= 1
                        if depth == 0:
                            i += 1
                            break
                    i += 1
            elif tok == "{":
                stack.append(len(names) - 1)
                i += 1
            elif tok == "}":
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                offsets.append([float(v) for v in tokens[i + 1:i + 4]])
                i += 4
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                channels.append(tokens[i + 2:i + 2 + n])
                i += 2 + n
            else:
                raise ValueError(f"unexpected token {tok!r}")
        n_frames = int(tokens[i + 2])
        frame_time = float(tokens[i + 5])
        values = np.asarray([float(v) for v in tokens[i + 6:]], dtype=np.float64)
        width = sum(len(c) for c in channels)
        frames = values.reshape(n_frames, width)
    except (IndexError, ValueError) as exc:
        raise DataError(f"{str(path)!r} is not a BVH file posediff can read: {exc}") from None
    return {"names": names, "parents": parents, "offsets": np.asarray(offsets), "channels": channels,
            "frames": frames, "frame_time": frame_time}


def bvh_positions(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Joint names and positions ``(T, J, 3)`` by forward kinematics of a BVH file (its units and axes)."""
    data = read_bvh(path)
    t = data["frames"].shape[0]
    j = len(data["names"])
    local = np.tile(np.eye(3), (t, j, 1, 1))
    root = np.zeros((t, 3))
    col = 0
    for k, chans in enumerate(data["channels"]):
        rot = np.tile(np.eye(3), (t, 1, 1))
        for name in chans:
            v = data["frames"][:, col]
            col += 1
            if name.endswith("position"):
                root[:, "XYZ".index(name[0])] = v
            else:
                rot = rot @ _rotation(name[0], v)
        local[:, k] = rot
    return data["names"], _forward(data["parents"], data["offsets"], root, local)
