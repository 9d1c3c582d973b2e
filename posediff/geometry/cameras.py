"""Camera geometry: screen normalisation, intrinsics, projection, extrinsics and root estimation.

Conventions (reference §1.3–§1.5, §1.9, §5.1):

* 2D keypoints are *normalised screen coordinates*: ``u = x/w·2 − 1``, ``v = y/w·2 − h/w`` (pixels →
  roughly [−1, 1]; the aspect ratio is kept, both axes are divided by the width).
* An intrinsics vector has 9 entries ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``: focal lengths and
  principal point in the same units as the 2D it is compared with (normalised for H36M, see
  :func:`normalize_intrinsics`), radial ``k`` and tangential ``p`` distortion as calibrated.
* 3D points are camera-space metres with ``z`` pointing forward (``z > 0`` in front of the camera).
* Extrinsics are a rotation quaternion ``(w, x, y, z)`` that rotates camera axes into world axes and
  the camera centre ``t`` in world coordinates (metres): ``X_world = q ⊗ X_cam + t``.

Every function accepts torch tensors; the ones marked so also accept numpy arrays and then return
numpy arrays. Leading dimensions are batch dimensions.

Size: camera geometry used everywhere (normalisation, projection with distortion, extrinsics, root
estimation), each function short and independent.

"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError

__all__ = [
    "normalize_screen_coordinates",
    "image_coordinates",
    "normalize_intrinsics",
    "project_to_2d",
    "project_linear",
    "reprojection_error",
    "undistort_points",
    "quaternion_to_matrix",
    "quaternion_rotate",
    "quaternion_inverse",
    "world_to_camera",
    "camera_to_world",
    "world_to_camera_rotation",
    "camera_to_world_rotation",
    "estimate_root",
    "MPI_INF_3DHP_CALIBRATION",
    "mpi_inf_3dhp_intrinsics",
    "mpi_inf_3dhp_resolution",
]


# --------------------------------------------------------------------------- helpers
def _to_tensor(name: str, x: Any, dtype: torch.dtype | None = None) -> tuple[Tensor, bool]:
    """Return ``(tensor, was_numpy)``; numpy / lists become tensors (float64 unless ``dtype``)."""
    if isinstance(x, Tensor):
        return (x if dtype is None else x.to(dtype)), False
    try:
        arr = np.asarray(x)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{name} must be an array or tensor of numbers; got {type(x).__name__}") from exc
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{name} must hold numbers; got dtype {arr.dtype}")
    t = torch.from_numpy(np.ascontiguousarray(arr))
    if not t.is_floating_point():
        t = t.to(torch.float64)
    return (t if dtype is None else t.to(dtype)), True


def _back(x: Tensor, was_numpy: bool):
    return x.detach().cpu().numpy() if was_numpy else x


def _check_last(name: str, x: Tensor, size: int | tuple[int, ...]) -> None:
    sizes = (size,) if isinstance(size, int) else size
    if x.dim() == 0 or x.shape[-1] not in sizes:
        want = " or ".join(str(s) for s in sizes)
        raise InputError(f"{name} must have shape (..., {want}); got {tuple(x.shape)}")


def _align_camera(camera: Tensor, points: Tensor, name: str = "camera") -> Tensor:
    """Make ``camera (..., C)`` broadcast against ``points (..., D)``.

    A 1-D camera ``(C,)`` serves every point. Otherwise the camera's leading dimensions are
    aligned with the *leading* dimensions of ``points`` (official ``project_to_2d`` convention:
    singleton dimensions are inserted after them), so ``camera (B, 9)`` serves
    ``points (B, H, T, J, 3)``.
    """
    if camera.dim() == 1:
        return camera
    lead_c, lead_p = camera.shape[:-1], points.shape[:-1]
    if len(lead_c) > len(lead_p):
        raise InputError(
            f"{name} has more leading dimensions than the points: {tuple(camera.shape)} vs {tuple(points.shape)}"
        )
    for i, (a, b) in enumerate(zip(lead_c, lead_p)):
        if a != b and a != 1 and b != 1:
            raise InputError(
                f"{name} of shape {tuple(camera.shape)} does not match the points' leading dimensions "
                f"{tuple(lead_p)} (dimension {i}: {a} vs {b})"
            )
    while camera.dim() < points.dim():
        camera = camera.unsqueeze(-2)
    return camera


# --------------------------------------------------------------------------- screen coordinates
def normalize_screen_coordinates(x: Any, w: float, h: float):
    """Pixels → normalised screen coordinates (reference §1.5).

    ``u = x/w·2 − 1`` and ``v = y/w·2 − h/w``: the width maps to [−1, 1] and the aspect ratio is kept.

    Args:
        x: ``(..., 2)`` pixel coordinates (numpy or torch).
        w: Image width in pixels.
        h: Image height in pixels.

    Returns:
        ``(..., 2)`` normalised coordinates, same type as ``x`` (numpy keeps its float dtype).

    Example:
        >>> normalize_screen_coordinates(np.array([500.0, 501.0]), 1000, 1002)
        array([0., 0.])
    """
    if not isinstance(x, Tensor):
        x = np.asarray(x)
        if x.dtype.kind not in "f":
            x = x.astype(np.float64)
    if x.shape[-1] != 2:
        raise InputError(f"x must have shape (..., 2); got {tuple(x.shape)}")
    if w <= 0 or h <= 0:
        raise InputError(f"image size must be positive; got w={w}, h={h}")
    offset = [1.0, h / w]
    if isinstance(x, Tensor):
        return x / w * 2 - x.new_tensor(offset)
    return x / w * 2 - np.asarray(offset, dtype=x.dtype)


def image_coordinates(x: Any, w: float, h: float):
    """Normalised screen coordinates → pixels; the inverse of :func:`normalize_screen_coordinates`.

    Args:
        x: ``(..., 2)`` normalised coordinates (numpy or torch).
        w: Image width in pixels.
        h: Image height in pixels.

    Returns:
        ``(..., 2)`` pixels, same type as ``x``.
    """
    if not isinstance(x, Tensor):
        x = np.asarray(x)
        if x.dtype.kind not in "f":
            x = x.astype(np.float64)
    if x.shape[-1] != 2:
        raise InputError(f"x must have shape (..., 2); got {tuple(x.shape)}")
    if w <= 0 or h <= 0:
        raise InputError(f"image size must be positive; got w={w}, h={h}")
    offset = [1.0, h / w]
    if isinstance(x, Tensor):
        return (x + x.new_tensor(offset)) * w / 2
    return (x + np.asarray(offset, dtype=x.dtype)) * w / 2


def normalize_intrinsics(f: Any, c: Any, k: Any = (0.0, 0.0, 0.0), p: Any = (0.0, 0.0), *, w: float, h: float):
    """Pixel intrinsics → the normalised 9-vector ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` (reference §1.3).

    ``f ← f/w·2`` and ``c ← normalize_screen_coordinates(c, w, h)``; ``k`` and ``p`` are unitless and
    kept. The result projects camera-space points straight into normalised screen coordinates.

    Args:
        f: ``(..., 2)`` focal lengths in pixels.
        c: ``(..., 2)`` principal point in pixels.
        k: ``(..., 3)`` radial distortion (default none).
        p: ``(..., 2)`` tangential distortion (default none).
        w: Image width in pixels.
        h: Image height in pixels.

    Returns:
        ``(..., 9)``: a float32 numpy array, or a tensor (dtype of ``f``) when ``f`` is a tensor.

    Example:
        >>> cam = normalize_intrinsics([1145.049, 1143.781], [512.54, 515.45], w=1000, h=1002)
        >>> bool(abs(cam[0] - 2.290098) < 1e-6)
        True
    """
    torch_out = isinstance(f, Tensor)
    ft, _ = _to_tensor("f", f, torch.float64)
    ct, _ = _to_tensor("c", c, torch.float64)
    kt, _ = _to_tensor("k", k, torch.float64)
    pt, _ = _to_tensor("p", p, torch.float64)
    for name, t, n in (("f", ft, 2), ("c", ct, 2), ("k", kt, 3), ("p", pt, 2)):
        _check_last(name, t, n)
    ct = ct.to(ft.device)
    kt, pt = kt.to(ft.device), pt.to(ft.device)
    lead = torch.broadcast_shapes(ft.shape[:-1], ct.shape[:-1], kt.shape[:-1], pt.shape[:-1])
    parts = [t.expand(*lead, t.shape[-1]) for t in (ft / w * 2, normalize_screen_coordinates(ct, w, h), kt, pt)]
    out = torch.cat(parts, dim=-1)
    if torch_out:
        return out.to(f.dtype if f.is_floating_point() else torch.float32)
    return out.numpy().astype(np.float32)


# --------------------------------------------------------------------------- projection
def project_to_2d(points: Any, camera: Any):
    """Project camera-space points with the H36M/VideoPose3D distortion model (reference §5.1).

    ``XX = clamp((X/Z, Y/Z), −1, 1)``, ``r² = |XX|²``, ``radial = 1 + k1·r² + k2·r⁴ + k3·r⁶``,
    ``tan = p1·XX_x + p2·XX_y``, ``XXX = XX·(radial + tan) + (p1, p2)·r²``, output ``f ⊙ XXX + c``.
    The tangential term is this model's variant (not full Brown–Conrady), as in the official code.
    The clamp keeps points far off-axis (or behind the camera) from exploding.

    Args:
        points: ``(..., 3)`` camera-space points (metres; any unit works, only ratios matter).
        camera: ``(9,)`` or ``(..., 9)`` intrinsics ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` in the
            units of the wanted 2D. A batched camera's leading dimensions line up with the *leading*
            dimensions of ``points`` (``camera (B, 9)`` serves ``points (B, H, T, J, 3)``).

    Returns:
        ``(..., 2)`` projected points (numpy in → numpy out).
    """
    x, was_np = _to_tensor("points", points)
    cam, _ = _to_tensor("camera", camera)
    _check_last("points", x, 3)
    _check_last("camera", cam, 9)
    cam = _align_camera(cam.to(device=x.device, dtype=x.dtype), x)
    f, c, k, p = cam[..., 0:2], cam[..., 2:4], cam[..., 4:7], cam[..., 7:9]
    xx = torch.clamp(x[..., :2] / x[..., 2:3], min=-1.0, max=1.0)
    r2 = (xx * xx).sum(dim=-1, keepdim=True)
    radial = 1 + (k * torch.cat((r2, r2 * r2, r2 * r2 * r2), dim=-1)).sum(dim=-1, keepdim=True)
    tan = (p * xx).sum(dim=-1, keepdim=True)
    xxx = xx * (radial + tan) + p * r2
    return _back(f * xxx + c, was_np)


def project_linear(points: Any, camera: Any):
    """Pinhole projection without distortion: ``f ⊙ clamp((X/Z, Y/Z), −1, 1) + c``.

    The official ``project_to_2d_linear`` (used for 3DHP TS1–4, reference §1.9).

    Args:
        points: ``(..., 3)`` camera-space points.
        camera: ``(9,)``/``(4,)`` or ``(..., 9)``/``(..., 4)``; only ``[fx, fy, cx, cy]`` are used.
            Leading dimensions align as in :func:`project_to_2d`.

    Returns:
        ``(..., 2)`` projected points (numpy in → numpy out).
    """
    x, was_np = _to_tensor("points", points)
    cam, _ = _to_tensor("camera", camera)
    _check_last("points", x, 3)
    _check_last("camera", cam, (4, 9))
    cam = _align_camera(cam.to(device=x.device, dtype=x.dtype), x)
    xx = torch.clamp(x[..., :2] / x[..., 2:3], min=-1.0, max=1.0)
    return _back(cam[..., 0:2] * xx + cam[..., 2:4], was_np)


def reprojection_error(points: Tensor, x2d: Tensor, camera: Tensor, *, distortion: bool = True) -> Tensor:
    """Euclidean distance between projected points and observed 2D, per point.

    Args:
        points: ``(..., J, 3)`` camera-space points (absolute, i.e. with the root translation).
        x2d: ``(..., J, 2)`` observed 2D in the camera's units, broadcastable against the
            projection (e.g. ``points (B, H, T, J, 3)`` with ``x2d (B, 1, T, J, 2)``).
        camera: ``(9,)`` or ``(..., 9)`` aligned with the leading dimensions of ``points``.
        distortion: Use :func:`project_to_2d` (True) or :func:`project_linear` (False).

    Returns:
        ``(..., J)`` distances in the 2D's units.
    """
    proj = project_to_2d(points, camera) if distortion else project_linear(points, camera)
    return torch.linalg.vector_norm(proj - x2d, dim=-1)


def undistort_points(x2d: Tensor, camera: Tensor, iterations: int = 10) -> Tensor:
    """Invert the distortion of :func:`project_to_2d`: 2D → ideal normalised rays ``(X/Z, Y/Z)``.

    Fixed-point iteration ``XX ← (XXX − p·r²(XX)) / (radial(XX) + p·XX)``, starting from the
    distorted point; converges in a few steps for real lenses (H36M distortion is small). The
    clamp of the forward model is not inverted (rays beyond ±1 come back unclamped).

    Args:
        x2d: ``(..., 2)`` image points in the camera's units.
        camera: ``(9,)`` or ``(..., 9)`` aligned with the leading dimensions of ``x2d``.
        iterations: Number of fixed-point steps (0 = pinhole only).

    Returns:
        ``(..., 2)`` undistorted rays ``(X/Z, Y/Z)``.
    """
    _check_last("x2d", x2d, 2)
    _check_last("camera", camera, 9)
    cam = _align_camera(camera.to(device=x2d.device, dtype=x2d.dtype), x2d)
    f, c, k, p = cam[..., 0:2], cam[..., 2:4], cam[..., 4:7], cam[..., 7:9]
    xd = (x2d - c) / f
    xx = xd
    for _ in range(int(iterations)):
        r2 = (xx * xx).sum(dim=-1, keepdim=True)
        radial = 1 + (k * torch.cat((r2, r2 * r2, r2 * r2 * r2), dim=-1)).sum(dim=-1, keepdim=True)
        tan = (p * xx).sum(dim=-1, keepdim=True)
        xx = (xd - p * r2) / (radial + tan)
    return xx


# --------------------------------------------------------------------------- extrinsics
def quaternion_rotate(q: Any, v: Any):
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)`` ``(w, x, y, z)``; broadcasts.

    ``v' = v + 2·(w·(u×v) + u×(u×v))`` with ``u = (x, y, z)``. numpy in → numpy out.
    """
    qt, was_np = _to_tensor("q", q)
    vt, _ = _to_tensor("v", v)
    _check_last("q", qt, 4)
    _check_last("v", vt, 3)
    qt = qt.to(device=vt.device, dtype=vt.dtype)
    shape = torch.broadcast_shapes(qt.shape[:-1], vt.shape[:-1])
    qt, vt = qt.expand(*shape, 4), vt.expand(*shape, 3)
    u = qt[..., 1:]
    uv = torch.linalg.cross(u, vt, dim=-1)
    uuv = torch.linalg.cross(u, uv, dim=-1)
    return _back(vt + 2 * (qt[..., :1] * uv + uuv), was_np)


