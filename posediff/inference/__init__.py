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

from ..weights import DEMO_CHECKPOINT, demo_checkpoint_path
from .camera import parse_camera
from .lifting import lift
from .result import LiftResult, load_result
from .sampling_configs import DEFAULT_SAMPLING, SAMPLING_CONFIGS, SamplingConfig, get_sampling_config
from .windows import blend_weights, window_plan

__all__ = [
    "DEFAULT_SAMPLING",
    "SAMPLING_CONFIGS",
    "SamplingConfig",
    "get_sampling_config",
    "LiftResult",
    "lift",
    "load_result",
    "parse_camera",
    "window_plan",
    "blend_weights",
    "DEMO_CHECKPOINT",
    "demo_checkpoint_path",
]
