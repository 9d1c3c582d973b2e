"""2D keypoints from the user's own detector → ``h36m-17`` input for the lifter.

Supported layouts (:data:`KEYPOINT_FORMATS`): ``coco-17``, ``h36m-17``, ``3dhp-17``, ``mediapipe-33`` (pose
landmarks), ``openpose-25`` (OpenPose BODY_25), ``halpe-26`` (AlphaPose's Halpe models: COCO-17, then head
top, neck, mid hip, big toes, small toes, heels) and ``coco-wholebody-133`` (COCO-WholeBody/RTMW: COCO-17
body, 6 feet, 68 face, 2 × 21 hands; the body part is used). Files: OpenPose per-frame JSON folders, a single
JSON (list of frames, OpenPose frames, COCO-style results and AlphaPose's ``alphapose-results.json`` with
several people per frame and ``idx`` track ids, MMPose/RTMPose predictions, or ``{"keypoints": ...}``),
NPZ/NPY arrays ``(T, J, 2|3)`` and CSV (one row per frame, ``x, y[, c]`` per joint). Several people per frame
become tracks (:mod:`posediff.data.tracking`).

Conversion to ``h36m-17`` — each target joint is the first *available* recipe among its alternatives
(available = every source joint observed in that frame). Approximations, since these formats lack some
H36M joints:

* pelvis = mid-hips (OpenPose: its MidHip first); spine = mid(pelvis, thorax) = mean of both hips and both
  shoulders (OpenPose fallback: mid(Neck, MidHip)); thorax = mid-shoulders (OpenPose fallback: Neck).
* neck/nose (H36M joint 9, near the nose) = nose, else mid-eyes, else mid-ears.
* head (H36M joint 10, the top of the head) = mid-eyes, else mid-ears, else one eye, else one ear. The true
  head top lies some 10 cm higher, so the converted head is biased low.
* Halpe-26 has the joints COCO lacks: pelvis = its mid hip, thorax = its neck, spine = mid(neck, mid hip),
  head = its head top (so no low bias).
* ``3dhp-17`` uses the conventional correspondence of :func:`posediff.geometry.skeletons.convert_joints`
  (3DHP neck → thorax, head → neck/nose, head_top → head).

Confidence: a third channel is a confidence (or visibility) per joint. Joints with confidence below
``threshold`` or NaN coordinates are *missing*; after conversion each missing joint is filled by linear
interpolation in time between observed frames (the nearest observed frame at either end) and reported in the
returned mask. A joint that is missing in every frame is an error. Finally the pixels are normalised by the
image size (``normalize_screen_coordinates``).

Size: the joint tables of seven keypoint formats and the conversion rule they share; one table per format, one
rule.

"""
from __future__ import annotations

import csv
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np

from ..errors import DataError, InputError
from ..geometry.cameras import normalize_screen_coordinates
from ..geometry.skeletons import convert_joints, get_skeleton
from .sample import Sequence

__all__ = [
    "KeypointFormat",
    "KEYPOINT_FORMATS",
    "get_format",
    "resolve_format",
    "ASSUMED_17_JOINT_FORMAT",
    "Keypoints2D",
    "RawKeypoints",
    "to_h36m",
    "interpolate_missing",
    "prepare_keypoints",
    "read_keypoints",
    "load_keypoints",
]

Recipe = tuple[tuple[int, float], ...]


def _one(i: int) -> tuple[Recipe]:
    return (((i, 1.0),),)


def _mid(a: int, b: int) -> Recipe:
    return ((a, 0.5), (b, 0.5))


def _quad(a: int, b: int, c: int, d: int) -> Recipe:
    return ((a, 0.25), (b, 0.25), (c, 0.25), (d, 0.25))


@dataclass(frozen=True)
class KeypointFormat:
    """A 2D keypoint layout and how to build the 17 ``h36m-17`` joints from it.

    Attributes:
        name: Format name, e.g. ``"coco-17"``.
        joints: Source joint names in order.
        recipes: Per ``h36m-17`` joint, alternatives in order of preference; an alternative is a tuple of
            ``(source index, weight)`` with weights summing to 1.
        aliases: Other accepted names.
    """

    name: str
    joints: tuple[str, ...]
    recipes: tuple[tuple[Recipe, ...], ...]
    aliases: tuple[str, ...] = ()

    @property
    def num_joints(self) -> int:
        """Number of source joints J."""
        return len(self.joints)