def quaternion_inverse(q: Any):
    """Inverse of unit quaternions ``(..., 4)`` ``(w, x, y, z)``: the conjugate ``(w, −x, −y, −z)``."""
    qt, was_np = _to_tensor("q", q)
    _check_last("q", qt, 4)
    return _back(qt * qt.new_tensor([1.0, -1.0, -1.0, -1.0]), was_np)


def quaternion_to_matrix(q: Any):
    """Unit quaternions ``(..., 4)`` ``(w, x, y, z)`` → rotation matrices ``(..., 3, 3)``.

    ``R @ v`` equals :func:`quaternion_rotate` ``(q, v)``. The quaternion is normalised first.
    """
    qt, was_np = _to_tensor("q", q)
    _check_last("q", qt, 4)
    qt = qt / torch.linalg.vector_norm(qt, dim=-1, keepdim=True)
    w, x, y, z = qt.unbind(-1)
    r = torch.stack(
        (
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ),
        dim=-1,
    )
    return _back(r.reshape(*qt.shape[:-1], 3, 3), was_np)


def world_to_camera(x: Any, q: Any, t: Any):
    """World → camera coordinates with quaternion extrinsics (reference §1.4).

    ``X_cam = q⁻¹ ⊗ (X_world − t)``.

    Args:
        x: ``(..., 3)`` world points (metres).
        q: ``(4,)`` or broadcastable ``(..., 4)`` camera orientation ``(w, x, y, z)`` (camera → world).
        t: ``(3,)`` or broadcastable ``(..., 3)`` camera centre in world coordinates (metres).

    Returns:
        ``(..., 3)`` camera-space points (numpy in → numpy out).
    """
    xt, was_np = _to_tensor("x", x)
    qt, _ = _to_tensor("q", q)
    tt, _ = _to_tensor("t", t)
    _check_last("x", xt, 3)
    _check_last("t", tt, 3)
    tt = tt.to(device=xt.device, dtype=xt.dtype)
    return _back(quaternion_rotate(quaternion_inverse(qt), xt - tt), was_np)


