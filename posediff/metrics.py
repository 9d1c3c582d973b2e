"""Pose-error metrics: MPJPE, P-MPJPE, N-MPJPE, MPJVE, 3DHP PCK/AUC, the official multi-hypothesis
evaluation variants (J-Agg, J-Best, P-Best, P-Agg) and per-group tables (reference §5.2–§5.3, §6.2).

Units: every error is in the units of its inputs. posediff poses are metres, so multiply by 1000 for
the millimetres of papers (``mpjpe(p, y) * 1000``); PCK thresholds are in the same units as the poses
(``threshold=0.15`` for metres, ``150`` for millimetres).

Backends: functions accept torch tensors or numpy arrays. numpy in → numpy out (a scalar result is a
Python ``float``); torch in → torch out. Procrustes alignment runs in float64 internally.
Shapes follow the shared alphabet: ``(..., J, 3)`` poses, B clips, M steps, H hypotheses, T frames.

Size: every pose metric the evaluation reports, each a short function; together they are the one place the
numbers are defined.

"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable, Iterable, Literal, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from .errors import InputError
from .geometry.cameras import reprojection_error
from .geometry.skeletons import convert_joints, get_skeleton

__all__ = [
    "mpjpe",
    "p_mpjpe",
    "n_mpjpe",
    "mpjve",
    "acceleration_error",
    "procrustes_align",
    "pck",
    "auc",
    "pck_joints",
    "AUC_THRESHOLDS",
    "reprojection_indices",
    "j_agg",
    "j_best",
    "p_best",
    "p_agg",
    "action_group",
    "group_means",
    "unweighted_mean",
    "ErrorTable",
]

Reduction = Literal["mean", "pose", "joint"]

AUC_THRESHOLDS: np.ndarray = np.arange(31, dtype=np.float64) * 0.005
"""The 31 AUC thresholds 0, 5, …, 150 mm, in metres (reference §6.2)."""


# --------------------------------------------------------------------------- input handling
def _to_torch(name: str, x: Any) -> tuple[Tensor, bool]:
    if isinstance(x, Tensor):
        return x, False
    try:
        arr = np.asarray(x)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{name} must be an array or tensor of numbers; got {type(x).__name__}") from exc
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{name} must hold numbers; got dtype {arr.dtype}")
    t = torch.from_numpy(np.ascontiguousarray(arr))
    return (t if t.is_floating_point() else t.to(torch.float64)), True


def _out(x: Tensor, was_numpy: bool):
    if not was_numpy:
        return x
    arr = x.detach().cpu().numpy()
    return float(arr) if arr.ndim == 0 else arr


def _check_finite(name: str, x: Tensor) -> None:
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise InputError(f"{name} must be finite; got {bad} NaN/Inf value(s)")


def _pair(pred: Any, target: Any, *, min_dims: int = 2, validate: bool = True,
          coord: Optional[int] = None) -> tuple[Tensor, Tensor, bool]:
    p, np_p = _to_torch("pred", pred)
    y, _ = _to_torch("target", target)
    if p.shape != y.shape:
        raise InputError(f"pred and target must have the same shape; got {tuple(p.shape)} and {tuple(y.shape)}")
    if p.dim() < min_dims or 0 in p.shape:
        raise InputError(f"pred must have shape (..., J, D) with at least {min_dims} non-empty dims; got {tuple(p.shape)}")
    if coord is not None and p.shape[-1] != coord:
        raise InputError(f"pred must have shape (..., J, {coord}); got {tuple(p.shape)}")
    if validate:
        _check_finite("pred", p)
        _check_finite("target", y)
    if not p.is_floating_point():
        p = p.to(torch.float64)
    y = y.to(device=p.device, dtype=p.dtype)
    return p, y, np_p


def _reduce(err: Tensor, reduction: str) -> Tensor:
    """``err (..., J)`` per-joint errors → mean / per pose / per joint."""
    if reduction == "mean":
        return err.mean()
    if reduction == "pose":
        return err.mean(dim=-1)
    if reduction == "joint":
        return err
    raise InputError(f"reduction must be 'mean', 'pose' or 'joint'; got {reduction!r}")


# --------------------------------------------------------------------------- single-pose metrics
def mpjpe(pred: Any, target: Any, *, reduction: Reduction = "mean", validate: bool = True):
    """Mean per-joint position error: mean of ``‖pred − target‖₂`` (reference §6.2, protocol #1).

    All joints count, the root included (zero error when both roots are 0, as officially).
    Differentiable (usable as the training loss with ``validate=False`` to skip the NaN check).

    Args:
        pred: ``(..., J, D)`` predicted joints (metres for posediff poses).
        target: Same shape, ground truth.
        reduction: ``"mean"`` (scalar), ``"pose"`` (``(...)``, mean over joints) or ``"joint"``
            (``(..., J)``, per-joint distances).
        validate: Check for NaN/Inf (costs a device sync).

    Returns:
        The error in the input units (×1000 for mm from metres).

    Example:
        >>> round(mpjpe(np.zeros((2, 17, 3)), np.ones((2, 17, 3))), 6)
        1.732051
    """
    p, y, was_np = _pair(pred, target, validate=validate)
    return _out(_reduce(torch.linalg.vector_norm(p - y, dim=-1), reduction), was_np)


def procrustes_align(pred: Any, target: Any, *, validate: bool = True):
    """Similarity-Procrustes-align every pose of ``pred`` to ``target`` (reference §6.2).

    Per pose: centre both, divide by their Frobenius norms, ``H = X0ᵀ·Y0 = U S Vᵀ``, ``R = V Uᵀ``;
    if ``det R < 0`` the last column of V and the last singular value change sign (no reflections);
    scale ``a = ΣS·‖X0‖/‖Y0‖``, ``t = μ_X − a·μ_Y·R``; aligned ``= a·pred·R + t``. Computed in float64.

    Args:
        pred: ``(..., J, D)`` poses to align.
        target: Same shape, reference poses.
        validate: Check for NaN/Inf.

    Returns:
        ``(..., J, D)`` aligned ``pred`` (input dtype).
    """
    p, y, was_np = _pair(pred, target, validate=validate)
    return _out(_align(p, y), was_np)


def _align(p: Tensor, y: Tensor) -> Tensor:
    dtype = p.dtype
    p64, y64 = p.to(torch.float64), y.to(torch.float64)
    mu_x = y64.mean(dim=-2, keepdim=True)
    mu_y = p64.mean(dim=-2, keepdim=True)
    x0 = y64 - mu_x
    y0 = p64 - mu_y
    # Official: divides by the norm without a guard (NaN for a degenerate, all-equal pose).
    norm_x = torch.sqrt((x0 * x0).sum(dim=(-2, -1), keepdim=True)).clamp(min=1e-12)
    norm_y = torch.sqrt((y0 * y0).sum(dim=(-2, -1), keepdim=True)).clamp(min=1e-12)
    x0 = x0 / norm_x
    y0 = y0 / norm_y
    h = x0.transpose(-1, -2) @ y0
    u, s, vt = torch.linalg.svd(h)
    v = vt.transpose(-1, -2)
    r = v @ u.transpose(-1, -2)
    sign = torch.sign(torch.linalg.det(r))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    fix = torch.ones_like(s)
    fix[..., -1] = sign
    v = v * fix.unsqueeze(-2)  # flips the last column of V
    s = s * fix
    r = v @ u.transpose(-1, -2)
    a = s.sum(dim=-1)[..., None, None] * norm_x / norm_y
    t = mu_x - a * (mu_y @ r)
    return (a * (p64 @ r) + t).to(dtype)


def p_mpjpe(pred: Any, target: Any, *, reduction: Reduction = "mean", validate: bool = True):
    """MPJPE after per-pose similarity Procrustes alignment (protocol #2, reference §6.2).

    Args:
        pred: ``(..., J, 3)`` predicted poses; every pose (last two dims) is aligned on its own.
        target: Same shape.
        reduction: ``"mean"``, ``"pose"`` or ``"joint"`` (see :func:`mpjpe`).
        validate: Check for NaN/Inf.

    Returns:
        The error in the input units. The alignment minimises the *squared* error, so the mean
        squared error never grows; the mean joint distance reported here usually drops too but
        can grow slightly when the error sits in a single joint (Procrustes spreads it).
    """
    p, y, was_np = _pair(pred, target, validate=validate)
    aligned = _align(p, y)
    err = torch.linalg.vector_norm(aligned.to(torch.float64) - y.to(torch.float64), dim=-1).to(p.dtype)
    return _out(_reduce(err, reduction), was_np)


def n_mpjpe(pred: Any, target: Any, *, reduction: Reduction = "mean", validate: bool = True):
    """MPJPE after the per-pose least-squares scale ``s = ⟨Y, Ŷ⟩/⟨Ŷ, Ŷ⟩`` (reference §6.2).

    Args:
        pred: ``(..., J, 3)``; the scale is fitted per pose (last two dims).
        target: Same shape.
        reduction: ``"mean"``, ``"pose"`` or ``"joint"``.
        validate: Check for NaN/Inf.

    Returns:
        The error in the input units.
    """
    p, y, was_np = _pair(pred, target, validate=validate)
    num = (y * p).sum(dim=-1, keepdim=True).mean(dim=-2, keepdim=True)
    den = (p * p).sum(dim=-1, keepdim=True).mean(dim=-2, keepdim=True)
    # Official: no guard against an all-zero prediction (0/0).
    scale = num / den.clamp(min=torch.finfo(den.dtype).tiny)
    return _out(_reduce(torch.linalg.vector_norm(scale * p - y, dim=-1), reduction), was_np)


def mpjve(pred: Any, target: Any, *, axis: int = -3, reduction: Reduction = "mean", validate: bool = True):
    """Mean per-joint velocity error: MPJPE of the first differences along time (reference §6.2).

    Args:
        pred: ``(..., T, J, 3)`` pose sequences (T ≥ 2 along ``axis``).
        target: Same shape.
        axis: The time axis (default −3, the T of ``(..., T, J, 3)``; the official call on one
            ``(T, J, 3)`` sequence uses 0, which is the same axis).
        reduction: ``"mean"``, ``"pose"`` (per velocity frame) or ``"joint"``.
        validate: Check for NaN/Inf.

    Returns:
        The error in the input units per frame.
    """
    p, y, was_np = _pair(pred, target, min_dims=3, validate=validate)
    ax = axis if axis >= 0 else p.dim() + axis
    if not 0 <= ax < p.dim() - 2:
        raise InputError(f"axis must index a dimension before (J, 3) of shape {tuple(p.shape)}; got {axis}")
    if p.shape[ax] < 2:
        raise InputError(f"pred must have at least 2 frames along axis {axis} for mpjve; got shape {tuple(p.shape)}")
    dv = torch.diff(p, dim=ax) - torch.diff(y, dim=ax)
    return _out(_reduce(torch.linalg.vector_norm(dv, dim=-1), reduction), was_np)


def acceleration_error(pred: Any, target: Any, *, axis: int = -3, reduction: Reduction = "mean",
                       validate: bool = True):
    """Mean per-joint acceleration error: MPJPE of the second differences along time (as in HMR/VIBE video
    benchmarks), the measure of jitter; the ground truth's own acceleration is subtracted.

    Args:
        pred: ``(..., T, J, 3)`` pose sequences (T ≥ 3 along ``axis``).
        target: Same shape.
        axis: The time axis (default −3).
        reduction: ``"mean"``, ``"pose"`` (per acceleration frame) or ``"joint"``.
        validate: Check for NaN/Inf.

    Returns:
        The error in the input units per frame² (metres in → m/frame²).

    Example:
        >>> import torch
        >>> gt = torch.zeros(5, 2, 3)
        >>> jitter = gt.clone(); jitter[2, :, 0] = 0.01          # one frame off by 1 cm
        >>> round(float(acceleration_error(jitter, gt)), 4)      # second differences 0.01, -0.02, 0.01
        0.0133
    """
    p, y, was_np = _pair(pred, target, min_dims=3, validate=validate)
    ax = axis if axis >= 0 else p.dim() + axis
    if not 0 <= ax < p.dim() - 2:
        raise InputError(f"axis must index a dimension before (J, 3) of shape {tuple(p.shape)}; got {axis}")
    if p.shape[ax] < 3:
        raise InputError(f"pred must have at least 3 frames along axis {axis} for acceleration_error; got shape "
                         f"{tuple(p.shape)}")
    da = torch.diff(p, n=2, dim=ax) - torch.diff(y, n=2, dim=ax)
    return _out(_reduce(torch.linalg.vector_norm(da, dim=-1), reduction), was_np)


# --------------------------------------------------------------------------- 3DHP PCK / AUC
_3DHP_EXCLUDED = (14, 15, 16)  # pelvis, spine, head in 3dhp-17 order


def pck_joints(skeleton: str = "3dhp-17") -> list[int]:
    """The 14 joints scored by 3DHP PCK/AUC in ``skeleton``'s order (reference §6.2).

    Pelvis, spine and head are excluded (3dhp-17 indices 14, 15, 16; in h36m-17 order the
    corresponding pelvis 0, spine 7 and neck/nose 9).
    """
    sk = get_skeleton(skeleton)
    if sk.name == "3dhp-17":
        return [j for j in range(17) if j not in _3DHP_EXCLUDED]
    if sk.num_joints != 17:  # pragma: no cover - only 17-joint sets are built in
        raise InputError(f"PCK is defined for the 17-joint sets; got skeleton {sk.name!r}")
    src = np.arange(17).reshape(17, 1)
    as_3dhp = convert_joints(src, "3dhp-17", sk.name)[:, 0]  # 3dhp index of each joint of sk
    return [j for j in range(17) if int(as_3dhp[j]) not in _3DHP_EXCLUDED]


def _pck_errors(pred: Any, target: Any, skeleton: str, joints: Optional[Sequence[int]], validate: bool):
    p, y, was_np = _pair(pred, target, coord=3, validate=validate)
    if joints is None and p.shape[-2] != get_skeleton(skeleton).num_joints:
        raise InputError(f"pred must have shape (..., J={get_skeleton(skeleton).num_joints}, 3) for skeleton "
                         f"{skeleton!r} (or pass joints=); got {tuple(p.shape)}")
    idx = list(pck_joints(skeleton)) if joints is None else [int(j) for j in joints]
    if not idx or min(idx) < 0 or max(idx) >= p.shape[-2]:
        raise InputError(f"joints must index the {p.shape[-2]} joints of pred; got {idx}")
    err = torch.linalg.vector_norm(p[..., idx, :].to(torch.float64) - y[..., idx, :].to(torch.float64), dim=-1)
    return err, was_np


def pck(pred: Any, target: Any, *, threshold: float = 0.15, skeleton: str = "3dhp-17",
        joints: Optional[Sequence[int]] = None, validate: bool = True):
    """Percentage of correct keypoints: share of joints with error ``< threshold``, ×100.

    The 3DHP protocol (PCK@150 mm over 14 joints, reference §6.2): the joint set comes from
    :func:`pck_joints` of ``skeleton`` unless ``joints`` is given; every joint weighs the same (the
    official groups are weighted by joint count). Filter invalid frames before calling.

    Args:
        pred: ``(..., J, 3)`` root-relative poses (metres by default).
        target: Same shape.
        threshold: Distance threshold in the poses' units (0.15 m = 150 mm).
        skeleton: Joint order of the poses, ``"3dhp-17"`` or ``"h36m-17"``.
        joints: Explicit joint indices (overrides ``skeleton``).
        validate: Check for NaN/Inf.

    Returns:
        PCK in percent, in [0, 100].
    """
    err, was_np = _pck_errors(pred, target, skeleton, joints, validate)
    return _out((err < threshold).to(torch.float64).mean() * 100.0, was_np)


def auc(pred: Any, target: Any, *, thresholds: Optional[Sequence[float]] = None, skeleton: str = "3dhp-17",
        joints: Optional[Sequence[int]] = None, validate: bool = True):
    """Area under the PCK curve: mean PCK over thresholds ``0:5:150`` mm, in percent (reference §6.2).

    Args:
        pred: ``(..., J, 3)`` poses (metres by default).
        target: Same shape.
        thresholds: Thresholds in the poses' units (default :data:`AUC_THRESHOLDS`, metres; pass
            ``AUC_THRESHOLDS * 1000`` for millimetres).
        skeleton: Joint order, as in :func:`pck`.
        joints: Explicit joint indices.
        validate: Check for NaN/Inf.

    Returns:
        AUC in percent, in [0, 100].
    """
    err, was_np = _pck_errors(pred, target, skeleton, joints, validate)
    th = torch.as_tensor(np.asarray(AUC_THRESHOLDS if thresholds is None else thresholds, dtype=np.float64),
                         device=err.device)
    if th.dim() != 1 or th.numel() == 0:
        raise InputError(f"thresholds must be a non-empty 1-D sequence; got shape {tuple(th.shape)}")
    flat = err.reshape(-1)
    share = (flat[None, :] < th[:, None]).to(torch.float64).mean(dim=1)
    return _out(share.mean() * 100.0, was_np)


# --------------------------------------------------------------------------- multi-hypothesis (official)
def _hyps_target(hyps: Any, target: Any, validate: bool) -> tuple[Tensor, Tensor, bool, bool]:
    h, np_h = _to_torch("hyps", hyps)
    y, _ = _to_torch("target", target)
    squeeze = False
    if h.dim() == 5:
        h, squeeze = h.unsqueeze(1), True
    if h.dim() != 6 or h.shape[-1] != 3 or 0 in h.shape:
        raise InputError(f"hyps must have shape (B, M, H, T, J, 3) or (B, H, T, J, 3); got {tuple(h.shape)}")
    b, _, _, t, j, _ = h.shape
    if tuple(y.shape) != (b, t, j, 3):
        raise InputError(f"target must have shape (B={b}, T={t}, J={j}, 3); got {tuple(y.shape)}")
    if validate:
        _check_finite("hyps", h)
        _check_finite("target", y)
    if not h.is_floating_point():
        h = h.to(torch.float64)
    return h, y.to(device=h.device, dtype=h.dtype), np_h, squeeze


def _finish(per_step: Tensor, was_np: bool, squeeze: bool):
    return _out(per_step[0] if squeeze else per_step, was_np)


def _hyp_errors(h: Tensor, y: Tensor, protocol: int) -> Tensor:
    """Per-joint errors of every hypothesis ``(B, M, H, T, J)``; protocol 2 aligns each pose."""
    yy = y[:, None, None].expand_as(h)
    if protocol == 1:
        return torch.linalg.vector_norm(h - yy, dim=-1)
    if protocol == 2:
        aligned = _align(h, yy)
        return torch.linalg.vector_norm(aligned.to(torch.float64) - yy.to(torch.float64), dim=-1).to(h.dtype)
    raise InputError(f"protocol must be 1 (MPJPE) or 2 (P-MPJPE); got {protocol!r}")


def reprojection_indices(hyps: Any, x2d: Any, camera: Any, root: Any, *, distortion: bool = True):
    """Per-joint hypothesis choice of J-Agg/JPMA: the hypothesis whose reprojection is closest to the 2D.

    ``argmin_h ‖P(hyps_h + root)[j] − x2d[j]‖`` independently per clip, step, frame and joint
    (reference §5.2). The official protocol passes the ground-truth root.

    Args:
        hyps: ``(B, [M,] H, T, J, 3)`` root-relative hypotheses (metres, root joint 0).
        x2d: ``(B, T, J, 2)`` input 2D in the camera's units.
        camera: ``(B, 9)`` or ``(9,)`` intrinsics.
        root: ``(B, T, 1, 3)`` camera-space root translation (metres).
        distortion: Project with the distortion model (H36M) or linearly (3DHP TS1–4).

    Returns:
        ``(B, [M,] T, J)`` int64 hypothesis indices.
    """
    h, was_np = _to_torch("hyps", hyps)
    x, _ = _to_torch("x2d", x2d)
    cam, _ = _to_torch("camera", camera)
    r, _ = _to_torch("root", root)
    if h.dim() not in (5, 6) or h.shape[-1] != 3:
        raise InputError(f"hyps must have shape (B, [M,] H, T, J, 3); got {tuple(h.shape)}")
    b, t, j = h.shape[0], h.shape[-3], h.shape[-2]
    if tuple(x.shape) != (b, t, j, 2):
        raise InputError(f"x2d must have shape (B={b}, T={t}, J={j}, 2); got {tuple(x.shape)}")
    if tuple(r.shape) != (b, t, 1, 3):
        raise InputError(f"root must have shape (B={b}, T={t}, 1, 3); got {tuple(r.shape)}")
    if cam.shape not in ((9,), (b, 9)):
        raise InputError(f"camera must have shape (9,) or (B={b}, 9); got {tuple(cam.shape)}")
    extra = h.dim() - 4  # dims between B and T (M and H, or H)
    view = (b,) + (1,) * (extra - 1)
    r = r.to(device=h.device, dtype=h.dtype).reshape(*view, 1, t, 1, 3)
    x = x.to(device=h.device, dtype=h.dtype).reshape(*view, 1, t, j, 2)
    err = reprojection_error(h + r, x, cam.to(device=h.device, dtype=h.dtype), distortion=distortion)
    return _out(err.argmin(dim=-3), was_np)


def j_agg(hyps: Any, target: Any, indices: Any, *, protocol: int = 1, official: bool = True,
          validate: bool = True):
    """J-Agg error per step: the joints chosen by reprojection (:func:`reprojection_indices`).

    Protocol 1 (``mpjpe_diffusion_reproj``) is the MPJPE of the assembled pose. Protocol 2 with
    ``official=True`` reproduces ``p_mpjpe_diffusion_reproj``: every hypothesis is Procrustes-aligned
    on its own and the per-joint *aligned* errors are gathered with the indices (quirk §8.17; not
    the P-MPJPE of any single pose). ``official=False`` gives the honest P-MPJPE of the assembled pose.

    Args:
        hyps: ``(B, [M,] H, T, J, 3)`` root-relative hypotheses.
        target: ``(B, T, J, 3)`` ground truth.
        indices: ``(B, [M,] T, J)`` chosen hypothesis per joint.
        protocol: 1 (MPJPE) or 2 (P-MPJPE).
        official: Protocol-2 variant (see above).
        validate: Check for NaN/Inf.

    Returns:
        ``(M,)`` errors (a scalar without the M dim), input units.
    """
    h, y, was_np, squeeze = _hyps_target(hyps, target, validate)
    idx, _ = _to_torch("indices", indices)
    if squeeze:
        idx = idx.unsqueeze(1)
    b, m, nh, t, j, _ = h.shape
    if tuple(idx.shape) != (b, m, t, j):
        raise InputError(f"indices must have shape (B={b}, [M={m},] T={t}, J={j}); got {tuple(idx.shape)}")
    idx = idx.to(device=h.device, dtype=torch.long)
    if bool((idx < 0).any()) or bool((idx >= nh).any()):
        raise InputError(f"indices must lie in [0, {nh - 1}] (H={nh})")
    if protocol == 1 or (protocol == 2 and official):
        err = _hyp_errors(h, y, protocol)  # (B, M, H, T, J)
        sel = torch.gather(err, 2, idx[:, :, None]).squeeze(2)
        return _finish(sel.transpose(0, 1).reshape(m, -1).mean(dim=-1), was_np, squeeze)
    if protocol != 2:
        raise InputError(f"protocol must be 1 (MPJPE) or 2 (P-MPJPE); got {protocol!r}")
    pose = torch.gather(h, 2, idx[:, :, None, :, :, None].expand(b, m, 1, t, j, 3)).squeeze(2)
    yy = y[:, None].expand_as(pose)
    err = torch.linalg.vector_norm(_align(pose, yy).to(torch.float64) - yy.to(torch.float64), dim=-1)
    return _finish(err.to(h.dtype).transpose(0, 1).reshape(m, -1).mean(dim=-1), was_np, squeeze)


def j_best(hyps: Any, target: Any, *, protocol: int = 1, validate: bool = True):
    """J-Best per step (``mpjpe_diffusion_all_min``): per-joint minimum over hypotheses. ORACLE.

    Uses the ground truth to pick, per clip, step, frame and joint, the closest hypothesis
    (protocol 2: closest after aligning every hypothesis), then averages. Not deployable; probably
    the paper's headline metric (reference §5.4).

    Args:
        hyps: ``(B, [M,] H, T, J, 3)``.
        target: ``(B, T, J, 3)``.
        protocol: 1 or 2.
        validate: Check for NaN/Inf.

    Returns:
        ``(M,)`` errors (scalar without M).
    """
    h, y, was_np, squeeze = _hyps_target(hyps, target, validate)
    err = _hyp_errors(h, y, protocol).min(dim=2).values  # (B, M, T, J)
    return _finish(err.transpose(0, 1).reshape(h.shape[1], -1).mean(dim=-1), was_np, squeeze)


def p_best(hyps: Any, target: Any, *, protocol: int = 1, validate: bool = True):
    """P-Best per step (``mpjpe_diffusion``): one hypothesis index for the whole batch. ORACLE.

    The error of every hypothesis index is averaged over *all* clips, frames and joints of
    ``hyps`` (the official evaluation mini-batch; so the value depends on the batch size), then the
    minimum over hypotheses is taken (reference §5.3).

    Args:
        hyps: ``(B, [M,] H, T, J, 3)``; B is the evaluation mini-batch.
        target: ``(B, T, J, 3)``.
        protocol: 1 or 2.
        validate: Check for NaN/Inf.

    Returns:
        ``(M,)`` errors (scalar without M).
    """
    h, y, was_np, squeeze = _hyps_target(hyps, target, validate)
    err = _hyp_errors(h, y, protocol)  # (B, M, H, T, J)
    per_h = err.permute(1, 2, 0, 3, 4).reshape(h.shape[1], h.shape[2], -1).mean(dim=-1)
    return _finish(per_h.min(dim=1).values, was_np, squeeze)


def p_agg(hyps: Any, target: Any, *, protocol: int = 1, validate: bool = True):
    """P-Agg per step (``mpjpe_diffusion_all_min(mean_pos=True)``): error of the mean hypothesis.

    No ground truth is used for the choice (deployable). Protocol 2 aligns the mean pose.

    Args:
        hyps: ``(B, [M,] H, T, J, 3)``.
        target: ``(B, T, J, 3)``.
        protocol: 1 or 2.
        validate: Check for NaN/Inf.

    Returns:
        ``(M,)`` errors (scalar without M).
    """
    h, y, was_np, squeeze = _hyps_target(hyps, target, validate)
    mean = h.mean(dim=2)  # (B, M, T, J, 3)
    yy = y[:, None].expand_as(mean)
    if protocol == 1:
        err = torch.linalg.vector_norm(mean - yy, dim=-1)
    elif protocol == 2:
        err = torch.linalg.vector_norm(_align(mean, yy).to(torch.float64) - yy.to(torch.float64), dim=-1)
        err = err.to(h.dtype)
    else:
        raise InputError(f"protocol must be 1 (MPJPE) or 2 (P-MPJPE); got {protocol!r}")
    return _finish(err.transpose(0, 1).reshape(h.shape[1], -1).mean(dim=-1), was_np, squeeze)


# --------------------------------------------------------------------------- tables
def action_group(action: str) -> str:
    """The official H36M evaluation group of a take: its base action (``"Sitting 2"`` → ``"Sitting"``)."""
    return str(action).split(" ")[0]


class ErrorTable:
    """Accumulates errors by group; frame-weighted inside a group, unweighted mean across groups.

    This is how the official evaluation reports H36M (15 base actions, reference §1.7) and 3DHP (6
    test sequences, §6.2): each group's value is the frame-weighted mean of its frames, and
    ``"Avg"`` is the plain mean of the group values. A value may be a scalar or an array (e.g. the
    per-step errors ``(M,)``).

    Example:
        >>> tab = ErrorTable()
        >>> tab.add("Walking", 0.03, weight=243)
        >>> tab.add_frames("Sitting", np.array([0.05, 0.07]))
        >>> {k: round(float(v), 3) for k, v in tab.as_dict().items()}
        {'Walking': 0.03, 'Sitting': 0.06, 'Avg': 0.045}
    """

    def __init__(self) -> None:
        self._sums: "OrderedDict[Hashable, np.ndarray]" = OrderedDict()
        self._weights: "OrderedDict[Hashable, float]" = OrderedDict()

    def add(self, key: Hashable, value: Any, weight: float = 1.0) -> None:
        """Add ``value`` (the mean error of ``weight`` frames) to group ``key``."""
        v = np.asarray(value.detach().cpu() if isinstance(value, Tensor) else value, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            raise InputError(f"value for group {key!r} contains NaN/Inf")
        if not weight > 0:
            raise InputError(f"weight must be > 0; got {weight!r}")
        if key in self._sums:
            if self._sums[key].shape != v.shape:
                raise InputError(f"value for group {key!r} has shape {v.shape}; earlier values had {self._sums[key].shape}")
            self._sums[key] = self._sums[key] + v * weight
            self._weights[key] += float(weight)
        else:
            self._sums[key] = v * weight
            self._weights[key] = float(weight)

    def add_frames(self, key: Hashable, errors: Any) -> None:
        """Add per-frame errors ``(N,)`` (or ``(N, M)``, per step) to group ``key``, one weight each."""
        e = np.asarray(errors.detach().cpu() if isinstance(errors, Tensor) else errors, dtype=np.float64)
        if e.ndim == 0 or e.shape[0] == 0:
            raise InputError(f"errors must have shape (N, ...) with N >= 1; got {e.shape}")
        self.add(key, e.mean(axis=0), weight=e.shape[0])

    def means(self) -> "OrderedDict[Hashable, Any]":
        """Frame-weighted mean per group, in insertion order."""
        return OrderedDict((k, self._value(self._sums[k] / self._weights[k])) for k in self._sums)

    def average(self) -> Any:
        """Unweighted mean of the group means (the official "Avg")."""
        if not self._sums:
            raise InputError("the table is empty")
        return self._value(np.mean(np.stack([self._sums[k] / self._weights[k] for k in self._sums]), axis=0))

    def weights(self) -> "OrderedDict[Hashable, float]":
        """Total weight (frames) per group."""
        return OrderedDict(self._weights)

    def as_dict(self, average_key: str = "Avg") -> "OrderedDict[Hashable, Any]":
        """Group means followed by the unweighted average under ``average_key``."""
        out = self.means()
        out[average_key] = self.average()
        return out

    def __len__(self) -> int:
        return len(self._sums)

    @staticmethod
    def _value(v: np.ndarray) -> Any:
        return float(v) if v.ndim == 0 else v


def group_means(values: Any, keys: Sequence[Hashable], weights: Optional[Any] = None) -> "OrderedDict[Hashable, Any]":
    """Weighted mean of ``values`` per key (frame-weighted inside each group).

    Args:
        values: ``(N,)`` or ``(N, M)`` per-item errors.
        keys: ``N`` group keys (e.g. ``[action_group(a) for a in actions]``).
        weights: ``(N,)`` item weights (frames per item); default 1 each.

    Returns:
        Ordered mapping key → mean, in first-seen order.
    """
    v = np.asarray(values.detach().cpu() if isinstance(values, Tensor) else values, dtype=np.float64)
    keys = list(keys)
    if v.ndim == 0 or v.shape[0] != len(keys):
        raise InputError(f"values must have one row per key ({len(keys)}); got shape {v.shape}")
    w = np.ones(len(keys)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(keys),):
        raise InputError(f"weights must have shape ({len(keys)},); got {w.shape}")
    tab = ErrorTable()
    for k, vi, wi in zip(keys, v, w):
        tab.add(k, vi, weight=wi)
    return tab.means()


def unweighted_mean(groups: Mapping[Hashable, Any] | Iterable[Any]) -> Any:
    """Plain mean over groups (the official "Avg" of the per-action or per-sequence table)."""
    vals = list(groups.values()) if isinstance(groups, Mapping) else list(groups)
    if not vals:
        raise InputError("no groups to average")
    out = np.mean(np.stack([np.asarray(v, dtype=np.float64) for v in vals]), axis=0)
    return float(out) if out.ndim == 0 else out