_COCO_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
_COCO = KeypointFormat(
    name="coco-17",
    joints=_COCO_JOINTS,
    recipes=(
        (_mid(11, 12),), _one(12), _one(14), _one(16), _one(11), _one(13), _one(15),
        (_quad(5, 6, 11, 12),), (_mid(5, 6),),
        (((0, 1.0),), _mid(1, 2), _mid(3, 4)),
        (_mid(1, 2), _mid(3, 4), ((1, 1.0),), ((2, 1.0),), ((3, 1.0),), ((4, 1.0),)),
        _one(5), _one(7), _one(9), _one(6), _one(8), _one(10),
    ),
    aliases=("coco", "coco17"),
)

_MEDIAPIPE_JOINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
_MEDIAPIPE = KeypointFormat(
    name="mediapipe-33",
    joints=_MEDIAPIPE_JOINTS,
    recipes=(
        (_mid(23, 24),), _one(24), _one(26), _one(28), _one(23), _one(25), _one(27),
        (_quad(11, 12, 23, 24),), (_mid(11, 12),),
        (((0, 1.0),), _mid(2, 5), _mid(9, 10), _mid(7, 8)),
        (_mid(2, 5), _mid(7, 8), ((2, 1.0),), ((5, 1.0),), ((7, 1.0),), ((8, 1.0),)),
        _one(11), _one(13), _one(15), _one(12), _one(14), _one(16),
    ),
    aliases=("mediapipe", "blazepose", "mediapipe33"),
)

_BODY25_JOINTS = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)
_BODY25 = KeypointFormat(
    name="openpose-25",
    joints=_BODY25_JOINTS,
    recipes=(
        (((8, 1.0),), _mid(9, 12)), _one(9), _one(10), _one(11), _one(12), _one(13), _one(14),
        (_quad(2, 5, 9, 12), _mid(1, 8)), (_mid(2, 5), ((1, 1.0),)),
        (((0, 1.0),), _mid(15, 16), _mid(17, 18)),
        (_mid(15, 16), _mid(17, 18), ((15, 1.0),), ((16, 1.0),), ((17, 1.0),), ((18, 1.0),)),
        _one(5), _one(6), _one(7), _one(2), _one(3), _one(4),
    ),
    aliases=("openpose", "body25", "body_25", "openpose-body25"),
)


_HALPE26_JOINTS = _COCO_JOINTS + (
    "head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel",
    "right_heel",
)
"""Halpe-26 (AlphaPose ``halpe26`` models): COCO-17 body, then head top, neck, mid hip and six foot points."""
_HALPE26 = KeypointFormat(
    name="halpe-26",
    joints=_HALPE26_JOINTS,
    recipes=(
        (((19, 1.0),), _mid(11, 12)), _one(12), _one(14), _one(16), _one(11), _one(13), _one(15),
        (_mid(18, 19), _quad(5, 6, 11, 12)), (((18, 1.0),), _mid(5, 6)),
        (((0, 1.0),), _mid(1, 2), _mid(3, 4)),
        (((17, 1.0),), _mid(1, 2), _mid(3, 4), ((1, 1.0),), ((2, 1.0),), ((3, 1.0),), ((4, 1.0),)),
        _one(5), _one(7), _one(9), _one(6), _one(8), _one(10),
    ),
    aliases=("halpe", "halpe26", "alphapose-halpe26"),
)

_WHOLEBODY_JOINTS = _COCO_JOINTS + (
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
) + tuple(f"face_{i}" for i in range(68)) + tuple(f"left_hand_{i}" for i in range(21)) + \
    tuple(f"right_hand_{i}" for i in range(21))
"""COCO-WholeBody-133: 0–16 COCO body, 17–22 feet, 23–90 face (68), 91–111 left hand, 112–132 right hand."""
_WHOLEBODY = KeypointFormat(
    name="coco-wholebody-133",
    joints=_WHOLEBODY_JOINTS,
    recipes=_COCO.recipes,  # the body part: the first 17 joints are COCO-17
    aliases=("wholebody", "coco-wholebody", "wholebody133", "rtmw"),
)


def _identity_recipes(index: list[int]) -> tuple[tuple[Recipe, ...], ...]:
    return tuple(_one(i) for i in index)


