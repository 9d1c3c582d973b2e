"""The result of lifting: :class:`LiftResult` (poses, masks, hypotheses, metadata), saved as ``.npz``."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from ..errors import InputError


# ------------------------------------------------------------------------------------------ result
@dataclass
class LiftResult:
    """The 3D poses lifted from 2D keypoints, with everything needed to interpret them.

    Attributes:
        poses3d: ``(N, J, 3)`` (one person) or ``(C, N, J, 3)`` float32 camera-space metres,
            root-relative (root joint 0); zero where ``mask`` is False.
        mask: ``(N,)`` or ``(C, N)`` bool, True where a pose was lifted (the person is present).
        x2d: ``(N, J, 2)`` or ``(C, N, J, 2)`` float32 model input: the 2D in the model's joint set,
            normalised screen coordinates, gaps filled; zero where ``mask`` is False.
        joint_mask: ``(N, J)`` or ``(C, N, J)`` bool, True where the joint was observed with enough
            confidence (False: interpolated, or the person is absent).
        aggregator_used: Name of the aggregator that produced ``poses3d`` (e.g. ``"jpma"``, ``"mean"``).
        skeleton: Joint set of ``poses3d`` and ``x2d`` (the model's, e.g. ``"h36m-17"``).
        hypotheses: ``(H, N, J, 3)`` / ``(C, H, N, J, 3)`` float32 blended hypotheses of the final
            sampling step (only with ``keep_hypotheses=True``), else None.
        metadata: Plain-data description of the run (format, image size, camera, windowing, H, M,
            seed, weights, warnings, timing ...).
        trajectory: ``(N, 3)`` / ``(C, N, 3)`` float32 camera-space position of the root joint in metres
            (:func:`posediff.inference.trajectory.root_trajectory`; ``posediff lift --world``), else None.
            ``poses3d + trajectory[..., None, :]`` places the person in camera space.
    """

    poses3d: np.ndarray
    mask: np.ndarray
    x2d: np.ndarray
    joint_mask: np.ndarray
    aggregator_used: str
    skeleton: str
    hypotheses: Optional[np.ndarray] = None
    metadata: dict = field(default_factory=dict)
    trajectory: Optional[np.ndarray] = None

    @property
    def multi_person(self) -> bool:
        """Whether the result holds several people (a leading C dimension)."""
        return self.poses3d.ndim == 4

    @property
    def num_frames(self) -> int:
        """Number of frames N."""
        return int(self.poses3d.shape[-3])

    def person(self, c: int) -> "LiftResult":
        """The result of person ``c`` alone (single-person layout)."""
        if not self.multi_person:
            if c != 0:
                raise InputError(f"person index must be 0 for a single-person result; got {c}")
            return self
        C = self.poses3d.shape[0]
        if not -C <= c < C:
            raise InputError(f"person index must be in [0, {C - 1}]; got {c}")
        return LiftResult(
            poses3d=self.poses3d[c], mask=self.mask[c], x2d=self.x2d[c], joint_mask=self.joint_mask[c],
            aggregator_used=self.aggregator_used, skeleton=self.skeleton,
            hypotheses=None if self.hypotheses is None else self.hypotheses[c],
            metadata=dict(self.metadata, person=int(c % C)),
            trajectory=None if self.trajectory is None else self.trajectory[c],
        )

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz``: arrays ``poses3d``, ``mask``, ``x2d``, ``joint_mask`` (and ``hypotheses``,
        ``trajectory``),
        strings ``aggregator_used``, ``skeleton`` and ``metadata`` (JSON). Read back with :func:`load_result`."""
        path = Path(path)
        if path.suffix.lower() != ".npz":
            raise InputError(f"result path must end in .npz; got {str(path)!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "poses3d": self.poses3d.astype(np.float32),
            "mask": self.mask.astype(bool),
            "x2d": self.x2d.astype(np.float32),
            "joint_mask": self.joint_mask.astype(bool),
            "aggregator_used": np.array(self.aggregator_used),
            "skeleton": np.array(self.skeleton),
            "metadata": np.array(json.dumps(_jsonable(self.metadata))),
        }
        if self.hypotheses is not None:
            arrays["hypotheses"] = self.hypotheses.astype(np.float32)
        if self.trajectory is not None:
            arrays["trajectory"] = self.trajectory.astype(np.float32)
        np.savez_compressed(path, **arrays)
        return path

    def save_json(self, path: str | Path, fps: Optional[float] = None) -> Path:
        """Write the result as JSON a person can read: the joint names and units, the run's metadata, and per
        person and frame the 3D joints (metres, 0.1 mm precision), whether the person was there, the time and,
        with a trajectory, the root's camera-space position.

        Layout: ``{"skeleton", "joints": [names], "units", "coordinates", "fps", "metadata", "people":
        [{"person", "frames": [{"frame", "time_s", "present", "joints": [[x, y, z] × J], "root"?}]}]}``;
        absent frames have ``"joints": null``.

        Args:
            path: Output file, ``.json``.
            fps: Frame rate for ``time_s`` (default: the metadata's ``fps``; without one, ``time_s`` is null).
        """
        from ..geometry.skeletons import get_skeleton

        path = Path(path)
        if path.suffix.lower() != ".json":
            raise InputError(f"JSON result path must end in .json; got {str(path)!r}")
        rate = fps if fps is not None else self.metadata.get("fps")
        people = []
        for c in range(self.poses3d.shape[0] if self.multi_person else 1):
            one = self.person(c)
            frames = []
            for t in range(one.num_frames):
                present = bool(one.mask[t])
                frame: dict[str, Any] = {"frame": t, "time_s": None if not rate else round(t / float(rate), 6),
                                         "present": present,
                                         "joints": np.round(one.poses3d[t].astype(np.float64), 4).tolist()
                                         if present else None}
                if one.trajectory is not None and present:
                    frame["root"] = np.round(one.trajectory[t].astype(np.float64), 4).tolist()
                frames.append(frame)
            people.append({"person": c, "frames": frames})
        doc = {"skeleton": self.skeleton, "joints": list(get_skeleton(self.skeleton).joints),
               "units": "metres",
               "coordinates": "camera space: x right, y down, z forward; joints root-relative (the root joint at 0)"
                              + ("; 'root' is the root joint's camera-space position" if self.trajectory is not None
                                 else ""),
               "fps": rate, "aggregator": self.aggregator_used, "metadata": _jsonable(self.metadata),
               "people": people}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n")
        return path

    def __repr__(self) -> str:
        people = f"C={self.poses3d.shape[0]}, " if self.multi_person else ""
        return (f"LiftResult({people}N={self.num_frames}, skeleton={self.skeleton!r}, "
                f"aggregator_used={self.aggregator_used!r}, lifted_frames={int(self.mask.sum())})")


def load_result(path: str | Path) -> LiftResult:
    """Read a :class:`LiftResult` written by :meth:`LiftResult.save`.

    Raises:
        DataError: missing file or not a posediff result.
    """
    from ..errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"result file not found: {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            need = {"poses3d", "mask", "x2d", "joint_mask", "aggregator_used", "skeleton"}
            if not need <= files:
                raise DataError(f"{str(path)!r} is not a posediff lift result (missing {sorted(need - files)})")
            return LiftResult(
                poses3d=z["poses3d"], mask=z["mask"], x2d=z["x2d"], joint_mask=z["joint_mask"],
                aggregator_used=str(z["aggregator_used"]), skeleton=str(z["skeleton"]),
                hypotheses=z["hypotheses"] if "hypotheses" in files else None,
                metadata=json.loads(str(z["metadata"])) if "metadata" in files else {},
                trajectory=z["trajectory"] if "trajectory" in files else None,
            )
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read result {str(path)!r}: {exc}") from None


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


# ------------------------------------------------------------------------------------------ camera
