"""Joint-wise reprojection-based multi-hypothesis aggregation (JPMA; the paper's J-Agg)."""
from __future__ import annotations

from typing import Any, Literal, Mapping, Optional

import torch
from torch import Tensor

from ..errors import InputError
from ..geometry.cameras import estimate_root, reprojection_error
from ..interfaces import Aggregator
from ..registry import register
from ..validation import check_finite, check_shape

__all__ = ["JPMAAggregator", "reprojection_option_problems", "reprojection_errors"]


def reprojection_option_problems(params: Mapping[str, Any]) -> list[str]:
    """Problems with the options every reprojection-based aggregator shares: ``root`` ("estimate": fit the
    root trajectory to the 2D; "given": the caller passes it) and ``distortion`` (a bool)."""
    out = []
    root = params.get("root", "estimate")
    if root not in ("estimate", "given"):
        out.append(f"aggregator.root: expected 'estimate' or 'given'; got {root!r}")
    if not isinstance(params.get("distortion", True), bool):
        out.append(f"aggregator.distortion: expected a bool; got {params.get('distortion')!r}")
    return out


def reprojection_errors(hyps: Tensor, x2d: Tensor, camera: Optional[Tensor], root: Optional[Tensor], *,
                        root_mode: str = "estimate", distortion: bool = True, name: str = "jpma",
                        detach_root: bool = False, return_root: bool = False):
    """Reprojection error of every hypothesis and joint, ``(B, H, T, J)``, with the input checks it needs.

    Args:
        hyps: ``(B, H, T, J, 3)`` root-relative metres. x2d: ``(B, T, J, 2)`` in the camera's units.
        camera: ``(B, 9)`` or ``(9,)`` intrinsics (required). root: ``(B, T, 1, 3)`` camera-space metres, or
            None: fitted to the 2D from the mean hypothesis (``root_mode="estimate"``; an error with "given").
        distortion: Apply the radial/tangential distortion. name: The aggregator, for messages.
        detach_root: Fit the root without gradient (for aggregators that are differentiated).
        return_root: Also return the root used, ``(B, T, 1, 3)`` camera-space metres (given or fitted).

    Returns:
        ``(B, H, T, J)`` errors in the 2D's units; with ``return_root``, ``(errors, root)``.

    Raises:
        InputError: a missing camera (or root with ``root_mode="given"``), wrong shapes, NaN/Inf.
    """
    for what, v in (("hyps", hyps), ("x2d", x2d), ("root", root)):
        if (v is not None or what == "hyps") and not isinstance(v, Tensor):
            raise InputError(f"{what} must be a torch tensor; got {type(v).__name__}")
    dims = check_shape("hyps", hyps, ("B", "H", "T", "J", "3"))
    b = dims["B"]
    check_shape("x2d", x2d, ("B", "T", "J", "2"), dims)
    check_finite("x2d", x2d)
    x = x2d.to(device=hyps.device, dtype=hyps.dtype)
    if camera is None:
        raise InputError(
            f"camera must be given: the {name} aggregator needs camera intrinsics (B, 9) [fx, fy, cx, cy, k1, k2, k3, "
            "p1, p2] in the 2D's units; got None (without a camera use the 'mean' aggregator: "
            "overrides={'aggregator.name': 'mean'})"
        )
    if not isinstance(camera, torch.Tensor) or tuple(camera.shape) not in ((9,), (b, 9)):
        got = tuple(camera.shape) if isinstance(camera, torch.Tensor) else type(camera).__name__
        raise InputError(f"camera must have shape (B={b}, 9) or (9,); got {got}")
    check_finite("camera", camera)
    cam = camera.to(device=hyps.device, dtype=hyps.dtype)
    if root is None:
        if root_mode == "given":
            raise InputError(
                f"root must be given: the {name} aggregator with root='given' needs root=(B, T, 1, 3) camera-space "
                "metres; got None (pass it, or use root='estimate' to fit it to the 2D)"
            )
        # Official: adds the ground-truth root trajectory (reference §5.2, quirk §8.2); we fit it to the 2D.
        mean = hyps.mean(dim=1)
        tau = estimate_root(mean.detach() if detach_root else mean, x, cam, distortion=distortion)
    else:
        check_shape("root", root, ("B", "T", "1", "3"), dims)
        check_finite("root", root)
        tau = root.to(device=hyps.device, dtype=hyps.dtype)
    err = reprojection_error(hyps + tau[:, None], x[:, None], cam, distortion=distortion)  # (B, H, T, J)
    return (err, tau) if return_root else err


@register("aggregator", "jpma")
class JPMAAggregator(Aggregator):
    """Per joint, keep the hypothesis whose reprojection is closest to the input 2D (FinePOSE §3.3).

    Reference §5.2: every hypothesis is made absolute with a camera-space root translation,
    projected with the camera intrinsics, and for each (clip, frame, joint) the hypothesis with the
    smallest 2D distance to ``x2d`` supplies that joint. Joints of one pose may come from different
    hypotheses; there is no temporal smoothing (as officially).

    The official code adds the ground-truth root trajectory (a leak, quirk §8.2).
    ``root="estimate"`` instead fits the root to the 2D with
    :func:`posediff.geometry.cameras.estimate_root` applied to the mean hypothesis, unless the caller
    passes ``root`` explicitly; ``root="given"`` requires the caller's root (paper protocol).

    Args:
        root: ``"estimate"`` (deployable) or ``"given"`` (caller supplies the root, e.g. the GT).
        distortion: Project with the H36M distortion model (:func:`~posediff.geometry.cameras.project_to_2d`,
            official for H36M and 3DHP TS5/6 with zero coefficients) or linearly
            (:func:`~posediff.geometry.cameras.project_linear`, official for 3DHP TS1–4). With zero
            distortion coefficients both give the same result.

    Shape:
        hyps ``(B, H, T, J, 3)`` root-relative metres with the root joint at 0 (the lifter zeroes it,
        as the official evaluation does before reprojecting); x2d ``(B, T, J, 2)``; camera ``(B, 9)``
        or ``(9,)`` in the 2D's units; root ``(B, T, 1, 3)`` metres → ``(B, T, J, 3)``.
    """

    def __init__(self, root: Literal["estimate", "given"] = "estimate", distortion: bool = True) -> None:
        super().__init__()
        self.store_config(locals())
        self.needs = frozenset({"camera", "root"}) if root == "given" else frozenset({"camera"})

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """``root`` in {"estimate", "given"}, ``distortion`` a bool (also run by spec validation)."""
        return reprojection_option_problems(params)

    def select(
        self, hyps: Tensor, *, x2d: Tensor, camera: Optional[Tensor] = None, root: Optional[Tensor] = None
    ) -> Tensor:
        """The chosen hypothesis index per joint, ``(B, T, J)`` int64 (see :meth:`forward`)."""
        err = reprojection_errors(hyps, x2d, camera, root, root_mode=self.root, distortion=self.distortion)
        return err.argmin(dim=1)

    def aggregate(self, hyps: Tensor, *, x2d: Tensor, camera: Optional[Tensor] = None,
                  root: Optional[Tensor] = None, **_: Optional[Tensor]) -> Tensor:
        """Assemble each joint from its best-reprojecting hypothesis (see :meth:`select`; ``target`` unused)."""
        idx = self.select(hyps, x2d=x2d, camera=camera, root=root)  # (B, T, J)
        b, _, t, j, _ = hyps.shape
        return torch.gather(hyps, 1, idx[:, None, :, :, None].expand(b, 1, t, j, 3)).squeeze(1)

    def extra_repr(self) -> str:
        return f"root={self.root!r}, distortion={self.distortion}"