_H36M_SK = get_skeleton("h36m-17")
_3DHP_SK = get_skeleton("3dhp-17")
_H36M = KeypointFormat("h36m-17", _H36M_SK.joints, _identity_recipes(list(range(17))), aliases=("h36m",))
_3DHP_TO_H36M = [int(i) for i in convert_joints(np.arange(17)[:, None], "3dhp-17", "h36m-17")[:, 0]]
_3DHP = KeypointFormat("3dhp-17", _3DHP_SK.joints, _identity_recipes(_3DHP_TO_H36M),
                       aliases=("3dhp", "mpi-inf-3dhp"))

KEYPOINT_FORMATS: dict[str, KeypointFormat] = {f.name: f for f in (_COCO, _H36M, _3DHP, _MEDIAPIPE, _BODY25, _HALPE26,
                                                                   _WHOLEBODY)}
"""Supported 2D input formats by name."""

_BY_ALIAS = {a: f for f in KEYPOINT_FORMATS.values() for a in (f.name, *f.aliases)}
_BY_JOINTS_UNIQUE = {25: "openpose-25", 26: "halpe-26", 33: "mediapipe-33", 133: "coco-wholebody-133"}


ASSUMED_17_JOINT_FORMAT = "coco-17"
"""The layout assumed for 17 joints when neither the caller nor the file names one (with a warning)."""


def resolve_format(joints: int, given: Optional[str] = None, from_file: Optional[str] = None,
                   where: str = "keypoints") -> tuple[str, Optional[str]]:
    """The one rule for the joint layout of 2D input (``posediff.lift``, ``posediff lift``, :func:`load_keypoints`).

    ``given`` (the caller's) wins, then the layout the file declares (``from_file``), then the joint count when
    it is unambiguous (25 → ``openpose-25``, 33 → ``mediapipe-33``). 17 joints fit COCO-17, H36M-17 and
    3DHP-17: :data:`ASSUMED_17_JOINT_FORMAT` is assumed and a message saying so is returned, to be warned about
    and recorded (the caller never guesses silently).

    Returns:
        ``(format name, assumption message or None)``.

    Raises:
        InputError: a given format with another joint count, or a joint count no format has.
    """
    if given is not None:
        fmt = get_format(given)
        if fmt.num_joints != joints:
            hint = _BY_JOINTS_UNIQUE.get(joints)
            raise InputError(f"{where} must have {fmt.num_joints} joints for format {fmt.name!r}; got {joints}"
                             + (f"; {joints} joints look like {hint!r} (format={hint!r})" if hint else ""))
        return fmt.name, None
    if from_file is not None:
        return get_format(from_file).name, None
    if joints in _BY_JOINTS_UNIQUE:
        return _BY_JOINTS_UNIQUE[joints], None
    if joints == 17:
        others = [n for n, f in KEYPOINT_FORMATS.items() if f.num_joints == 17 and n != ASSUMED_17_JOINT_FORMAT]
        return ASSUMED_17_JOINT_FORMAT, (
            f"{where}: 17 joints and no format given: assumed {ASSUMED_17_JOINT_FORMAT} (COCO order); pass "
            f"format= one of {', '.join(others)} if the joints are in another order")
    raise InputError(f"{where} must have 17, 25, 26, 33 or 133 joints, or pass format= (one of "
                     f"{', '.join(KEYPOINT_FORMATS)}); got {joints} joints")


def get_format(name: str | KeypointFormat) -> KeypointFormat:
    """Look up a keypoint format by name or alias (case-insensitive).

    Raises:
        InputError: unknown format (the message lists the known ones).
    """
    if isinstance(name, KeypointFormat):
        return name
    fmt = _BY_ALIAS.get(str(name).lower())
    if fmt is None:
        raise InputError(f"unknown keypoint format {name!r}; expected one of {', '.join(KEYPOINT_FORMATS)}")
    return fmt