def camera_to_world(x: Any, q: Any, t: Any):
    """Camera → world coordinates: ``X_world = q ⊗ X_cam + t``; inverse of :func:`world_to_camera`.

    Args:
        x: ``(..., 3)`` camera-space points (metres).
        q: ``(4,)`` or broadcastable ``(..., 4)`` orientation ``(w, x, y, z)``.
        t: ``(3,)`` or broadcastable ``(..., 3)`` camera centre (metres).

    Returns:
        ``(..., 3)`` world points (numpy in → numpy out).
    """
    xt, was_np = _to_tensor("x", x)
    qt, _ = _to_tensor("q", q)
    tt, _ = _to_tensor("t", t)
    _check_last("t", tt, 3)
    out = quaternion_rotate(qt, xt) + tt.to(device=xt.device, dtype=xt.dtype)
    return _back(out, was_np)


def world_to_camera_rotation(x: Any, r: Any, t: Any):
    """World → camera with a rotation matrix: ``X_cam = Rᵀ (X_world − t)``.

    Args:
        x: ``(..., 3)`` world points.
        r: ``(3, 3)`` or ``(..., 3, 3)`` camera → world rotation (``quaternion_to_matrix(q)``).
        t: ``(3,)`` or ``(..., 3)`` camera centre in world coordinates.

    Returns:
        ``(..., 3)`` camera-space points (numpy in → numpy out).
    """
    xt, was_np = _to_tensor("x", x)
    rt, _ = _to_tensor("r", r)
    tt, _ = _to_tensor("t", t)
    if rt.dim() < 2 or rt.shape[-2:] != (3, 3):
        raise InputError(f"r must have shape (..., 3, 3); got {tuple(rt.shape)}")
    rt, tt = rt.to(device=xt.device, dtype=xt.dtype), tt.to(device=xt.device, dtype=xt.dtype)
    # Row vectors: (X - t) @ R == (R^T (X - t))^T
    out = ((xt - tt).unsqueeze(-2) @ rt).squeeze(-2)
    return _back(out, was_np)


