"""Median of the hypotheses: a robust, camera-free alternative to the mean (P-Agg)."""
from __future__ import annotations

from typing import Literal, Optional

import torch
from torch import Tensor

from posediff.errors import SpecError
from posediff.interfaces import Aggregator

__all__ = ["MedianAggregator", "coordinate_median", "geometric_median"]


def coordinate_median(points: Tensor, dim: int = 1) -> Tensor:
    """Coordinate-wise median along ``dim``; the mean of the two middle values when the count is even.

    Args:
        points: Any tensor, e.g. hypotheses ``(B, H, T, J, 3)`` with ``dim=1``.
        dim: The dimension reduced.

    Returns:
        ``points`` with ``dim`` removed.

    Example:
        >>> coordinate_median(torch.tensor([[0.0], [1.0], [5.0], [9.0]]), dim=0)
        tensor([3.])
    """
    n = points.shape[dim]
    ordered = points.sort(dim=dim).values
    upper = ordered.narrow(dim, n // 2, 1).squeeze(dim)
    if n % 2:
        return upper
    lower = ordered.narrow(dim, n // 2 - 1, 1).squeeze(dim)
    return (lower + upper) / 2


def geometric_median(points: Tensor, dim: int = 1, iterations: int = 20, eps: float = 1e-6) -> Tensor:
    """Geometric median (the point minimising the sum of Euclidean distances) along ``dim``.

    Weiszfeld's iteration ``m ← Σ wᵢ·pᵢ / Σ wᵢ`` with ``wᵢ = 1 / max(|pᵢ − m|, eps)``, started from
    the mean, over the last dimension as the coordinates (e.g. 3D joints). Computed in float64.

    Args:
        points: ``(..., N, ..., D)``: ``N`` points along ``dim``, coordinates in the last dimension.
        dim: The dimension holding the points (not the last one).
        iterations: Number of Weiszfeld steps.
        eps: Distance floor (same units as ``points``) that keeps a point coinciding with the
            current estimate from getting an infinite weight.

    Returns:
        ``points`` with ``dim`` removed, dtype of ``points``.
    """
    p = points.to(torch.float64)
    m = p.mean(dim=dim, keepdim=True)
    for _ in range(int(iterations)):
        w = 1.0 / torch.linalg.vector_norm(p - m, dim=-1, keepdim=True).clamp(min=eps)
        m = (w * p).sum(dim=dim, keepdim=True) / w.sum(dim=dim, keepdim=True)
    return m.squeeze(dim).to(points.dtype)


class MedianAggregator(Aggregator):
    """Per joint, the median of the H hypotheses; needs no camera, root or ground truth.

    ``method="coordinate"`` takes the median of x, y and z separately (the mean of the two middle
    values for even H); ``"geometric"`` takes the 3D geometric median of the joint's H positions
    (Weiszfeld iterations), which is rotation-equivariant and lies inside their convex hull. Both
    ignore up to half of the hypotheses being arbitrarily far off, where the mean (the official
    P-Agg) is dragged along.

    Args:
        method: ``"coordinate"`` or ``"geometric"``.
        iterations: Weiszfeld steps for ``"geometric"``.
        eps: Distance floor of the Weiszfeld weights, metres.

    Shape:
        hyps ``(B, H, T, J, 3)`` root-relative metres → ``(B, T, J, 3)``.

    Example:
        >>> hyps = torch.zeros(1, 3, 2, 17, 3)
        >>> hyps[:, 2] = 10.0                       # one wild hypothesis
        >>> float(MedianAggregator()(hyps, x2d=torch.zeros(1, 2, 17, 2)).abs().max())
        0.0
    """

    needs: frozenset = frozenset()
    spec_example = {"method": "geometric", "iterations": 5}
    """Small arguments for :func:`posediff.testing.check_component`."""

    def __init__(
        self,
        method: Literal["coordinate", "geometric"] = "coordinate",
        iterations: int = 20,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if method not in ("coordinate", "geometric"):
            raise SpecError(f"aggregator.method: expected 'coordinate' or 'geometric'; got {method!r}")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise SpecError(f"aggregator.iterations: expected an int >= 0; got {iterations!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
            raise SpecError(f"aggregator.eps: expected a float > 0; got {eps!r}")
        self.method = method
        self.iterations = iterations
        self.eps = eps

    def aggregate(self, hyps: Tensor, **_: Optional[Tensor]) -> Tensor:
        """The median over the hypothesis dimension (``hyps`` checked by the base class; nothing else used)."""
        if self.method == "coordinate":
            return coordinate_median(hyps, dim=1)
        return geometric_median(hyps, dim=1, iterations=self.iterations, eps=self.eps)

    def extra_repr(self) -> str:
        return f"method={self.method!r}, iterations={self.iterations}, eps={self.eps}"