def _split_confidence(keypoints: np.ndarray, fmt: KeypointFormat, threshold: float):
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3 or kp.shape[1] != fmt.num_joints or kp.shape[2] not in (2, 3):
        raise InputError(
            f"keypoints for format {fmt.name!r} must have shape (T, {fmt.num_joints}, 2 or 3); "
            f"got {tuple(np.shape(keypoints))}"
        )
    if kp.shape[0] == 0:
        raise InputError("keypoints must hold at least one frame; got T=0")
    xy = kp[..., :2]
    conf = kp[..., 2] if kp.shape[2] == 3 else np.ones(kp.shape[:2])
    conf = np.where(np.isfinite(conf), conf, 0.0)
    observed = np.isfinite(xy).all(-1) & (conf >= threshold)
    return xy, conf, observed


def to_h36m(keypoints, source: str | KeypointFormat, threshold: float = 0.3):
    """Convert one format to ``h36m-17`` frame by frame, without filling gaps.

    Args:
        keypoints: ``(T, J, 2)`` or ``(T, J, 3)`` (last channel = confidence), any units.
        source: Format name (see :data:`KEYPOINT_FORMATS`).
        threshold: Joints with confidence below this (or NaN coordinates) count as missing.

    Returns:
        ``(x (T, 17, 2) float64 with NaN where missing, confidence (T, 17) float64, observed (T, 17) bool)``;
        a target joint's confidence is the minimum over the source joints of the recipe used.
    """
    fmt = get_format(source)
    xy, conf, obs = _split_confidence(keypoints, fmt, threshold)
    T = xy.shape[0]
    out = np.full((T, 17, 2), np.nan)
    out_conf = np.zeros((T, 17))
    done = np.zeros((T, 17), dtype=bool)
    for j, alternatives in enumerate(fmt.recipes):
        for recipe in alternatives:
            idx = [i for i, _ in recipe]
            wts = np.array([w for _, w in recipe])
            ok = obs[:, idx].all(1) & ~done[:, j]
            if not ok.any():
                continue
            pts = np.einsum("tkc,k->tc", np.nan_to_num(xy[:, idx]), wts)
            out[ok, j] = pts[ok]
            out_conf[ok, j] = conf[:, idx].min(1)[ok]
            done[:, j] |= ok
    return out, out_conf, done


def interpolate_missing(x: np.ndarray, observed: np.ndarray, names: tuple[str, ...] | None = None) -> np.ndarray:
    """Fill missing joints by linear interpolation in time (nearest observed frame at the ends).

    Args:
        x: ``(T, J, D)`` values (missing entries may be anything, e.g. NaN).
        observed: ``(T, J)`` bool, True where ``x`` is observed.
        names: Joint names for error messages.

    Returns:
        ``(T, J, D)`` float64 with every missing entry filled.

    Raises:
        InputError: shape mismatch, or a joint missing in every frame.
    """
    x = np.asarray(x, dtype=np.float64)
    observed = np.asarray(observed, dtype=bool)
    if x.ndim != 3 or observed.shape != x.shape[:2]:
        raise InputError(f"x (T, J, D) and observed (T, J) must agree; got {x.shape} and {observed.shape}")
    out = x.copy()
    t = np.arange(x.shape[0])
    for j in range(x.shape[1]):
        m = observed[:, j]
        if m.all():
            continue
        if not m.any():
            name = names[j] if names is not None else str(j)
            raise InputError(f"keypoints joint {j} ({name}) must be observed in at least one frame to be filled; "
                             f"got it missing in all {x.shape[0]} frames")
        for d in range(x.shape[2]):
            out[~m, j, d] = np.interp(t[~m], t[m], x[m, j, d])
    return out


@dataclass
class Keypoints2D:
    """2D keypoints ready for the lifter.

    Attributes:
        x2d: ``(T, 17, 2)`` float32 ``h36m-17`` joints in normalised screen coordinates (gaps filled).
        pixels: ``(T, 17, 2)`` float32 the same joints in pixels.
        mask: ``(T, 17)`` bool, True where the joint was observed (False = interpolated).
        confidence: ``(T, 17)`` float32 confidence of each converted joint (0 where interpolated).
        image_size: ``(w, h)`` pixels.
        source_format: The input format name.
    """

    x2d: np.ndarray
    pixels: np.ndarray
    mask: np.ndarray
    confidence: np.ndarray
    image_size: tuple[int, int]
    source_format: str
    skeleton: str = "h36m-17"

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return int(self.x2d.shape[0])

    def to_sequence(self, subject: str = "input", action: str = "", fps: float = 50.0,
                    camera: np.ndarray | None = None) -> Sequence:
        """A :class:`Sequence` without 3D (for lifting)."""
        return Sequence(subject=subject, action=action, x2d=self.x2d, camera=camera, image_size=self.image_size,
                        skeleton=self.skeleton, fps=fps, source=f"keypoints:{self.source_format}")


