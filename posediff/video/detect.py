"""2D keypoints of the people in a video: decode, detect per frame, link people across frames.

:func:`detect_video` is the first half of lifting a video (``posediff lift video.mp4`` and
``posediff.lift("video.mp4")``): its :class:`VideoKeypoints` hold one keypoint sequence per person with a
presence mask, in the detector's joint layout and the video's pixels, ready for :func:`posediff.lift`.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import InputError
from .decode import VideoInfo, iter_frames, probe_video

__all__ = ["VideoKeypoints", "detect_video"]


@dataclass
class VideoKeypoints:
    """The people a detector found in a video.

    Attributes:
        keypoints: ``(C, T, J, 3)`` x, y in pixels of the video and a confidence in [0, 1]; zeros where
            person c is absent from frame t.
        presence: ``(C, T)`` bool, whether person c was found in frame t.
        format: Joint layout of the keypoints (the detector's ``keypoint_format``, e.g. ``"mediapipe-33"``).
        info: The video's :class:`~posediff.video.decode.VideoInfo`.
        detector: The detector's registered name (or class name).
        seconds: Wall time of decoding plus detection.
        tracks: How people were linked across frames (one line).
        ids: One label per person.
    """

    keypoints: np.ndarray
    presence: np.ndarray
    format: str
    info: VideoInfo
    detector: str
    seconds: float
    tracks: str
    ids: list = field(default_factory=list)

    @property
    def frames(self) -> int:
        """Frames decoded (T)."""
        return int(self.keypoints.shape[1])

    @property
    def frames_per_second(self) -> float:
        """Decoding and detection speed, frames per wall-clock second."""
        return self.frames / self.seconds if self.seconds > 0 else float("inf")

    def metadata(self) -> dict[str, Any]:
        """What a lift result records about where its 2D came from (JSON-serialisable)."""
        return {"video": self.info.path, "frames": self.frames, "fps": self.info.fps, "size": list(self.info.size),
                "detector": self.detector, "keypoint_format": self.format, "detect_seconds": round(self.seconds, 3),
                "detect_frames_per_second": round(self.frames_per_second, 2), "tracks": self.tracks,
                "frames_with_person": int(self.presence.any(0).sum())}


def detect_video(
    path: str | os.PathLike,
    detector: Any = None,
    *,
    detector_params: Optional[dict] = None,
    max_frames: Optional[int] = None,
    progress: bool = False,
    iou_threshold: float = 0.3,
    max_gap: int = 10,
) -> VideoKeypoints:
    """Run a keypoint detector over every frame of a video and link the people it finds into tracks.

    Args:
        path: The video file (anything ffmpeg decodes: .mp4, .mov, .avi, .mkv, .webm, …).
        detector: A registered detector name (default ``"mediapipe"``) or a built
            :class:`~posediff.interfaces.KeypointDetector`.
        detector_params: Constructor arguments of a named detector (e.g. ``{"complexity": 0}``).
        max_frames: Only the first this many frames.
        progress: Show a progress bar (tqdm).
        iou_threshold, max_gap: How a detector that sees several people has them linked from frame to frame
            (:func:`posediff.data.tracking.link_detections`); a one-person detector (``max_people == 1``)
            gives one track.

    Returns:
        :class:`VideoKeypoints`.

    Raises:
        InputError: a missing, empty, corrupt or non-video file; a video in which nobody was found; a detector
            output of the wrong shape.
        DependencyError: imageio-ffmpeg or the detector's optional package is missing (with the install
            command).
    """
    from ..data.formats import get_format
    from ..data.tracking import Detection, assemble_tracks
    from ..detectors import build_detector
    from ..registry import name_of

    info = probe_video(path)
    det = build_detector(detector, **(detector_params or {}))
    fmt = get_format(det.keypoint_format)
    joints = fmt.num_joints
    name = name_of("detector", det) or type(det).__name__
    t0 = time.perf_counter()
    per_frame: list[list[Detection]] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = info.frames if max_frames is None else min(info.frames, max_frames)
        bar = tqdm(total=total or None, unit="frame", desc=f"detect ({name})", leave=False)
    det.reset()
    try:
        for t, image in enumerate(iter_frames(path, max_frames=max_frames)):
            found = np.asarray(det.detect(image), dtype=np.float64)
            if found.ndim != 3 or found.shape[1:] != (joints, 3):
                raise InputError(f"detector {name!r} returned shape {tuple(found.shape)} for frame {t}; expected "
                                 f"(P, {joints}, 3) (people, {fmt.name} joints, x/y/confidence)")
            if det.max_people is not None and found.shape[0] > det.max_people:
                raise InputError(f"detector {name!r} says it finds at most {det.max_people} person(s) per frame "
                                 f"but returned {found.shape[0]} for frame {t}")
            per_frame.append([Detection(p) for p in found if np.isfinite(p[:, :2]).all()])
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        det.close()
    seconds = time.perf_counter() - t0
    frames = len(per_frame)
    if not any(per_frame):
        raise InputError(f"no person found in any of the {frames} frame(s) of {str(Path(path))!r} "
                         f"(detector {name!r}); is a whole person visible?")
    if det.max_people == 1:  # one person: every detection belongs to the one track, whatever its box
        kps = np.zeros((1, frames, joints, 3))
        presence = np.zeros((1, frames), dtype=bool)
        for t, dets in enumerate(per_frame):
            if dets:
                kps[0, t] = dets[0].keypoints
                presence[0, t] = True
        ids = ["person-0"]
        how = f"one person (the {name} detector follows one person); found in {int(presence.sum())} of {frames} frames"
    else:
        tracks = assemble_tracks(per_frame, joints, iou_threshold=iou_threshold, max_gap=max_gap)
        kps, presence, ids, how = tracks.keypoints, tracks.presence, list(tracks.ids), tracks.describe()
    return VideoKeypoints(keypoints=kps, presence=presence, format=fmt.name, info=info, detector=name,
                          seconds=seconds, tracks=how, ids=ids)