def camera_to_world_rotation(x: Any, r: Any, t: Any):
    """Camera → world with a rotation matrix: ``X_world = R X_cam + t``.

    Args:
        x: ``(..., 3)`` camera-space points.
        r: ``(3, 3)`` or ``(..., 3, 3)`` camera → world rotation.
        t: ``(3,)`` or ``(..., 3)`` camera centre in world coordinates.

    Returns:
        ``(..., 3)`` world points (numpy in → numpy out).
    """
    xt, was_np = _to_tensor("x", x)
    rt, _ = _to_tensor("r", r)
    tt, _ = _to_tensor("t", t)
    if rt.dim() < 2 or rt.shape[-2:] != (3, 3):
        raise InputError(f"r must have shape (..., 3, 3); got {tuple(rt.shape)}")
    rt, tt = rt.to(device=xt.device, dtype=xt.dtype), tt.to(device=xt.device, dtype=xt.dtype)
    out = (xt.unsqueeze(-2) @ rt.transpose(-1, -2)).squeeze(-2) + tt
    return _back(out, was_np)


# --------------------------------------------------------------------------- root estimation
def estimate_root(
    rel3d: Tensor,
    x2d: Tensor,
    camera: Tensor,
    *,
    distortion: bool = True,
    refine: int = 2,
    min_depth: float = 0.1,
) -> Tensor:
    """Least-squares camera-space root translation from a root-relative pose and its 2D.

    The deployable replacement for the ground-truth trajectory that the official JPMA adds to the
    hypotheses (reference §5.2, quirk §8.2). For every frame it finds ``τ = (tx, ty, tz)`` such that
    the pinhole projection of ``rel3d + τ`` matches ``x2d``:

    1. The 2D is mapped to ideal rays ``(ũ, ṽ) = ((u − cx)/fx, (v − cy)/fy)``; with
       ``distortion=True`` the lens distortion of :func:`project_to_2d` is first inverted by
       :func:`undistort_points` (otherwise the undistorted pinhole approximation is used).
    2. Each joint gives two equations linear in τ: ``tx − ũ·tz = ũ·Z − X`` and
       ``ty − ṽ·tz = ṽ·Z − Y`` (the image-plane residual multiplied by the joint's depth); the
       3×3 normal equations are solved per frame in float64.
    3. ``refine`` re-weighting passes divide each joint's equations by its current depth
       ``Z + tz``, which turns the algebraic error into the image-plane error (iteratively
       re-weighted least squares).

    The projection clamp of :func:`project_to_2d` is not modelled. Depths are clamped to at least
    ``min_depth`` so a degenerate frame cannot put the root behind the camera.

    Args:
        rel3d: ``(..., T, J, 3)`` root-relative pose in metres (e.g. the mean hypothesis).
        x2d: ``(..., T, J, 2)`` observed 2D in the camera's units.
        camera: ``(9,)`` or ``(..., 9)`` intrinsics (leading dimensions = those of ``x2d`` before T).
        distortion: Undistort the 2D first (True) or treat it as pinhole (False).
        refine: Number of re-weighting passes (0 = plain algebraic least squares).
        min_depth: Smallest allowed root depth ``tz`` (metres).

    Returns:
        ``(..., T, 1, 3)`` root translation in camera space (metres), dtype of ``rel3d``.

    Raises:
        InputError: mismatched shapes or non-finite input.
    """
    if not isinstance(rel3d, Tensor) or not isinstance(x2d, Tensor) or not isinstance(camera, Tensor):
        raise InputError("estimate_root expects torch tensors for rel3d, x2d and camera")
    _check_last("rel3d", rel3d, 3)
    _check_last("x2d", x2d, 2)
    _check_last("camera", camera, 9)
    if rel3d.dim() < 3 or rel3d.shape[:-1] != x2d.shape[:-1]:
        raise InputError(
            f"rel3d (..., T, J, 3) and x2d (..., T, J, 2) must agree; got {tuple(rel3d.shape)} and {tuple(x2d.shape)}"
        )
    for name, v in (("rel3d", rel3d), ("x2d", x2d), ("camera", camera)):
        if not bool(torch.isfinite(v).all()):
            raise InputError(f"{name} must be finite; got {int((~torch.isfinite(v)).sum())} NaN/Inf value(s)")
    dtype = rel3d.dtype
    p3 = rel3d.to(torch.float64)
    q2 = x2d.to(torch.float64)
    cam = camera.to(device=q2.device, dtype=torch.float64)
    if distortion:
        ray = undistort_points(q2, cam)
    else:
        c = _align_camera(cam, q2)
        ray = (q2 - c[..., 2:4]) / c[..., 0:2]
    u, v = ray[..., 0], ray[..., 1]  # (..., T, J)
    X, Y, Z = p3[..., 0], p3[..., 1], p3[..., 2]
    zero, one = torch.zeros_like(u), torch.ones_like(u)
    # rows: (..., T, J, 2 equations, 3 unknowns)
    a = torch.stack(
        (torch.stack((one, zero, -u), dim=-1), torch.stack((zero, one, -v), dim=-1)), dim=-2
    )
    b = torch.stack((u * Z - X, v * Z - Y), dim=-1)
    weights = torch.ones_like(u)
    tau = None
    eye = torch.eye(3, dtype=torch.float64, device=u.device) * 1e-12
    for it in range(int(refine) + 1):
        w2 = (weights * weights)[..., None, None]  # (..., T, J, 1, 1)
        aw = a * w2
        ata = torch.einsum("...jei,...jek->...ik", aw, a) + eye
        atb = torch.einsum("...jei,...je->...i", aw, b)
        tau = torch.linalg.solve(ata, atb)  # (..., T, 3)
        tau = torch.cat((tau[..., :2], tau[..., 2:].clamp(min=min_depth)), dim=-1)
        if it < refine:
            depth = (Z + tau[..., None, 2]).clamp(min=min_depth)
            weights = 1.0 / depth
    return tau.unsqueeze(-2).to(dtype)