def _check_image_size(image_size) -> tuple[int, int]:
    try:
        w, h = (float(v) for v in image_size)
    except (TypeError, ValueError):
        raise InputError(f"image_size must be (w, h) in pixels; got {image_size!r}") from None
    if w <= 0 or h <= 0:
        raise InputError(f"image_size must be positive (w, h); got {image_size!r}")
    return int(round(w)), int(round(h))


def prepare_keypoints(keypoints, source: str | KeypointFormat, image_size: tuple[int, int],
                      threshold: float = 0.3, coords: Literal["pixels", "unit"] = "pixels") -> Keypoints2D:
    """Convert, fill and normalise one person's 2D keypoints.

    Args:
        keypoints: ``(T, J, 2)`` or ``(T, J, 3)`` with confidence as last channel.
        source: Input format name.
        image_size: ``(w, h)`` in pixels.
        threshold: Confidence threshold below which a joint is missing.
        coords: ``"pixels"``, or ``"unit"`` when x, y are fractions of the image size (MediaPipe's default
            output), which are then multiplied by ``(w, h)``.

    Raises:
        InputError: unknown format, wrong shape, bad image size, a joint missing in every frame.
    """
    fmt = get_format(source)
    w, h = _check_image_size(image_size)
    kp = np.array(keypoints, dtype=np.float64)
    if coords == "unit":
        if kp.ndim >= 2 and kp.shape[-1] in (2, 3):
            kp[..., 0] *= w
            kp[..., 1] *= h
    elif coords != "pixels":
        raise InputError(f"coords must be 'pixels' or 'unit'; got {coords!r}")
    x, conf, observed = to_h36m(kp, fmt, threshold)
    filled = interpolate_missing(x, observed, _H36M_SK.joints)
    x2d = normalize_screen_coordinates(filled, w, h)
    return Keypoints2D(
        x2d=np.asarray(x2d, dtype=np.float32), pixels=filled.astype(np.float32), mask=observed,
        confidence=np.where(observed, conf, 0.0).astype(np.float32), image_size=(w, h), source_format=fmt.name,
    )


# --------------------------------------------------------------------------- readers
@dataclass
class RawKeypoints:
    """What a reader found in a file.

    Attributes:
        keypoints: ``(T, J, 3)`` float64, pixels (or unit coordinates) and confidence (1 where absent).
        format: Format name when the file tells (e.g. OpenPose, COCO results), else None.
        image_size: ``(w, h)`` when the file tells, else None.
        fps: Frame rate when the file tells, else None.
        people: Every person of a multi-person file (:class:`~posediff.data.tracking.Tracks`), else None;
            ``keypoints`` then holds the person seen in most frames (confidence 0 where absent).
    """

    keypoints: np.ndarray
    format: str | None = None
    image_size: tuple[int, int] | None = None
    fps: float | None = None
    people: Any = None


def _natural_key(p: Path):
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", p.name)]


def _as_tj3(arr, where: str) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] in (2, 3) and a.shape[0] in (17, 25, 33):
        a = a[None]
    if a.ndim == 2 and a.shape[1] % 3 == 0 and a.shape[1] // 3 in (17, 25, 33):
        a = a.reshape(a.shape[0], -1, 3)
    if a.ndim != 3 or a.shape[2] not in (2, 3):
        raise InputError(f"{where}: keypoints must have shape (T, J, 2 or 3); got {tuple(a.shape)}")
    if a.shape[2] == 2:
        a = np.concatenate([a, np.ones(a.shape[:2] + (1,))], -1)
    return a


def _pick_person(people: list, key: str, num: int | None, where: str) -> np.ndarray | None:
    best, best_score = None, -np.inf
    for person in people:
        flat = np.asarray(person.get(key, []), dtype=np.float64).reshape(-1)
        if flat.size == 0:
            continue
        if flat.size % 3:
            raise InputError(f"{where}: {key} must hold x, y, c triplets; got {flat.size} numbers")
        kp = flat.reshape(-1, 3)
        if num is not None and kp.shape[0] != num:
            raise InputError(f"{where}: people disagree on the joint count ({kp.shape[0]} vs {num})")
        score = float(person.get("score", np.nanmean(kp[:, 2])))
        if score > best_score:
            best, best_score = kp, score
    return best


