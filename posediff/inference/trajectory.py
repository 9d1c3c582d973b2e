"""The root's path through camera space: lifted poses placed where the 2D says the person is.

A lifter returns root-relative poses. With the camera's intrinsics, the root's camera-space position in each
frame follows from the 2D and the lifted pose (:func:`posediff.geometry.cameras.estimate_root`: the
translation whose pinhole projection of the pose best matches the 2D, least squares in the image plane).
Without them, :func:`root_trajectory` assumes a pinhole camera with a horizontal field of view of
:data:`DEFAULT_FOV_DEG` degrees centred on the image, and says so in what it returns.

Units and what to trust: metres, camera space (x right, y down, z forward). The depth scales with the
focal length (a wrong field of view moves the person nearer or farther, in proportion) and with the body
size the model predicts (Human3.6M's actors for the shipped models); the lateral path and the timing of
the motion do not depend on either.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch

from ..errors import InputError
from ..geometry.cameras import estimate_root

__all__ = ["DEFAULT_FOV_DEG", "assumed_camera", "root_trajectory"]

DEFAULT_FOV_DEG = 60.0
"""Horizontal field of view assumed when no intrinsics are given: about a phone's main camera or a webcam
(their horizontal views are 55–70°)."""


def assumed_camera(fov_deg: float = DEFAULT_FOV_DEG) -> np.ndarray:
    """Normalised intrinsics ``[fx, fy, cx, cy, 0, …]`` of a pinhole camera with a horizontal field of view of
    ``fov_deg`` degrees, square pixels and the principal point at the image centre (in posediff's normalised
    screen coordinates the image spans x ∈ [−1, 1], so fx = 1 / tan(fov / 2) and the centre is 0)."""
    if not 1.0 <= fov_deg <= 179.0:
        raise InputError(f"fov_deg must be a horizontal field of view in degrees in [1, 179]; got {fov_deg}")
    f = 1.0 / math.tan(math.radians(fov_deg) / 2.0)
    return np.array([f, f, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float32)


def root_trajectory(result: Any, camera: Optional[Any] = None, *, fov_deg: float = DEFAULT_FOV_DEG
                    ) -> tuple[np.ndarray, dict]:
    """The root's camera-space position per frame for a :class:`~posediff.inference.LiftResult`.

    Args:
        result: A lift result (its ``poses3d``, ``x2d`` and ``mask``).
        camera: Normalised 9-vector intrinsics; default the ones the result was lifted with
            (``metadata["camera"]``), else :func:`assumed_camera` of ``fov_deg``.
        fov_deg: Horizontal field of view assumed when there are no intrinsics.

    Returns:
        ``(trajectory, info)``: ``(N, 3)`` or ``(C, N, 3)`` float32 metres (zero where ``mask`` is False),
        and a plain-data record of the camera used and whether it was assumed.
    """
    cam = camera if camera is not None else result.metadata.get("camera")
    assumed = cam is None
    if assumed:
        cam = assumed_camera(fov_deg)
    cam_t = torch.as_tensor(np.asarray(cam, dtype=np.float64).reshape(9))
    poses = result.poses3d if result.multi_person else result.poses3d[None]
    x2d = result.x2d if result.multi_person else result.x2d[None]
    mask = result.mask if result.multi_person else result.mask[None]
    out = np.zeros(poses.shape[:2] + (3,), np.float32)
    for c in range(poses.shape[0]):
        present = np.flatnonzero(mask[c])
        if present.size == 0:
            continue
        root = estimate_root(torch.as_tensor(poses[c, present], dtype=torch.float64),
                             torch.as_tensor(x2d[c, present], dtype=torch.float64), cam_t)
        out[c, present] = root[:, 0].numpy()
    info = {"camera": [float(v) for v in cam_t.tolist()], "assumed": assumed,
            "units": "metres, camera space (x right, y down, z forward)",
            "assumption": (f"no intrinsics given: a pinhole camera with a {fov_deg:g}° horizontal field of view, "
                           "centred, square pixels; depth scales with this focal length" if assumed else
                           "the intrinsics the poses were lifted with")}
    return (out if result.multi_person else out[0]), info