# --------------------------------------------------------------------------- MPI-INF-3DHP
MPI_INF_3DHP_CALIBRATION: dict[str, dict[str, Any]] = {
    # focal length, principal-point offset and sensor size in mm; image size in pixels
    # (3DHP test calibration files; pixel aspect and TS5/6 lens distortion are ignored,
    # as by the official JPMA, reference §1.9).
    "TS1-4": {"focal_mm": 7.32506, "offset_mm": (-0.0322884, 0.0929296), "sensor_mm": (10.0, 10.0),
              "image": (2048, 2048)},
    "TS5-6": {"focal_mm": 8.770747185, "offset_mm": (-0.104908645, 0.104899704), "sensor_mm": (10.0, 5.625),
              "image": (1920, 1080)},
}
"""3DHP test-set camera calibration (reference §1.9)."""


def _3dhp_key(sequence: str | int) -> str:
    s = str(sequence).upper()
    if s.startswith("TS"):
        s = s[2:]
    try:
        n = int(s)
    except ValueError:
        raise InputError(f"sequence must be one of TS1..TS6 (or 1..6); got {sequence!r}") from None
    if not 1 <= n <= 6:
        raise InputError(f"sequence must be one of TS1..TS6 (or 1..6); got {sequence!r}")
    return "TS1-4" if n <= 4 else "TS5-6"


