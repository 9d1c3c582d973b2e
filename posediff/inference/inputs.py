"""Reading the user's 2D keypoints for :func:`posediff.lift`: formats, normalisation, tracks and gaps."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..errors import InputError


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


def normalise_xy(xy: np.ndarray, image_size, coords: str) -> np.ndarray:
    """2D ``(..., 2)`` in ``coords`` units (pixels, unit square or normalised) → normalised screen coordinates."""
    from ..geometry.cameras import normalize_screen_coordinates

    if coords == "normalized":
        return xy
    w, h = image_size
    if coords == "unit":
        xy = xy * np.array([w, h], dtype=np.float64)
    return np.asarray(normalize_screen_coordinates(xy, w, h), dtype=np.float64)


def read_input(keypoints, fmt, image_size, coords, threshold, presence):
    """→ (tracks, single, info) with tracks in h36m-17 normalised coordinates."""
    from ..data.formats import Keypoints2D, read_keypoints, to_h36m

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
            if raw.people is not None and presence is None:  # a multi-person file: every track
                arr, presence = raw.people.keypoints, raw.people.presence
                info["tracks"] = raw.people.describe()
                info["track_ids"] = [str(i) for i in raw.people.ids]
            fmt = fmt or raw.format
            if raw.fps:
                info["fps"] = float(raw.fps)
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
    from ..data.formats import resolve_format

    fmt_name, assumed = resolve_format(J, fmt, None, where="keypoints")
    if assumed:
        info["format_assumed"] = assumed

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
        x = normalise_xy(x, image_size, coords)
        x[~obs] = np.nan
        tracks.append(_Track(x, obs, pres[c].copy()))
    return tracks, single, info


def detect_video_input(path, *, fmt, image_size, coords, presence, detector, detector_params, progress):
    """Detect the people of a video → ``(keypoints, presence, format, image_size, coords, detections)``: the
    arguments :func:`read_input` takes, and the :class:`~posediff.video.detect.VideoKeypoints`.

    Raises:
        InputError: ``format``, ``image_size``, ``coords`` or ``presence`` given (the video and the detector set
            them), or what :func:`posediff.video.detect_video` raises.
    """
    from ..video import detect_video

    given = [n for n, v in (("format", fmt), ("image_size", image_size), ("coords", coords), ("presence", presence))
             if v is not None]
    if given:
        raise InputError(f"{', '.join(given)} cannot be given with a video: the detector sets the joint format, and "
                         "the frame size and presence come from the video and the detections")
    found = detect_video(path, detector, detector_params=detector_params, progress=progress)
    kps, pres = found.keypoints, found.presence
    if kps.shape[0] == 1:
        kps, pres = kps[0], pres[0]
    return kps, pres, found.format, found.info.size, "pixels", found


def _read_multi_npz(path: Path):
    """A multi-person ``.npz`` (``keypoints (C, N, J, 2|3)``, optional ``presence (C, N)``, ``format``,
    ``image_size``) → ``(keypoints, presence, format, image_size)``; None for any other file."""
    from ..errors import DataError

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


def present_segments(present: np.ndarray, observed_any: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
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


def fill_segment(xy: np.ndarray, obs: np.ndarray, skeleton, notes: list[str], where: str) -> np.ndarray:
    """Fill missing joints of one segment: in time, then (joint never seen) from its parent."""
    from ..data.formats import interpolate_missing

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


def h36m_skeleton():
    """The ``h36m-17`` joint set (the layout every input is brought to before the model's own)."""
    from ..geometry.skeletons import get_skeleton

    return get_skeleton("h36m-17")


def actions_per_person(actions, people: int) -> list[Optional[str]]:
    """One action label (or None) per person from ``None``, one label for all, or one label per person."""
    if actions is None or isinstance(actions, str):
        return [actions] * people
    acts = list(actions)
    if len(acts) != people:
        raise InputError(f"actions must be one string or one per person ({people}); got {len(acts)}")
    for a in acts:
        if a is not None and not isinstance(a, str):
            raise InputError(f"actions must be strings or None; got {type(a).__name__}")
    return acts