def _openpose_frames(frames: list[dict], where: str) -> RawKeypoints:
    picked, J = [], None
    for i, fr in enumerate(frames):
        kp = _pick_person(fr.get("people", []), "pose_keypoints_2d", J, f"{where} frame {i}")
        if kp is not None:
            J = kp.shape[0]
        picked.append(kp)
    if J is None:
        raise InputError(f"{where}: no person found in any of {len(frames)} frames")
    kps = np.stack([p if p is not None else np.zeros((J, 3)) for p in picked])
    fmt = {25: "openpose-25"}.get(J)
    if fmt is None:
        raise InputError(f"{where}: OpenPose files with {J} joints are not supported; expected BODY_25 (25)")
    return RawKeypoints(kps, fmt)


_FORMAT_BY_JOINTS = {17: "coco-17", 26: "halpe-26", 133: "coco-wholebody-133"}
"""Layouts of detector output files by joint count (COCO results, AlphaPose, MMPose)."""


def _track_id(value: Any) -> Any:
    """AlphaPose writes ``idx`` as an int, a float or a one-element list; MMPose ``track_id`` as an int."""
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) == 1 else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value


def _people(frames: list[list], where: str, tool: str) -> RawKeypoints:
    """Per-frame :class:`~posediff.data.tracking.Detection` lists → :class:`RawKeypoints` (one person: its
    sequence; several: ``people`` and the person seen in most frames)."""
    from .tracking import assemble_tracks

    counts = sorted({d.keypoints.shape[0] for fr in frames for d in fr})
    if not counts:
        raise InputError(f"{where}: no person detection found in any of {len(frames)} frame(s)")
    if len(counts) > 1:
        raise InputError(f"{where}: detections disagree on the joint count ({', '.join(map(str, counts))}); "
                         f"a {tool} file holds one keypoint layout")
    J = counts[0]
    fmt = _FORMAT_BY_JOINTS.get(J)
    if fmt is None:
        raise InputError(f"{where}: {tool} output with {J} keypoints per person is not supported; expected "
                         f"{', '.join(f'{k} ({v})' for k, v in _FORMAT_BY_JOINTS.items())}")
    tracks = assemble_tracks(frames, J)
    main = int(np.argmax(tracks.presence.sum(1)))
    if len(tracks.ids) == 1:
        return RawKeypoints(tracks.keypoints[0], fmt)
    return RawKeypoints(tracks.keypoints[main], fmt, people=tracks)


def _frame_order(ids: list) -> list:
    """Frame keys in natural order (numbers, and file names such as ``out12.png`` by their digits)."""
    return sorted(ids, key=lambda v: (isinstance(v, str), v if not isinstance(v, str) else _natural_key(Path(v))))


def _coco_results(items: list[dict], where: str) -> RawKeypoints:
    """COCO results JSON, as written by COCO-style detectors and AlphaPose (``alphapose-results.json``):
    a list of ``{"image_id", "category_id", "keypoints": [x, y, c, ...], "score", "box"/"bbox": [x, y, w, h],
    "idx": track id}``, several per image; frames in natural order of ``image_id``."""
    from .tracking import Detection

    by_image: dict = {}
    for it in items:
        if int(it.get("category_id", 1)) != 1:
            continue
        by_image.setdefault(it.get("image_id"), []).append(it)
    if not by_image:
        raise InputError(f"{where}: no person detections (category_id 1) found")
    frames = []
    for i in _frame_order(list(by_image)):
        dets = []
        for it in by_image[i]:
            flat = np.asarray(it["keypoints"], dtype=np.float64).reshape(-1)
            if flat.size % 3:
                raise InputError(f"{where} image {i!r}: keypoints must hold x, y, c triplets; got {flat.size} numbers")
            box = it.get("box", it.get("bbox"))
            box = None if box is None or len(box) != 4 else (box[0], box[1], box[0] + box[2], box[1] + box[3])
            score = it.get("score")
            dets.append(Detection(flat.reshape(-1, 3), box, None if score is None else float(score),
                                  _track_id(it.get("idx", it.get("track_id")))))
        frames.append(dets)
    tool = "AlphaPose" if any("idx" in it or "box" in it for it in items) else "COCO results"
    return _people(frames, where, tool)


