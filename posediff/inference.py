"""Lift the user's own 2D keypoints to 3D: :func:`lift` and its :class:`LiftResult`.

What :func:`lift` does, in order:

1. **Read** the keypoints — an array ``(N, J, 2|3)`` (one person) or ``(C, N, J, 2|3)`` (C people), a
   :class:`~posediff.data.formats.Keypoints2D`, or a file/folder readable by
   :func:`~posediff.data.formats.read_keypoints`. A third channel is a per-joint confidence.
2. **Convert** the joint layout (COCO-17, H36M-17, 3DHP-17, MediaPipe-33, OpenPose BODY_25) to
   ``h36m-17`` with :func:`~posediff.data.formats.to_h36m`. Joints below the confidence
   ``threshold`` (or NaN) are *missing* and are filled by linear interpolation in time
   (:func:`~posediff.data.formats.interpolate_missing`); ``joint_mask`` of the result says which
   joints were observed.
3. **Normalise** pixels by the image size (``u = x/w·2 − 1``, ``v = y/w·2 − h/w``).
4. **Window**: the model sees clips of exactly ``F = lifter.frames`` frames. A shorter sequence is
   padded by repeating its last frame (the padding is dropped again); a longer one is covered by
   sliding windows that overlap by ``overlap`` frames, and the predictions are blended over each
   overlap with linear cross-fade weights (the weights of neighbouring windows sum to one).
5. **Sample and aggregate**: the lifter's sampler draws H hypotheses per window; the lifter's
   aggregator combines them. JPMA needs camera intrinsics: without ``camera`` the mean aggregator
   is used instead, with a warning, and ``result.aggregator_used == "mean"``.
6. **Several people** (FinePOSE §3.4): each person's track is lifted on its own; frames where a
   person is absent (``presence`` False) are not lifted, are zero in ``poses3d`` and False in
   ``mask``; the people are stacked into ``(C, N, J, 3)``. Short gaps (≤ ``max_gap`` frames) inside
   a track are bridged by interpolating the 2D, so the track is lifted as one sequence; longer gaps
   split it into separately lifted segments.

Example:
    >>> import numpy as np, posediff
    >>> kps = np.random.rand(100, 17, 3) * [640, 480, 1]        # COCO-17 pixels + confidence
    >>> res = posediff.lift(kps, weights="demo", format="coco17", image_size=(640, 480), seed=0)  # doctest: +SKIP
    >>> res.poses3d.shape, res.aggregator_used                    # doctest: +SKIP
    ((100, 17, 3), 'mean')
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Sequence

import numpy as np
import torch

from ._version import __version__
from .errors import InputError
from .weights import DEMO_CHECKPOINT, demo_checkpoint_path

__all__ = [
    "LiftResult",
    "lift",
    "load_result",
    "parse_camera",
    "window_plan",
    "blend_weights",
    "DEMO_CHECKPOINT",
    "demo_checkpoint_path",
]

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
    """

    poses3d: np.ndarray
    mask: np.ndarray
    x2d: np.ndarray
    joint_mask: np.ndarray
    aggregator_used: str
    skeleton: str
    hypotheses: Optional[np.ndarray] = None
    metadata: dict = field(default_factory=dict)

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
        )

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz``: arrays ``poses3d``, ``mask``, ``x2d``, ``joint_mask`` (and ``hypotheses``),
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
        np.savez_compressed(path, **arrays)
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
    from .errors import DataError

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
def parse_camera(
    camera: Any,
    image_size: Optional[tuple[int, int]] = None,
    units: Literal["auto", "pixels", "normalized"] = "auto",
) -> Optional[np.ndarray]:
    """Intrinsics in any common form → the normalised 9-vector ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``.

    Args:
        camera: ``None``; 9 numbers ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``; 4 numbers
            ``[fx, fy, cx, cy]`` (no distortion); a ``3×3`` matrix K; or a dict with ``fx, fy, cx, cy``
            (or ``f``/``focal`` and ``c``/``center``) and optional ``k``, ``p``.
        image_size: ``(w, h)`` pixels; needed for pixel intrinsics.
        units: ``"pixels"``, ``"normalized"`` (already in normalised screen units, as the H36M tables), or
            ``"auto"``: pixels when ``image_size`` is known and ``fx > 20``, else normalised.

    Returns:
        ``(9,)`` float32 in normalised screen units, or None.

    Raises:
        InputError: unreadable layout, non-positive focal length, pixels without an image size.
    """
    if camera is None:
        return None
    from .geometry.cameras import normalize_intrinsics

    k = np.zeros(3)
    p = np.zeros(2)
    if isinstance(camera, Mapping):
        c = {str(key).lower(): v for key, v in camera.items()}
        try:
            if "fx" in c:
                f = np.array([c["fx"], c.get("fy", c["fx"])], dtype=np.float64)
                cc = np.array([c["cx"], c["cy"]], dtype=np.float64)
            else:
                f = np.asarray(c.get("f", c.get("focal")), dtype=np.float64).reshape(-1)
                f = np.repeat(f, 2) if f.size == 1 else f
                cc = np.asarray(c.get("c", c.get("center")), dtype=np.float64).reshape(-1)
            if "k" in c:
                k = np.asarray(c["k"], dtype=np.float64).reshape(-1)
            if "p" in c:
                p = np.asarray(c["p"], dtype=np.float64).reshape(-1)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"camera dict must hold fx, fy, cx, cy (or f, c) and optional k (3), p (2); got keys {sorted(c)}"
            ) from exc
        if f.shape != (2,) or cc.shape != (2,) or k.shape != (3,) or p.shape != (2,):
            raise InputError(f"camera dict entries have wrong sizes: f {f.shape}, c {cc.shape}, k {k.shape}, "
                             f"p {p.shape}; expected 2, 2, 3, 2")
    else:
        try:
            arr = np.asarray(camera.detach().cpu().numpy() if hasattr(camera, "detach") else camera,
                             dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"camera must be numbers (9-vector, 4-vector or 3x3 K); got {type(camera).__name__}") \
                from exc
        if arr.shape == (3, 3):
            f, cc = np.array([arr[0, 0], arr[1, 1]]), np.array([arr[0, 2], arr[1, 2]])
        elif arr.shape == (4,):
            f, cc = arr[:2], arr[2:4]
        elif arr.shape == (9,):
            f, cc, k, p = arr[:2], arr[2:4], arr[4:7], arr[7:9]
        else:
            raise InputError(
                "camera must be [fx, fy, cx, cy, k1, k2, k3, p1, p2], [fx, fy, cx, cy], a 3x3 matrix K or a dict; "
                f"got shape {tuple(arr.shape)}"
            )
    vec = np.concatenate([f, cc, k, p])
    if not np.isfinite(vec).all():
        raise InputError(f"camera must be finite; got {vec.tolist()}")
    if (f <= 0).any():
        raise InputError(f"camera focal lengths must be > 0; got fx={f[0]}, fy={f[1]}")
    if units not in ("auto", "pixels", "normalized"):
        raise InputError(f"camera_units must be 'auto', 'pixels' or 'normalized'; got {units!r}")
    if units == "auto":
        units = "pixels" if (image_size is not None and f[0] > 20.0) else "normalized"
    if units == "pixels":
        if image_size is None:
            raise InputError("camera in pixels needs image_size=(w, h) to be normalised; pass image_size")
        w, h = image_size
        return np.asarray(normalize_intrinsics(f, cc, k, p, w=w, h=h), dtype=np.float32)
    return vec.astype(np.float32)


