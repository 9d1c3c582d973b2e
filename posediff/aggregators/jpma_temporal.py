"""JPMA with a temporal smoothness term: per joint, the best hypothesis *sequence* instead of the best per frame."""
from __future__ import annotations

from typing import Any, Literal, Mapping, Optional

import torch
from torch import Tensor

from ..interfaces import Aggregator
from ..registry import register
from ..validation import is_number
from .jpma import reprojection_errors, reprojection_option_problems

__all__ = ["TemporalJPMAAggregator", "viterbi_paths"]


def viterbi_paths(unary: Tensor, pairwise: Tensor) -> Tensor:
    """Minimum-cost state sequences of independent chains.

    Args:
        unary: ``(N, T, S)`` cost of state ``s`` at step ``t``.
        pairwise: ``(N, T − 1, S, S)`` cost of moving from state ``i`` at ``t`` to ``k`` at ``t + 1``
            (``[n, t, i, k]``).

    Returns:
        ``(N, T)`` int64: the states of each chain's minimum total cost path (ties: the lowest index).

    Example:
        >>> u = torch.tensor([[[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]])   # per-step best: 0, 1, 0
        >>> jump = torch.tensor([[0.0, 5.0], [5.0, 0.0]]).expand(1, 2, 2, 2)
        >>> viterbi_paths(u, jump).tolist()                            # switching costs more than it saves
        [[0, 0, 0]]
        >>> viterbi_paths(u, 0 * jump).tolist()
        [[0, 1, 0]]
    """
    n, t_n, s_n = unary.shape
    cost = unary[:, 0]
    back = []
    for t in range(1, t_n):
        total = cost[:, :, None] + pairwise[:, t - 1]  # (N, S_from, S_to)
        cost, arg = total.min(dim=1)
        cost = cost + unary[:, t]
        back.append(arg)
    path = torch.empty(n, t_n, dtype=torch.long, device=unary.device)
    path[:, -1] = cost.argmin(dim=1)
    for t in range(t_n - 2, -1, -1):
        path[:, t] = back[t].gather(1, path[:, t + 1:t + 2]).squeeze(1)
    return path


@register("aggregator", "jpma_temporal")
class TemporalJPMAAggregator(Aggregator):
    """JPMA that also penalises jumps between hypotheses over time (a temporally consistent J-Agg).

    JPMA picks, for every frame and joint independently, the hypothesis that reprojects best; consecutive
    frames may then take a joint from different hypotheses, and the output jitters (on video its
    acceleration error is several times the mean's). This aggregator keeps the per-joint reprojection choice
    but picks, per joint, the hypothesis *sequence* over the window that minimises

        Σ_t r(h_t, t) + smoothness · Σ_t ‖X(h_t, t) − X(h_{t−1}, t−1)‖

    with ``r`` the reprojection error converted to metres at the person's depth (2D error × root depth ÷
    focal length) and ``X`` the joint's 3D position, solved exactly by dynamic programming (Viterbi) per
    joint. ``smoothness = 0`` is JPMA; large values keep one hypothesis per joint for the whole window.
    Smoothness acts within a window; :func:`posediff.lift` blends neighbouring windows.

    Args:
        root: ``"estimate"`` (fit the root to the 2D from the mean hypothesis) or ``"given"``, as for JPMA.
        distortion: Project with the distortion model, as for JPMA.
        smoothness: Weight of a metre of 3D jump against a metre of reprojection error (≥ 0). The default 0.5
            was chosen on a training subject (S1) with ``scripts/video_smoothness_eval.py`` (the command is in
            ``scripts/evaluate_shipped.sh``; result ``benchmarks/results/eval/video_smoothness-S1-smoothness.json``):
            among 0.5, 1, 2 and 4 the one with the lowest MPJPE.

    Shape:
        hyps ``(B, H, T, J, 3)`` root-relative metres; x2d ``(B, T, J, 2)``; camera ``(B, 9)`` or ``(9,)``;
        root ``(B, T, 1, 3)`` → ``(B, T, J, 3)``.
    """

    def __init__(self, root: Literal["estimate", "given"] = "estimate", distortion: bool = True,
                 smoothness: float = 0.5) -> None:
        super().__init__()
        self.store_config(locals())
        self.needs = frozenset({"camera", "root"}) if root == "given" else frozenset({"camera"})

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """JPMA's options plus ``smoothness``: a number ≥ 0."""
        out = reprojection_option_problems(params)
        s = params.get("smoothness", 0.5)
        if not is_number(s) or not s >= 0:
            out.append(f"aggregator.smoothness: expected a number >= 0; got {s!r}")
        return out

    def select(self, hyps: Tensor, *, x2d: Tensor, camera: Optional[Tensor] = None,
               root: Optional[Tensor] = None) -> Tensor:
        """The chosen hypothesis per frame and joint, ``(B, T, J)`` int64."""
        err, root = reprojection_errors(hyps, x2d, camera, root, root_mode=self.root, distortion=self.distortion,
                                        name="jpma_temporal", return_root=True)  # (B, H, T, J), 2D units
        b, h, t, j, _ = hyps.shape
        if self.smoothness == 0 or t == 1 or h == 1:
            return err.argmin(dim=1)
        cam = camera.to(device=hyps.device, dtype=hyps.dtype)
        cam = cam.expand(b, 9) if cam.dim() == 1 else cam
        focal = cam[:, :2].abs().mean(dim=1)  # (B,)
        depth = root[..., 0, 2].clamp(min=0.1)  # (B, T) metres
        unary = err * (depth / focal[:, None])[:, None, :, None]  # (B, H, T, J) metres at the person's depth
        pos = hyps.permute(0, 3, 2, 1, 4)  # (B, J, T, H, 3)
        jump = torch.linalg.vector_norm(pos[:, :, 1:, None, :, :] - pos[:, :, :-1, :, None, :], dim=-1)
        # jump[b, j, t, i, k]: from hypothesis i at frame t to k at frame t + 1
        path = viterbi_paths(unary.permute(0, 3, 2, 1).reshape(b * j, t, h),
                             (self.smoothness * jump).reshape(b * j, t - 1, h, h))
        return path.reshape(b, j, t).transpose(1, 2)

    def aggregate(self, hyps: Tensor, *, x2d: Tensor, camera: Optional[Tensor] = None,
                  root: Optional[Tensor] = None, **_: Optional[Tensor]) -> Tensor:
        """Assemble each joint from its chosen hypothesis sequence (see :meth:`select`)."""
        idx = self.select(hyps, x2d=x2d, camera=camera, root=root)
        b, _, t, j, _ = hyps.shape
        return torch.gather(hyps, 1, idx[:, None, :, :, None].expand(b, 1, t, j, 3)).squeeze(1)

    def extra_repr(self) -> str:
        return f"root={self.root!r}, distortion={self.distortion}, smoothness={self.smoothness}"
