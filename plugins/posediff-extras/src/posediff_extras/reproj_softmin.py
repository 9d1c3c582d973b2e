"""Soft joint-wise reprojection aggregation: a differentiable, temperature-controlled JPMA."""
from __future__ import annotations

from typing import Any, Literal, Mapping, Optional

import torch
from torch import Tensor

from posediff.aggregators.jpma import reprojection_option_problems
from posediff.errors import InputError
from posediff.geometry.cameras import estimate_root, reprojection_error
from posediff.interfaces import Aggregator

__all__ = ["ReprojSoftminAggregator"]


class ReprojSoftminAggregator(Aggregator):
    """Per joint, average the hypotheses with weights ``softmax(−e / τ)`` of their reprojection error e.

    Like posediff's ``jpma`` (FinePOSE's J-Agg), every hypothesis is made absolute with a
    camera-space root, projected with the intrinsics, and compared joint by joint with the input 2D:
    ``e[h] = |P(hyp_h + root)[j] − x2d[j]|`` in the 2D's units. Instead of keeping the single best
    hypothesis, the joint is the weighted mean ``Σ_h w_h·hyp_h[j]`` with
    ``w = softmax(−e/τ)`` over the H hypotheses. ``τ → 0`` gives JPMA's hard selection, ``τ → ∞``
    the plain mean (P-Agg); in between, near-ties are blended instead of flipping between
    hypotheses from frame to frame, and the output is differentiable in the hypotheses.

    The root policy is JPMA's: ``root="estimate"`` fits the root to the 2D
    (:func:`posediff.geometry.cameras.estimate_root` on the mean hypothesis) unless the caller passes
    one; ``root="given"`` requires the caller's root (the official protocol passes the ground truth,
    a leak, reference §8.2).

    Args:
        temperature: τ, in the units of the 2D (normalised screen coordinates for H36M, where
            0.01 ≈ 5 px on a 1000 px wide image).
        root: ``"estimate"`` (deployable) or ``"given"``.
        distortion: Project with the lens distortion model (``project_to_2d``) or linearly.

    Shape:
        hyps ``(B, H, T, J, 3)`` root-relative metres; x2d ``(B, T, J, 2)``; camera ``(B, 9)`` or
        ``(9,)``; root ``(B, T, 1, 3)`` metres → ``(B, T, J, 3)``.
    """

    def __init__(
        self,
        temperature: float = 0.01,
        root: Literal["estimate", "given"] = "estimate",
        distortion: bool = True,
    ) -> None:
        super().__init__()
        self.store_config(locals())
        self.needs = frozenset({"camera", "root"}) if root == "given" else frozenset({"camera"})

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """``temperature > 0`` plus the reprojection options shared with JPMA (``root``, ``distortion``)."""
        t = params.get("temperature", 1.0)
        bad = isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0
        return ([f"aggregator.temperature: expected a float > 0; got {t!r}"] if bad else []) + \
            reprojection_option_problems(params)

    def weights(
        self, hyps: Tensor, *, x2d: Tensor, camera: Optional[Tensor] = None, root: Optional[Tensor] = None
    ) -> Tensor:
        """The per-joint weights of the hypotheses, ``(B, H, T, J)``, summing to 1 over H."""
        if not isinstance(hyps, Tensor) or hyps.dim() != 5 or hyps.shape[-1] != 3 or 0 in hyps.shape:
            got = tuple(hyps.shape) if isinstance(hyps, Tensor) else type(hyps).__name__
            raise InputError(f"hyps must be a tensor of shape (B, H, T, J, 3); got {got}")
        b, _, t, j, _ = hyps.shape
        if not isinstance(x2d, Tensor) or tuple(x2d.shape) != (b, t, j, 2):
            got = tuple(x2d.shape) if isinstance(x2d, Tensor) else type(x2d).__name__
            raise InputError(f"x2d must have shape (B={b}, T={t}, J={j}, 2); got {got}")
        if camera is None:
            raise InputError(
                "the reproj_softmin aggregator needs camera intrinsics camera=(B, 9) [fx, fy, cx, cy, k1, k2, k3, "
                "p1, p2] in the 2D's units; without a camera use 'median' or 'mean'"
            )
        if not isinstance(camera, Tensor) or tuple(camera.shape) not in ((9,), (b, 9)):
            got = tuple(camera.shape) if isinstance(camera, Tensor) else type(camera).__name__
            raise InputError(f"camera must have shape (B={b}, 9) or (9,); got {got}")
        for name, value in (("hyps", hyps), ("x2d", x2d), ("camera", camera)):
            if not bool(torch.isfinite(value).all()):
                raise InputError(f"{name} contains NaN/Inf values")
        x = x2d.to(device=hyps.device, dtype=hyps.dtype)
        cam = camera.to(device=hyps.device, dtype=hyps.dtype)
        if root is None:
            if self.root == "given":
                raise InputError(
                    "the reproj_softmin aggregator with root='given' needs root=(B, T, 1, 3) camera-space metres; "
                    "pass it, or use root='estimate'"
                )
            tau = estimate_root(hyps.mean(dim=1).detach(), x, cam, distortion=self.distortion)
        else:
            if not isinstance(root, Tensor) or tuple(root.shape) != (b, t, 1, 3):
                got = tuple(root.shape) if isinstance(root, Tensor) else type(root).__name__
                raise InputError(f"root must have shape (B={b}, T={t}, 1, 3); got {got}")
            if not bool(torch.isfinite(root).all()):
                raise InputError("root contains NaN/Inf values")
            tau = root.to(device=hyps.device, dtype=hyps.dtype)
        err = reprojection_error(hyps + tau[:, None], x[:, None], cam, distortion=self.distortion)  # (B, H, T, J)
        return torch.softmax(-err / self.temperature, dim=1)

    def aggregate(self, hyps: Tensor, *, x2d: Tensor, camera: Optional[Tensor] = None,
                  root: Optional[Tensor] = None, **_: Optional[Tensor]) -> Tensor:
        """Blend the hypotheses joint by joint by their reprojection fit (see :meth:`weights`)."""
        w = self.weights(hyps, x2d=x2d, camera=camera, root=root)
        return (w[..., None] * hyps).sum(dim=1)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, root={self.root!r}, distortion={self.distortion}"
