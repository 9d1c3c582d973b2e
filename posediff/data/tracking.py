"""People across frames: per-frame detections → tracks (the tool's track ids, or greedy box matching).

Readers of multi-person files (AlphaPose, MMPose, COCO results) turn each frame's detections into
:class:`Detection` objects and call :func:`assemble_tracks`, which returns one keypoint sequence per person
with a presence mask, ready for :func:`posediff.lift`.

* When every detection carries a track id (AlphaPose ``idx`` with ``--pose_track``, MMPose ``track_id``),
  the ids define the tracks.
* Otherwise :func:`link_detections` links them: frame by frame, each open track is matched to the detection
  whose box overlaps its last box most (intersection over union ≥ ``iou_threshold``, greedily by IoU); a
  track not seen for more than ``max_gap`` frames is closed; an unmatched detection opens a new track.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Optional, Sequence

import numpy as np

from ..errors import InputError

__all__ = ["Detection", "box_of", "box_iou", "link_detections", "assemble_tracks", "Tracks"]


@dataclass
class Detection:
    """One person in one frame.

    Attributes:
        keypoints: ``(J, 3)`` x, y (pixels) and confidence.
        box: ``(x1, y1, x2, y2)`` pixels, or None (then the keypoints' extent is used).
        score: Detection score (default: the mean keypoint confidence).
        track: The tool's track id, or None.
    """

    keypoints: np.ndarray
    box: Optional[tuple[float, float, float, float]] = None
    score: Optional[float] = None
    track: Optional[Hashable] = None


def box_of(det: Detection, threshold: float = 0.0) -> np.ndarray:
    """``(4,)`` x1, y1, x2, y2 of a detection: its box, else the extent of its keypoints above ``threshold``."""
    if det.box is not None:
        return np.asarray(det.box, dtype=np.float64)
    kp = det.keypoints
    ok = np.isfinite(kp[:, :2]).all(1) & (kp[:, 2] > threshold)
    pts = kp[ok, :2] if ok.any() else kp[np.isfinite(kp[:, :2]).all(1), :2]
    if len(pts) == 0:
        return np.zeros(4)
    return np.concatenate([pts.min(0), pts.max(0)])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes (0 when either is empty)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def link_detections(frames: Sequence[Sequence[Detection]], *, iou_threshold: float = 0.3,
                    max_gap: int = 10) -> list[list[int]]:
    """Track index of every detection, by greedy box matching frame to frame.

    Args:
        frames: Per frame, its detections.
        iou_threshold: Minimum IoU between a track's last box and a detection to continue the track.
        max_gap: Frames a track may go unseen and still be continued.

    Returns:
        Per frame, the track index (0, 1, … in order of first appearance) of each detection.

    Example:
        >>> import numpy as np
        >>> a = Detection(np.zeros((17, 3)), box=(0, 0, 10, 10)); b = Detection(np.zeros((17, 3)), box=(50, 0, 60, 10))
        >>> moved = Detection(np.zeros((17, 3)), box=(1, 0, 11, 10))
        >>> link_detections([[a, b], [b, moved]])      # the order within a frame does not matter
        [[0, 1], [1, 0]]
    """
    if not 0.0 <= iou_threshold <= 1.0:
        raise InputError(f"iou_threshold must be in [0, 1]; got {iou_threshold}")
    if max_gap < 0:
        raise InputError(f"max_gap must be >= 0; got {max_gap}")
    last_box: list[np.ndarray] = []
    last_seen: list[int] = []
    out: list[list[int]] = []
    for f, dets in enumerate(frames):
        boxes = [box_of(d) for d in dets]
        open_tracks = [k for k in range(len(last_box)) if f - last_seen[k] - 1 <= max_gap]
        pairs = sorted(((box_iou(last_box[k], boxes[i]), k, i) for k in open_tracks for i in range(len(dets))),
                       key=lambda p: (-p[0], p[1], p[2]))
        assigned: dict[int, int] = {}
        used: set[int] = set()
        for iou, k, i in pairs:
            if iou < iou_threshold or i in assigned or k in used:
                continue
            assigned[i] = k
            used.add(k)
        ids = []
        for i in range(len(dets)):
            k = assigned.get(i)
            if k is None:
                k = len(last_box)
                last_box.append(boxes[i])
                last_seen.append(f)
            last_box[k], last_seen[k] = boxes[i], f
            ids.append(k)
        out.append(ids)
    return out


@dataclass
class Tracks:
    """People assembled from detections.

    Attributes:
        keypoints: ``(C, T, J, 3)``, zeros (confidence 0) where a person is absent.
        presence: ``(C, T)`` bool.
        ids: Per person, the tool's track id or ``"linked-<k>"`` for a track found by :func:`link_detections`.
        source: ``"track ids"`` or ``"linked by box IoU"``.
    """

    keypoints: np.ndarray
    presence: np.ndarray
    ids: list
    source: str

    def describe(self) -> str:
        """One line: how many people, from where, and the frames each was seen in."""
        seen = ", ".join(f"{i}: {int(p.sum())} frames" for i, p in zip(self.ids, self.presence))
        return f"{len(self.ids)} track(s) ({self.source}): {seen}"


def assemble_tracks(frames: Sequence[Sequence[Detection]], joints: int, *, iou_threshold: float = 0.3,
                    max_gap: int = 10, min_frames: int = 1) -> Tracks:
    """One keypoint sequence per person from per-frame detections.

    The tool's track ids are used when every detection has one; otherwise, or when every detection has the
    same id while some frame holds several people (AlphaPose run without tracking writes ``idx`` 0 for
    everyone; :attr:`Tracks.source` then says why the ids were not used), tracks are linked with
    :func:`link_detections`. When one track has two detections in a frame, the higher-scoring one is kept.
    Tracks seen in fewer than ``min_frames`` frames are dropped.

    Raises:
        InputError: a detection whose joint count is not ``joints``; no detection at all.
    """
    all_dets = [d for fr in frames for d in fr]
    if not all_dets:
        raise InputError("no person detection found in any frame")
    for f, fr in enumerate(frames):
        for d in fr:
            if d.keypoints.shape != (joints, 3):
                raise InputError(f"frame {f}: a detection has {d.keypoints.shape[0]} joints; the others have {joints}")
    with_ids = all(d.track is not None for d in all_dets)
    # one id for every detection while a frame holds several people: the tool did not track (AlphaPose
    # without --pose_track writes idx 0 for everyone)
    untracked = with_ids and len({d.track for d in all_dets}) == 1 and any(len(fr) > 1 for fr in frames)
    if with_ids and not untracked:
        order: dict = {}
        for d in all_dets:
            order.setdefault(d.track, len(order))
        ids_per_frame = [[order[d.track] for d in fr] for fr in frames]
        ids = list(order)
        source = "track ids"
    else:
        ids_per_frame = link_detections(frames, iou_threshold=iou_threshold, max_gap=max_gap)
        n = 1 + max((k for fr in ids_per_frame for k in fr), default=-1)
        ids = [f"linked-{k}" for k in range(n)]
        source = "linked by box IoU"
        if untracked:
            source += (f"; the file's track ids were not used: every detection has id {all_dets[0].track!r} "
                       "although frames hold several people (the tool ran without tracking)")
    C, T = len(ids), len(frames)
    kps = np.zeros((C, T, joints, 3))
    best = np.full((C, T), -np.inf)
    for f, (fr, ks) in enumerate(zip(frames, ids_per_frame)):
        for d, k in zip(fr, ks):
            score = d.score if d.score is not None else float(np.nanmean(d.keypoints[:, 2]))
            if score > best[k, f]:
                kps[k, f] = d.keypoints
                best[k, f] = score
    presence = np.isfinite(best)
    keep = presence.sum(1) >= max(1, min_frames)
    return Tracks(kps[keep], presence[keep], [i for i, k in zip(ids, keep) if k], source)
