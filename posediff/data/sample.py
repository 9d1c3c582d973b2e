"""The one sample structure shared by every data set: :class:`Sequence` and its container :class:`Dataset`.

Conventions (reference §1.4, §1.5):

* ``x2d`` is in *normalised screen coordinates*: ``u = x_px / w * 2 - 1`` and ``v = y_px / w * 2 - h / w``.
* ``x3d`` is in *metres*, camera space, root-relative with the root joint exactly ``0``.
* ``root`` is the camera-space trajectory of the root joint (metres), so ``x3d + root`` is the absolute pose.
* ``camera`` is the 9-vector ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` expressed in the normalised frame
  (``f / w * 2`` and normalised centre), i.e. in the same units as ``x2d``.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from ..errors import InputError
from ..geometry.skeletons import get_skeleton

__all__ = ["Sequence", "Dataset", "base_action"]


def base_action(action: str | None) -> str:
    """The base action name: everything before the first space (``"Walking 1"`` → ``"Walking"``).

    ``None`` or an empty string gives ``""``.
    """
    if not action:
        return ""
    return action.split(" ")[0]


@dataclass
class Sequence:
    """One continuous recording of one person seen by one camera.

    Attributes:
        subject: Subject id, e.g. ``"S1"``, ``"TS5"`` or ``"synth-0"``.
        action: Raw action name, e.g. ``"Walking 1"``; ``""`` when the data set has no action text.
        x2d: ``(T, J, 2)`` float32 2D joints in normalised screen coordinates.
        x3d: ``(T, J, 3)`` float32 camera-space 3D joints in metres, root-relative with the root exactly 0;
            ``None`` for inputs without ground truth (the user's own detections).
        root: ``(T, 1, 3)`` float32 camera-space root trajectory in metres, or ``None``.
        camera: ``(9,)`` float32 intrinsics ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` in the normalised
            frame, or ``None`` when unknown.
        image_size: ``(w, h)`` in pixels, or ``None`` when unknown.
        camera_name: Camera id, e.g. ``"54138969"``; ``""`` when unknown.
        skeleton: Joint-set name of ``x2d``/``x3d`` (``"h36m-17"`` or ``"3dhp-17"``).
        valid: ``(T,)`` bool, frames that count in evaluation (all True by default).
        fps: Frame rate in Hz.
        source: Name of the data set the sequence comes from (``"h36m"``, ``"3dhp"``, ``"synthetic"`` ...).
    """

    subject: str
    action: str
    x2d: np.ndarray
    x3d: np.ndarray | None = None
    root: np.ndarray | None = None
    camera: np.ndarray | None = None
    image_size: tuple[int, int] | None = None
    camera_name: str = ""
    skeleton: str = "h36m-17"
    valid: np.ndarray | None = None
    fps: float = 50.0
    source: str = ""
    base_action: str = field(init=False)

    def __post_init__(self) -> None:
        self.action = "" if self.action is None else str(self.action)
        self.base_action = base_action(self.action)
        sk = get_skeleton(self.skeleton)
        x2d = np.asarray(self.x2d)
        name = f"sequence {self.subject!r}/{self.action!r}"
        if x2d.ndim != 3 or x2d.shape[1:] != (sk.num_joints, 2):
            raise InputError(
                f"{name}: x2d must have shape (T, {sk.num_joints}, 2); got {tuple(x2d.shape)}"
            )
        if x2d.shape[0] == 0:
            raise InputError(f"{name}: x2d must hold at least one frame; got shape {tuple(x2d.shape)}")
        self.x2d = x2d.astype(np.float32, copy=False)
        T = x2d.shape[0]
        if self.x3d is not None:
            x3d = np.asarray(self.x3d)
            if x3d.shape != (T, sk.num_joints, 3):
                raise InputError(
                    f"{name}: x3d must have shape ({T}, {sk.num_joints}, 3); got {tuple(x3d.shape)}"
                )
            self.x3d = x3d.astype(np.float32, copy=False)
        if self.root is not None:
            root = np.asarray(self.root)
            if root.shape != (T, 1, 3):
                raise InputError(f"{name}: root must have shape ({T}, 1, 3); got {tuple(root.shape)}")
            self.root = root.astype(np.float32, copy=False)
        if self.camera is not None:
            cam = np.asarray(self.camera)
            if cam.shape != (9,):
                raise InputError(f"{name}: camera must have shape (9,); got {tuple(cam.shape)}")
            self.camera = cam.astype(np.float32, copy=False)
        if self.image_size is not None:
            if len(self.image_size) != 2 or min(self.image_size) <= 0:
                raise InputError(f"{name}: image_size must be (w, h) > 0; got {self.image_size!r}")
            self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        if self.valid is None:
            self.valid = np.ones(T, dtype=bool)
        else:
            valid = np.asarray(self.valid).reshape(-1)
            if valid.shape != (T,):
                raise InputError(f"{name}: valid must have shape ({T},); got {tuple(np.shape(self.valid))}")
            self.valid = valid.astype(bool)
        for what in ("x2d", "x3d", "root", "camera"):
            arr = getattr(self, what)
            if arr is not None and not np.isfinite(arr).all():
                bad = int((~np.isfinite(arr)).sum())
                raise InputError(f"{name}: {what} must be finite; got {bad} NaN/Inf value(s) (fill missing joints, "
                                 "e.g. posediff.data.formats.interpolate_missing, or drop those frames)")

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return int(self.x2d.shape[0])

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return int(self.x2d.shape[1])

    @property
    def key(self) -> tuple[str, str, str]:
        """``(subject, action, camera_name)``: unique within a data set."""
        return (self.subject, self.action, self.camera_name)

    @property
    def absolute_3d(self) -> np.ndarray | None:
        """``(T, J, 3)`` camera-space 3D joints in metres (``x3d + root``), or None if either is missing."""
        if self.x3d is None or self.root is None:
            return None
        return self.x3d + self.root

    def __len__(self) -> int:
        return self.num_frames

    def replace(self, **changes) -> "Sequence":
        """A copy with some fields replaced (validated again)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        fields.update(changes)
        return Sequence(**fields)

    def __repr__(self) -> str:
        return (
            f"Sequence(subject={self.subject!r}, action={self.action!r}, camera={self.camera_name!r}, "
            f"T={self.num_frames}, J={self.num_joints}, skeleton={self.skeleton!r}, "
            f"3d={'yes' if self.x3d is not None else 'no'}, valid={int(self.valid.sum())})"
        )


def _as_set(values: str | Iterable[str] | None) -> set[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        return {values}
    return {str(v) for v in values}


class Dataset:
    """An ordered list of :class:`Sequence` with filters and a summary.

    Args:
        sequences: The sequences, in a fixed order (loaders sort them by subject, action, camera).
        name: Data set name for messages and summaries.
    """

    def __init__(self, sequences: Iterable[Sequence], name: str = "") -> None:
        self.sequences: list[Sequence] = list(sequences)
        self.name = name
        for s in self.sequences:
            if not isinstance(s, Sequence):
                raise InputError(f"Dataset {name!r}: every item must be a Sequence; got {type(s).__name__}")

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[Sequence]:
        return iter(self.sequences)

    def __getitem__(self, index: int) -> Sequence:
        return self.sequences[index]

    def __add__(self, other: "Dataset") -> "Dataset":
        return Dataset(self.sequences + list(other), name=self.name or getattr(other, "name", ""))

    @property
    def subjects(self) -> list[str]:
        """Subjects in order of first appearance."""
        return list(dict.fromkeys(s.subject for s in self.sequences))

    @property
    def actions(self) -> list[str]:
        """Raw action names in order of first appearance."""
        return list(dict.fromkeys(s.action for s in self.sequences))

    @property
    def base_actions(self) -> list[str]:
        """Base action names in order of first appearance."""
        return list(dict.fromkeys(s.base_action for s in self.sequences))

    @property
    def cameras(self) -> list[str]:
        """Camera names in order of first appearance."""
        return list(dict.fromkeys(s.camera_name for s in self.sequences))

    @property
    def num_frames(self) -> int:
        """Total number of frames over all sequences."""
        return int(sum(s.num_frames for s in self.sequences))

    def filter(
        self,
        subjects: str | Iterable[str] | None = None,
        actions: str | Iterable[str] | None = None,
        base_actions: str | Iterable[str] | None = None,
        cameras: str | Iterable[str] | None = None,
    ) -> "Dataset":
        """Keep the sequences that match every given criterion (None = no restriction).

        Args:
            subjects: Subject ids to keep.
            actions: Raw action names to keep (``"Walking 1"``).
            base_actions: Base action names to keep (``"Walking"`` keeps every take).
            cameras: Camera names to keep.
        """
        subj, act, base, cams = map(_as_set, (subjects, actions, base_actions, cameras))
        kept = [
            s
            for s in self.sequences
            if (subj is None or s.subject in subj)
            and (act is None or s.action in act)
            and (base is None or s.base_action in base)
            and (cams is None or s.camera_name in cams)
        ]
        return Dataset(kept, name=self.name)

    def summary(self) -> str:
        """A short multi-line text: sequences, frames, subjects, actions, cameras."""
        frames = Counter()
        for s in self.sequences:
            frames[s.subject] += s.num_frames
        lines = [
            f"{self.name or 'dataset'}: {len(self)} sequences, {self.num_frames} frames, "
            f"{len(self.subjects)} subjects, {len(self.base_actions)} base actions, {len(self.cameras)} cameras"
        ]
        for subj in self.subjects:
            lines.append(f"  {subj}: {frames[subj]} frames")
        if any(self.base_actions):
            lines.append("  actions: " + ", ".join(sorted(a for a in self.base_actions if a)))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, sequences={len(self)}, frames={self.num_frames})"