def mpi_inf_3dhp_resolution(sequence: str | int) -> tuple[int, int]:
    """Image size ``(w, h)`` of a 3DHP test sequence: 2048×2048 (TS1–4) or 1920×1080 (TS5–6)."""
    return tuple(MPI_INF_3DHP_CALIBRATION[_3dhp_key(sequence)]["image"])  # type: ignore[return-value]


def mpi_inf_3dhp_intrinsics(sequence: str | int, *, normalized: bool = True) -> np.ndarray:
    """The hard-coded JPMA intrinsics of a 3DHP test sequence (reference §1.9), no distortion.

    Pixels per mm ``m = image / sensor``; ``f_px = focal·m``; ``c_px = image/2 + offset·m``.
    TS1–4: fx = fy ≈ 1500.17, cx ≈ 1017.39, cy ≈ 1043.03; TS5–6: fx = fy ≈ 1683.98, cx ≈ 939.86,
    cy ≈ 560.14. Distortion is 0 (the official code ignores the TS5/6 calibration's distortion and
    every pixel aspect).

    Args:
        sequence: ``"TS1"``..``"TS6"`` or ``1``..``6``.
        normalized: Return intrinsics for normalised screen coordinates (for 2D normalised with the
            sequence's ``w, h``; what posediff's aggregators expect) instead of pixels.

    Returns:
        ``(9,)`` float64 ``[fx, fy, cx, cy, 0, 0, 0, 0, 0]``.
    """
    cal = MPI_INF_3DHP_CALIBRATION[_3dhp_key(sequence)]
    w, h = cal["image"]
    mx, my = w / cal["sensor_mm"][0], h / cal["sensor_mm"][1]
    f = np.array([cal["focal_mm"] * mx, cal["focal_mm"] * my])
    c = np.array([w / 2 + cal["offset_mm"][0] * mx, h / 2 + cal["offset_mm"][1] * my])
    if normalized:
        f = f / w * 2
        c = np.asarray(normalize_screen_coordinates(c, w, h))
    return np.concatenate([f, c, np.zeros(5)]).astype(np.float64)