# ------------------------------------------------------------------------------------------ windows
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


# ------------------------------------------------------------------------------------------ inputs
@dataclass
class _Track:
    """One person after conversion: h36m-17 normalised 2D with NaN where missing."""

    xy: np.ndarray        # (N, 17, 2) normalised (NaN where missing)
    observed: np.ndarray  # (N, 17) bool
    present: np.ndarray   # (N,) bool


def _to_numpy(name: str, x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be an array of numbers; got {type(x).__name__}") from exc
    return arr


def _guess_format(joints: int, fmt: Optional[str]) -> str:
    from .data.formats import get_format

    if fmt is not None:
        f = get_format(fmt)
        if f.num_joints != joints:
            hint = {25: "openpose-25", 33: "mediapipe-33"}.get(joints)
            raise InputError(
                f"keypoints must have {f.num_joints} joints for format {f.name!r}; got {joints}"
                + (f"; {joints} joints look like {hint!r} (format={hint!r})" if hint else "")
            )
        return f.name
    guess = {17: "coco-17", 25: "openpose-25", 33: "mediapipe-33"}.get(joints)
    if guess is None:
        raise InputError(f"keypoints must have 17, 25 or 33 joints, or pass format= (one of coco-17, h36m-17, "
                         f"3dhp-17, mediapipe-33, openpose-25); got {joints} joints")
    return guess


def _normalise_xy(xy: np.ndarray, image_size, coords: str) -> np.ndarray:
    from .geometry.cameras import normalize_screen_coordinates

    if coords == "normalized":
        return xy
    w, h = image_size
    if coords == "unit":
        xy = xy * np.array([w, h], dtype=np.float64)
    return np.asarray(normalize_screen_coordinates(xy, w, h), dtype=np.float64)


def _read_input(keypoints, fmt, image_size, coords, threshold, presence):
    """→ (tracks, single, info) with tracks in h36m-17 normalised coordinates."""
    from .data.formats import Keypoints2D, read_keypoints, to_h36m

    info: dict[str, Any] = {}
    if isinstance(keypoints, Keypoints2D):
        if presence is not None and np.asarray(presence).ndim > 1:
            raise InputError("presence for Keypoints2D input must have shape (N,)")
        xy = np.asarray(keypoints.x2d, dtype=np.float64).copy()
        obs = np.asarray(keypoints.mask, dtype=bool)
        xy[~obs] = np.nan
        info.update(format=keypoints.source_format, image_size=tuple(keypoints.image_size), coords="normalized",
                    source="Keypoints2D")
        present = np.ones(xy.shape[0], bool) if presence is None else np.asarray(presence, bool).reshape(-1)
        if present.shape != (xy.shape[0],):
            raise InputError(f"presence must have shape ({xy.shape[0]},); got {tuple(np.shape(presence))}")
        return [_Track(xy, obs, present)], True, info

    if isinstance(keypoints, (str, Path)):
        info["source"] = str(keypoints)
        multi = _read_multi_npz(Path(keypoints))
        if multi is not None:
            arr, file_presence, file_fmt, file_size = multi
            fmt = fmt or file_fmt
            image_size = image_size if image_size is not None else file_size
            presence = presence if presence is not None else file_presence
        else:
            raw = read_keypoints(keypoints)
            arr = raw.keypoints
            fmt = fmt or raw.format
            if image_size is None and raw.image_size is not None:
                image_size = raw.image_size
    else:
        arr = _to_numpy("keypoints", keypoints)

    if arr.ndim == 3:
        single = True
        arr = arr[None]
    elif arr.ndim == 4:
        single = False
    else:
        raise InputError(
            f"keypoints must have shape (N, J, 2 or 3) or (C, N, J, 2 or 3) for C people; got {tuple(arr.shape)}"
        )
    C, N, J, D = arr.shape
    if D not in (2, 3):
        raise InputError(f"keypoints' last dimension must be 2 (x, y) or 3 (x, y, confidence); got {D}")
    if N == 0 or C == 0:
        raise InputError(f"keypoints must hold at least one frame and one person; got shape {tuple(arr.shape)}")
    fmt_name = _guess_format(J, fmt)

    if presence is None:
        pres = np.ones((C, N), dtype=bool)
    else:
        pres = np.asarray(presence.detach().cpu().numpy() if hasattr(presence, "detach") else presence).astype(bool)
        if single and pres.shape == (N,):
            pres = pres[None]
        if pres.shape != (C, N):
            want = f"({N},)" if single else f"({C}, {N})"
            raise InputError(f"presence must have shape {want} (people, frames); got {tuple(pres.shape)}")

    # coordinate units
    xy_all = arr[..., :2]
    finite = xy_all[np.isfinite(xy_all)]
    if coords not in (None, "pixels", "unit", "normalized"):
        raise InputError(f"coords must be 'pixels', 'unit' or 'normalized'; got {coords!r}")
    if coords is None:
        if image_size is not None:
            coords = "pixels"
        elif finite.size == 0 or np.abs(finite).max() <= 3.0:
            coords = "normalized"
        else:
            raise InputError(
                f"image_size must be given for keypoints that look like pixels (values up to "
                f"{np.abs(finite).max():.0f}); got None (pass image_size=(w, h), or coords='normalized' if they are "
                "already normalised)"
            )
    if coords in ("pixels", "unit"):
        if image_size is None:
            raise InputError(f"coords={coords!r} needs image_size=(w, h) in pixels")
        try:
            w, h = (float(v) for v in image_size)
        except (TypeError, ValueError):
            raise InputError(f"image_size must be (w, h) in pixels; got {image_size!r}") from None
        if w <= 0 or h <= 0:
            raise InputError(f"image_size must be positive (w, h); got {image_size!r}")
        image_size = (int(round(w)), int(round(h)))
    info.update(format=fmt_name, image_size=None if image_size is None else tuple(image_size), coords=coords)

    tracks = []
    for c in range(C):
        x, _conf, obs = to_h36m(arr[c], fmt_name, threshold)
        obs &= pres[c][:, None]
        x = _normalise_xy(x, image_size, coords)
        x[~obs] = np.nan
        tracks.append(_Track(x, obs, pres[c].copy()))
    return tracks, single, info


def _read_multi_npz(path: Path):
    """A multi-person ``.npz`` (``keypoints (C, N, J, 2|3)``, optional ``presence (C, N)``, ``format``,
    ``image_size``) → ``(keypoints, presence, format, image_size)``; None for any other file."""
    from .errors import DataError

    if path.suffix.lower() != ".npz" or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if "keypoints" not in z.files or z["keypoints"].ndim != 4:
                return None
            kp = np.asarray(z["keypoints"], dtype=np.float64)
            pres = np.asarray(z["presence"]).astype(bool) if "presence" in z.files else None
            fmt = str(z["format"]) if "format" in z.files else None
            size = tuple(int(v) for v in z["image_size"].tolist()) if "image_size" in z.files else None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read NPZ keypoints {path}: {exc}") from None
    return kp, pres, fmt, size


def _segments(present: np.ndarray, observed_any: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Runs ``[s, e)`` of usable frames, merging gaps of at most ``max_gap`` frames."""
    usable = present & observed_any
    idx = np.flatnonzero(usable)
    if idx.size == 0:
        return []
    segs = []
    s = prev = int(idx[0])
    for f in idx[1:]:
        f = int(f)
        if f - prev - 1 > max_gap:
            segs.append((s, prev + 1))
            s = f
        prev = f
    segs.append((s, prev + 1))
    return segs


def _fill_segment(xy: np.ndarray, obs: np.ndarray, skeleton, notes: list[str], where: str) -> np.ndarray:
    """Fill missing joints of one segment: in time, then (joint never seen) from its parent."""
    from .data.formats import interpolate_missing

    T, J = obs.shape
    out = np.where(obs[..., None], xy, 0.0)
    seen = obs.any(0)
    if seen.all():
        return interpolate_missing(out, obs)
    cols = np.flatnonzero(seen)
    out[:, cols] = interpolate_missing(out[:, cols], obs[:, cols])
    never = [int(j) for j in np.flatnonzero(~seen)]
    names = [skeleton.joints[j] for j in never]
    notes.append(f"{where}: joint(s) {', '.join(names)} never observed; placed at their parent joint")
    # parents precede children in both built-in joint orders except 3dhp's head chain; loop until done
    done = seen.copy()
    for _ in range(J):
        for j in never:
            if done[j]:
                continue
            p = skeleton.parents[j]
            if p < 0:
                out[:, j] = out[:, done].mean(1) if done.any() else 0.0
                done[j] = True
            elif done[p]:
                out[:, j] = out[:, p]
                done[j] = True
        if done.all():
            break
    return out


# ------------------------------------------------------------------------------------------ lifter
def _resolve_lifter(weights, lifter, overrides):
    from .lifter import PoseLifter

    if lifter is not None and weights is not None:
        raise InputError("pass either weights= (a checkpoint) or lifter= (a model), not both")
    if isinstance(lifter, PoseLifter):
        return lifter, {"model": lifter.spec.get("meta", {}).get("name", "custom")}
    if lifter is not None:
        if isinstance(lifter, (str, Path, Mapping)):
            from .build import build

            warnings.warn("lift(): building an untrained lifter from a spec; its poses are meaningless "
                          "(pass weights= for a trained model)", stacklevel=3)
            model = build(lifter, overrides=overrides)
            return model, {"model": model.spec.get("meta", {}).get("name", "custom"), "untrained": True}
        raise InputError(f"lifter must be a PoseLifter, a preset name or a spec; got {type(lifter).__name__}")
    from .loading import load_with_source
    from .weights import DEFAULT_WEIGHTS, list_weights

    if weights is None:
        if not list_weights():
            raise InputError(
                "lift() needs a model: this installation ships no trained weights, so pass "
                "weights='path/to/checkpoint.pt' (posediff format), weights='demo' (the bundled synthetic-data "
                "model), or lifter=<PoseLifter>"
            )
        weights = DEFAULT_WEIGHTS
    model, _ = load_with_source(weights, overrides=overrides)
    return model, {"model": model.spec.get("meta", {}).get("name", "custom"), "weights": str(weights)}


def _resolve_aggregator(model, aggregator, camera_given: bool, notes: list[str]):
    from .build import build_component

    if aggregator is None:
        agg = model.aggregator
        name = model.spec["aggregator"]["name"]
    elif isinstance(aggregator, str):
        name = aggregator
        agg = build_component("aggregator", {"name": aggregator}, skeleton=model.skeleton.name,
                              frames=model.frames, dim=int(model.spec["lifter"]["dim"]),
                              joints=model.skeleton.num_joints)
    else:
        agg = aggregator
        name = type(aggregator).__name__
    needs = set(getattr(agg, "needs", ()))
    missing = [n for n in sorted(needs) if not (n == "camera" and camera_given)]
    if missing:
        if aggregator is not None:
            raise InputError(f"{', '.join(missing)} must be given for aggregator {name!r}; got None (pass camera= "
                             "intrinsics or choose aggregator='mean')")
        msg = (f"aggregator {name!r} needs {', '.join(missing)}"
               + (" (camera intrinsics)" if "camera" in missing else "")
               + "; using the mean of the hypotheses instead")
        warnings.warn(msg, stacklevel=3)
        notes.append(msg)
        agg = build_component("aggregator", {"name": "mean"})
        name = "mean"
    return agg, name


# ------------------------------------------------------------------------------------------ lift
def lift(
    keypoints: Any,
    *,
    weights: str | Path | None = None,
    lifter: Any = None,
    format: Optional[str] = None,
    skeleton: Optional[str] = None,
    image_size: Optional[tuple[int, int]] = None,
    coords: Optional[Literal["pixels", "unit", "normalized"]] = None,
    camera: Any = None,
    camera_units: Literal["auto", "pixels", "normalized"] = "auto",
    presence: Any = None,
    actions: str | Sequence[Optional[str]] | None = None,
    threshold: float = 0.3,
    hypotheses: Optional[int] = None,
    steps: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
    seed: Optional[int] = None,
    overlap: Optional[int] = None,
    max_gap: int = 10,
    aggregator: Any = None,
    batch_size: int = 8,
    keep_hypotheses: bool = False,
    progress: bool = False,
) -> LiftResult:
    """Lift 2D keypoint sequences of any length (one or several people) to 3D.

    Args:
        keypoints: ``(N, J, 2|3)`` one person or ``(C, N, J, 2|3)`` C people (numpy or torch; a third
            channel is a confidence), a :class:`~posediff.data.formats.Keypoints2D`, or a keypoint file /
            OpenPose JSON folder.
        weights: posediff checkpoint path, a shipped model (``"h36m"`` = ``"finepose-small-h36m"``, trained on
            Human3.6M; see :mod:`posediff.weights`), or ``"demo"`` for the synthetic-data demo model.
            Default (None, no ``lifter``): the shipped ``"h36m"`` model.
        lifter: A built :class:`~posediff.lifter.PoseLifter` (instead of ``weights``); a preset name builds
            an untrained model (for tests).
        format: Joint layout of ``keypoints``: ``"coco17"``/``"coco-17"``, ``"h36m-17"``, ``"3dhp-17"``,
            ``"mediapipe-33"``, ``"openpose-25"``. Default from the joint count (17 → COCO-17).
        skeleton: Alias of ``format``.
        image_size: ``(w, h)`` pixels, to normalise pixel coordinates (and pixel intrinsics).
        coords: ``"pixels"``, ``"unit"`` (fractions of the image, e.g. MediaPipe) or ``"normalized"``
            (already normalised screen coordinates). Default: pixels when ``image_size`` is given, else
            normalised (values beyond ±3 without ``image_size`` are an error).
        camera: Optional intrinsics (see :func:`parse_camera`); needed by JPMA. Without it an aggregator
            that needs a camera is replaced by the mean (warning; ``aggregator_used`` says so).
        camera_units: ``"auto"``, ``"pixels"`` or ``"normalized"`` (see :func:`parse_camera`).
        presence: ``(N,)`` / ``(C, N)`` bool, whether each person is in each frame (default all True).
        actions: Action label for the prompt (``None``: neutral prompt); one string for everybody or one
            per person.
        threshold: Joints with confidence below this are missing (interpolated).
        hypotheses, steps: Call-time H and M (default: the model's spec).
        generator: ``torch.Generator`` for the diffusion noise; or ``seed``.
        seed: Seed for a fresh CPU generator (ignored when ``generator`` is given).
        overlap: Frames shared by neighbouring windows (default ``F // 4``), ``0 ≤ overlap < F``.
        max_gap: Absent frames bridged inside one track (longer gaps split it into segments).
        aggregator: Override the model's aggregator: a registered name (``"mean"``, ``"jpma"``) or module.
        batch_size: Windows per sampler call.
        keep_hypotheses: Also return the blended hypotheses ``(…, H, N, J, 3)`` of the last step.
        progress: Show a progress bar (tqdm).

    Returns:
        :class:`LiftResult`; ``poses3d`` is ``(N, J, 3)`` for one person or ``(C, N, J, 3)`` metres,
        root-relative, zero where the person is absent.

    Raises:
        InputError: bad shapes, unknown format, pixels without an image size, bad camera, an explicit
            ``aggregator`` whose inputs are missing.
        CheckpointError: unreadable weights.

    Warns:
        UserWarning: the aggregator fell back to the mean (no camera), a joint was never observed in a
            segment (placed at its parent), or a person had no confident joint at all (not lifted).
    """
    t0 = time.perf_counter()
    if format is not None and skeleton is not None and format != skeleton:
        raise InputError(f"format and skeleton are aliases; got format={format!r} and skeleton={skeleton!r}")
    fmt = format if format is not None else skeleton
    if not 0.0 <= float(threshold) <= 1.0:
        raise InputError(f"threshold must be in [0, 1]; got {threshold}")
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be >= 1; got {batch_size}")
    if int(max_gap) < 0:
        raise InputError(f"max_gap must be >= 0; got {max_gap}")
    for name, v in (("hypotheses", hypotheses), ("steps", steps)):
        if v is not None and int(v) < 1:
            raise InputError(f"{name} must be >= 1; got {v}")

    notes: list[str] = []
    tracks, single, info = _read_input(keypoints, fmt, image_size, coords, float(threshold), presence)
    image_size = info.get("image_size")
    cam = parse_camera(camera, image_size, camera_units)

    model, model_info = _resolve_lifter(weights, lifter, None)
    sk = model.skeleton
    F = int(model.frames)
    J = sk.num_joints
    ov = F // 4 if overlap is None else int(overlap)
    if not 0 <= ov < F:
        raise InputError(f"overlap must be in [0, {F - 1}] for this model's {F}-frame window; got {overlap}")
    agg, agg_name = _resolve_aggregator(model, aggregator, cam is not None, notes)

    C = len(tracks)
    actions_per = _actions_per_person(actions, C)
    if generator is None and seed is not None:
        generator = torch.Generator().manual_seed(int(seed))

    from .geometry.skeletons import convert_joints

    # ---- plan: segments and windows of every person
    clips: list[tuple[int, int, int, np.ndarray]] = []  # (person, seg_start, win_start, x2d (F,J,2))
    segs_of: list[list[tuple[int, int, np.ndarray]]] = []
    N = tracks[0].xy.shape[0]
    x2d_out = np.zeros((C, N, J, 2), np.float32)
    jmask_out = np.zeros((C, N, J), bool)
    mask_out = np.zeros((C, N), bool)
    for c, tr in enumerate(tracks):
        segs = _segments(tr.present, tr.observed.any(1), int(max_gap))
        dropped = int((tr.present & ~tr.observed.any(1)).sum())
        if dropped and not segs:
            notes.append(f"person {c}: no joint above the confidence threshold in any frame; not lifted")
        elif dropped:
            notes.append(f"person {c}: {dropped} present frame(s) had no confident joint (interpolated or skipped)")
        per = []
        for s, e in segs:
            filled = _fill_segment(tr.xy[s:e], tr.observed[s:e], _h36m(), notes, f"person {c} frames {s}-{e - 1}")
            if sk.name != "h36m-17":
                filled = convert_joints(filled, "h36m-17", sk.name)
                obs = convert_joints(tr.observed[s:e, :, None], "h36m-17", sk.name)[..., 0]
            else:
                obs = tr.observed[s:e]
            L = e - s
            starts = window_plan(L, F, ov)
            for st in starts:
                idx = np.clip(np.arange(st, st + F), 0, L - 1)
                clips.append((c, s, int(st), filled[idx].astype(np.float32)))
            per.append((s, e, starts))
            present = tr.present[s:e]
            x2d_out[c, s:e] = np.where(present[:, None, None], filled, 0.0)
            jmask_out[c, s:e] = obs & present[:, None]
            mask_out[c, s:e] = present
        segs_of.append(per)

    H_eff = int(hypotheses) if hypotheses is not None else int(getattr(model.sampler, "hypotheses", 1))
    pred = np.zeros((len(clips), F, J, 3), np.float32)
    hyp_pred = np.zeros((len(clips), H_eff, F, J, 3), np.float32) if keep_hypotheses else None
    cam_t = None if cam is None else torch.as_tensor(cam, dtype=torch.float32, device=model.device)
    step_idx = int(getattr(agg, "step", -1))
    batches = range(0, len(clips), int(batch_size))
    if progress and len(clips) > int(batch_size):
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="lifting", unit="batch")
    with torch.no_grad():
        for b0 in batches:
            chunk = clips[b0:b0 + int(batch_size)]
            x = torch.from_numpy(np.stack([cl[3] for cl in chunk])).to(model.device)
            acts = [actions_per[cl[0]] for cl in chunk]
            hyps = model.sample(x, actions=None if all(a is None for a in acts) else acts, generator=generator,
                                hypotheses=hypotheses, steps=steps)
            last = hyps[:, step_idx]
            kwargs: dict[str, Any] = {"x2d": x}
            if cam_t is not None:
                kwargs["camera"] = cam_t.unsqueeze(0).expand(x.shape[0], -1)
            out = agg(last, **kwargs).float()
            out[..., sk.root, :] = 0.0
            pred[b0:b0 + len(chunk)] = out.cpu().numpy()
            if hyp_pred is not None:
                hyp_pred[b0:b0 + len(chunk)] = last.float().cpu().numpy()

    # ---- stitch with cross-fade weights
    poses = np.zeros((C, N, J, 3), np.float32)
    hyp_out = np.zeros((C, H_eff, N, J, 3), np.float32) if keep_hypotheses else None
    k = 0
    n_windows = 0
    for c, per in enumerate(segs_of):
        for s, e, starts in per:
            L = e - s
            w = blend_weights(starts, F, L)
            acc = np.zeros((L, J, 3))
            hacc = np.zeros((H_eff, L, J, 3)) if keep_hypotheses else None
            tot = np.zeros(L)
            for a, st in enumerate(starts):
                valid = w[a] > 0
                frames_idx = st + np.flatnonzero(valid)
                acc[frames_idx] += pred[k][valid] * w[a][valid][:, None, None]
                if hacc is not None:
                    hacc[:, frames_idx] += hyp_pred[k][:, valid] * w[a][valid][None, :, None, None]
                tot[frames_idx] += w[a][valid]
                k += 1
            n_windows += len(starts)
            present = mask_out[c, s:e]
            seg_pose = acc / tot[:, None, None]
            poses[c, s:e] = np.where(present[:, None, None], seg_pose, 0.0)
            if hyp_out is not None:
                hyp_out[c, :, s:e] = np.where(present[None, :, None, None], hacc / tot[None, :, None, None], 0.0)

    for n in notes:
        if "using the mean" not in n:
            warnings.warn(n, stacklevel=2)
    meta = {
        "posediff_version": _version(),
        **model_info,
        **info,
        "camera": None if cam is None else [float(v) for v in cam],
        "window": F,
        "overlap": ov,
        "windows": n_windows,
        "hypotheses": H_eff,
        "steps": int(steps) if steps is not None else int(getattr(model.sampler, "steps", 0) or 0),
        "seed": seed,
        "actions": actions_per if not single else actions_per[0],
        "threshold": float(threshold),
        "max_gap": int(max_gap),
        "aggregator_model": model.spec["aggregator"]["name"],
        "notes": notes,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if single:
        return LiftResult(poses[0], mask_out[0], x2d_out[0], jmask_out[0], agg_name, sk.name,
                          None if hyp_out is None else hyp_out[0], meta)
    return LiftResult(poses, mask_out, x2d_out, jmask_out, agg_name, sk.name, hyp_out, meta)


def _h36m():
    from .geometry.skeletons import get_skeleton

    return get_skeleton("h36m-17")


def _actions_per_person(actions, people: int) -> list[Optional[str]]:
    if actions is None or isinstance(actions, str):
        return [actions] * people
    acts = list(actions)
    if len(acts) != people:
        raise InputError(f"actions must be one string or one per person ({people}); got {len(acts)}")
    for a in acts:
        if a is not None and not isinstance(a, str):
            raise InputError(f"actions must be strings or None; got {type(a).__name__}")
    return acts


def _version() -> str:
    return __version__
