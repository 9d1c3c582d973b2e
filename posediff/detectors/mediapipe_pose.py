"""MediaPipe Pose (BlazePose) as a keypoint detector: 33 landmarks of one person per frame, offline.

The ``mediapipe`` 0.10.14 wheel carries the pose-detection model and the BlazePose landmark model of
complexity 1 ("full") inside the package, so the detector runs without a network; the "lite" (0) and "heavy"
(2) models are downloaded by mediapipe on first use, so they are accepted only when their files are already
installed. It is an optional dependency: ``pip install 'posediff[video]'``.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from typing import Any, Iterator

import numpy as np

from ..errors import DependencyError, InputError
from ..interfaces import KeypointDetector
from ..registry import register

__all__ = ["MediaPipePoseDetector", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'posediff[video]' (mediapipe 0.10.14: its wheel carries the pose models)"
"""How to install the optional package this detector needs."""

_LANDMARK_MODELS = {0: "lite", 1: "full", 2: "heavy"}
"""Model complexity → the name of its landmark model (``pose_landmark_<name>.tflite``)."""


def _model_installed(pose_module: Any, complexity: int) -> bool:
    """Whether mediapipe's landmark model of ``complexity`` is on disk (mediapipe downloads missing ones)."""
    from pathlib import Path

    root = Path(pose_module.__file__).resolve().parents[2]  # site-packages/mediapipe
    return (root / "modules" / "pose_landmark" / f"pose_landmark_{_LANDMARK_MODELS[complexity]}.tflite").is_file()


def _import_mediapipe() -> Any:
    try:
        import mediapipe  # noqa: F401  (optional dependency)
        from mediapipe.python.solutions import pose
    except ImportError as exc:
        raise DependencyError(f"the 'mediapipe' detector needs the mediapipe package, which is not installed "
                              f"({exc}); {INSTALL_HINT}") from None
    return pose


@contextlib.contextmanager
def _quiet(native: bool) -> Iterator[None]:
    """Ignore Python's warnings of the deprecated protobuf API that mediapipe 0.10.14 uses and, with ``native``,
    keep MediaPipe's native start-up log (TFLite and absl lines written straight to file descriptor 2) off the
    terminal; what was written there is discarded."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated")
        try:
            fd = sys.stderr.fileno() if native else None
        except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured): nothing to silence
            fd = None
        if fd is None:
            yield
            return
        sys.stderr.flush()
        saved = os.dup(fd)
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), fd)
            try:
                yield
            finally:
                os.dup2(saved, fd)
                os.close(saved)


@register("detector", "mediapipe")
class MediaPipePoseDetector(KeypointDetector):
    """BlazePose through the Pose solution of MediaPipe: one person per frame, 33 landmarks (mediapipe-33).

    In video mode (the default) MediaPipe finds the person once and then follows the landmarks from frame to
    frame (the detector runs again only when tracking is lost); ``static=True`` detects in every frame
    independently (slower, for unrelated images).

    Args:
        complexity: Landmark model: 1 ("full", the default, inside the wheel), 0 ("lite") or 2 ("heavy"), which
            mediapipe downloads on first use: refused unless their files are already installed (posediff never
            downloads).
        min_detection_confidence: Person-detection score needed to start a track, in [0, 1].
        min_tracking_confidence: Landmark score needed to keep following the person, in [0, 1].
        smooth: MediaPipe's own temporal filter of the landmarks (video mode only).
        static: Detect in every frame independently.

    Output:
        ``(1, 33, 3)`` pixels of the frame and MediaPipe's visibility as the confidence; ``(0, 33, 3)``
        when nobody is found.

    Raises:
        DependencyError: mediapipe is not installed (the message gives the install command).
        InputError: a complexity other than 0, 1, 2 or whose model is not installed, or a confidence outside [0, 1].
    """

    keypoint_format = "mediapipe-33"
    max_people = 1

    def __init__(self, complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, smooth: bool = True, static: bool = False) -> None:
        if complexity not in _LANDMARK_MODELS or isinstance(complexity, bool):
            raise InputError(f"complexity must be 0 (lite), 1 (full) or 2 (heavy); got {complexity!r}")
        for name, value in (("min_detection_confidence", min_detection_confidence),
                            ("min_tracking_confidence", min_tracking_confidence)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise InputError(f"{name} must be a number in [0, 1]; got {value!r}")
        self.complexity = int(complexity)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.smooth = bool(smooth)
        self.static = bool(static)
        self._pose_module = _import_mediapipe()
        if not _model_installed(self._pose_module, int(complexity)):
            raise InputError(f"complexity={complexity} needs mediapipe's '{_LANDMARK_MODELS[complexity]}' landmark "
                             "model, which is not inside the installed mediapipe (it would download it at run time, "
                             "which posediff does not do); use complexity=1 ('full', inside the wheel)")
        self._solution = None
        self._calls = 0

    def _open(self) -> Any:
        if self._solution is None:
            self._solution = self._pose_module.Pose(
                static_image_mode=self.static, model_complexity=self.complexity, smooth_landmarks=self.smooth,
                min_detection_confidence=self.min_detection_confidence,
                min_tracking_confidence=self.min_tracking_confidence)
        return self._solution

    def detect(self, image: Any) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB → ``(P, 33, 3)`` with P = 0 or 1 (pixels, visibility)."""
        img = np.ascontiguousarray(image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise InputError(f"image must be an (H, W, 3) uint8 RGB array; got {img.dtype} {tuple(img.shape)}")
        with _quiet(native=self._calls < 2):  # the native log comes when the graph starts, on its first frames
            found = self._open().process(img)
        self._calls += 1
        if found.pose_landmarks is None:
            return np.zeros((0, 33, 3))
        h, w = img.shape[:2]
        pts = np.array([(p.x * w, p.y * h, p.visibility) for p in found.pose_landmarks.landmark], dtype=np.float64)
        pts[:, 2] = np.clip(pts[:, 2], 0.0, 1.0)
        return pts[None]

    def reset(self) -> None:
        """Start a fresh MediaPipe graph: the next frame is searched for a person anew."""
        self.close()

    def close(self) -> None:
        """Release MediaPipe's graph."""
        if self._solution is not None:
            self._solution.close()
            self._solution = None
        self._calls = 0