def _mmpose_instances(inst: list, where: str) -> list:
    from .tracking import Detection

    dets = []
    for d in inst:
        kp = np.asarray(d["keypoints"], dtype=np.float64).reshape(-1, 2)
        sc = np.asarray(d.get("keypoint_scores", np.ones(len(kp))), dtype=np.float64).reshape(-1)
        if sc.size != len(kp):
            raise InputError(f"{where}: {len(kp)} keypoints but {sc.size} keypoint_scores")
        box = np.asarray(d.get("bbox", []), dtype=np.float64).reshape(-1)
        score = d.get("bbox_score")
        score = float(np.asarray(score).reshape(-1)[0]) if score is not None else None
        dets.append(Detection(np.concatenate([kp, sc[:, None]], 1), tuple(box[:4]) if box.size >= 4 else None,
                              score, _track_id(d.get("track_id"))))
    return dets


def _mmpose(data: Any, where: str) -> RawKeypoints:
    """MMPose / RTMPose predictions: ``{"meta_info", "instance_info": [{"frame_id", "instances"}]}``
    (``demo/topdown_demo_with_mmdet.py --save-predictions``), the list of ``{"frame_id", "instances"}``, or
    one image's list of instances (``MMPoseInferencer(pred_out_dir=...)``). An instance is
    ``{"keypoints": [[x, y], ...], "keypoint_scores": [...], "bbox": [[x1, y1, x2, y2]], "bbox_score", "track_id"}``."""
    frames_data = data["instance_info"] if isinstance(data, dict) else data
    if all(isinstance(f, dict) and "instances" in f for f in frames_data):
        ordered = sorted(frames_data, key=lambda f: f.get("frame_id", 0))
        frames = [_mmpose_instances(f["instances"], f"{where} frame {f.get('frame_id')}") for f in ordered]
    else:
        frames = [_mmpose_instances(frames_data, where)]
    return _people(frames, where, "MMPose")


def _read_json(path: Path) -> RawKeypoints:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read JSON keypoints {path}: {exc}") from None
    where = str(path)
    if isinstance(data, dict) and "people" in data:
        return _openpose_frames([data], where)
    if isinstance(data, dict) and "instance_info" in data:
        return _mmpose(data, where)
    if isinstance(data, dict) and "keypoints" in data:
        size = data.get("image_size")
        if size is None and "width" in data and "height" in data:
            size = (data["width"], data["height"])
        return RawKeypoints(_as_tj3(data["keypoints"], where), data.get("format"),
                            None if size is None else _check_image_size(size), data.get("fps"))
    if isinstance(data, list) and data and all(isinstance(d, dict) for d in data):
        if all("people" in d for d in data):
            return _openpose_frames(data, where)
        if all("instances" in d for d in data) or all("keypoint_scores" in d for d in data):
            return _mmpose(data, where)
        if all("keypoints" in d for d in data):
            return _coco_results(data, where)
    if isinstance(data, list) and data:
        return RawKeypoints(_as_tj3(data, where))
    raise InputError(
        f"{where}: unrecognised JSON layout; expected OpenPose frame(s), COCO results, a (T, J, C) list or "
        '{"keypoints": ...}'
    )


