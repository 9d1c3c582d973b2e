"""Camera intrinsics given to :func:`posediff.lift`: :func:`parse_camera`."""
from __future__ import annotations

from typing import Any, Literal, Mapping, Optional

import numpy as np

from ..errors import InputError


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
    from ..geometry.cameras import normalize_intrinsics

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
