"""Keypoint detectors (kind ``detector``): video frames → 2D keypoints (:class:`posediff.interfaces.KeypointDetector`).

Built in: ``mediapipe`` (:class:`MediaPipePoseDetector`, BlazePose, one person, offline; the optional
package comes with ``pip install 'posediff[video]'``). Registering one imports nothing heavy: the optional
package is imported when a detector is constructed.
"""
from __future__ import annotations

from typing import Any

from . import mediapipe_pose  # noqa: F401  (built-ins register on import)
from .mediapipe_pose import MediaPipePoseDetector
from ..errors import InputError
from ..interfaces import KeypointDetector

__all__ = ["MediaPipePoseDetector", "DEFAULT_DETECTOR", "build_detector"]

DEFAULT_DETECTOR = "mediapipe"
"""The detector :func:`posediff.video.detect_video` and ``posediff lift VIDEO`` use unless told otherwise."""


def build_detector(detector: Any = None, **params: Any) -> KeypointDetector:
    """A detector from a registered name (plugins included) and its parameters, or a built one as it is.

    Args:
        detector: ``None`` (:data:`DEFAULT_DETECTOR`), a registered name, or a :class:`KeypointDetector`.
        **params: Constructor arguments of the named detector.

    Raises:
        UnknownComponentError: no detector has that name (the message lists close matches).
        DependencyError: the detector's optional package is missing.
        InputError: a built object that is not a KeypointDetector, or parameters given with one.
    """
    from ..registry import get

    if isinstance(detector, KeypointDetector):
        if params:
            raise InputError(f"detector parameters {sorted(params)} were given with an already built detector")
        return detector
    name = DEFAULT_DETECTOR if detector is None else detector
    if not isinstance(name, str):
        raise InputError(f"detector must be a registered name or a KeypointDetector; got {type(detector).__name__}")
    made = get("detector", name)(**params)
    if not isinstance(made, KeypointDetector):
        raise InputError(f"detector {name!r} built a {type(made).__name__}, not a posediff.interfaces.KeypointDetector")
    return made