def _read_csv(path: Path) -> RawKeypoints:
    try:
        rows = [r for r in csv.reader(path.read_text().splitlines()) if r and any(c.strip() for c in r)]
    except OSError as exc:
        raise DataError(f"cannot read CSV keypoints {path}: {exc}") from None
    if not rows:
        raise InputError(f"{path}: empty CSV")
    header = None
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        header, rows = rows[0], rows[1:]
    if header is not None and header and "frame" in header[0].lower():
        rows = [r[1:] for r in rows]
    try:
        arr = np.array([[float(c) if c.strip() else np.nan for c in r] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{path}: non-numeric CSV value ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise InputError(f"{path}: CSV rows must all have the same number of columns")
    n = arr.shape[1]
    for J in (17, 25, 33):
        for C in (3, 2):
            if n == J * C:
                kp = arr.reshape(arr.shape[0], J, C)
                return RawKeypoints(_as_tj3(kp, str(path)))
    raise InputError(
        f"{path}: {n} columns per row; expected J·2 or J·3 with J in 17, 25, 33 (optionally a leading 'frame' column)"
    )


def _read_npz(path: Path, key: str | None) -> RawKeypoints:
    try:
        with np.load(path, allow_pickle=False) as npz:
            files = list(npz.files)
            if key is None:
                key = "keypoints" if "keypoints" in files else (files[0] if len(files) == 1 else None)
            if key is None or key not in files:
                raise InputError(f"{path}: no 'keypoints' array; found {files} (pass key=...)")
            kp = npz[key]
            size = tuple(npz["image_size"].tolist()) if "image_size" in files else None
            fmt = str(npz["format"]) if "format" in files else None
            fps = float(npz["fps"]) if "fps" in files else None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read NPZ keypoints {path}: {exc}") from None
    return RawKeypoints(_as_tj3(kp, str(path)), fmt, None if size is None else _check_image_size(size), fps)


def read_keypoints(path: str | Path, key: str | None = None) -> RawKeypoints:
    """Read 2D keypoints from a file or an OpenPose JSON folder (no conversion).

    Multi-person files (COCO results, AlphaPose, MMPose with several detections per frame) are split into
    tracks (:mod:`posediff.data.tracking`: the tool's track ids, else box matching); ``people`` holds them
    all and ``keypoints`` the person seen in most frames.

    Supported: a folder of OpenPose ``*.json`` frames (sorted naturally by name; the person with the highest
    mean confidence per frame), ``.json`` (see module doc), ``.npz`` (array ``keypoints`` or ``key``; optional
    ``image_size``, ``format``, ``fps``), ``.npy`` and ``.csv``.

    Raises:
        DataError: missing or unreadable file.
        InputError: unrecognised layout or bad shapes.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"), key=_natural_key)
        if not files:
            raise DataError(f"{path}: folder holds no .json files")
        frames = []
        for f in files:
            try:
                frames.append(json.loads(f.read_text()))
            except (OSError, json.JSONDecodeError) as exc:
                raise DataError(f"cannot read JSON keypoints {f}: {exc}") from None
        if not all(isinstance(fr, dict) and "people" in fr for fr in frames):
            raise InputError(f"{path}: a JSON folder must hold OpenPose frames (dicts with 'people')")
        return _openpose_frames(frames, str(path))
    if not path.is_file():
        raise DataError(f"keypoint file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json(path)
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".npz":
        return _read_npz(path, key)
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read NPY keypoints {path}: {exc}") from None
        return RawKeypoints(_as_tj3(arr, str(path)))
    raise InputError(f"{path}: unsupported keypoint file type {suffix!r}; expected .json, .csv, .npz, .npy or a folder")


def load_keypoints(path: str | Path, format: str | None = None, image_size: tuple[int, int] | None = None,
                   threshold: float = 0.3, coords: Literal["pixels", "unit"] = "pixels",
                   key: str | None = None) -> Keypoints2D:
    """Read, convert to ``h36m-17``, fill gaps and normalise 2D keypoints from a file.

    Args:
        path: File or OpenPose JSON folder (see :func:`read_keypoints`).
        format: Input format; default the file's own (OpenPose → ``openpose-25``, COCO results →
            ``coco-17``) or, from the joint count, 25 → ``openpose-25`` and 33 → ``mediapipe-33``.
            17 joints fit COCO, H36M and 3DHP: COCO-17 is assumed with a warning (:func:`resolve_format`).
        image_size: ``(w, h)`` pixels; needed unless the file stores it.
        threshold: Confidence below which a joint is missing.
        coords: ``"pixels"`` or ``"unit"`` (fractions of the image size).
        key: NPZ array name.

    Raises:
        InputError: unknown format, missing image size, bad shapes, a joint never observed.
        DataError: unreadable file.
    """
    raw = read_keypoints(path, key)
    fmt_name, assumed = resolve_format(raw.keypoints.shape[1], format, raw.format, where=str(path))
    if assumed:
        warnings.warn(assumed, stacklevel=2)
    fmt = get_format(fmt_name)
    size = image_size if image_size is not None else raw.image_size
    if size is None:
        raise InputError(f"{path}: image_size (w, h) is needed to normalise the keypoints; pass image_size=")
    return prepare_keypoints(raw.keypoints, fmt, size, threshold=threshold, coords=coords)
