"""Mean of the hypotheses (the official P-Agg pose)."""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from ..interfaces import Aggregator
from ..registry import register

__all__ = ["MeanAggregator"]


@register("aggregator", "mean")
class MeanAggregator(Aggregator):
    """Average the H hypotheses joint by joint (the official P-Agg, reference §5.3).

    Needs nothing but the hypotheses: no camera, no root, no ground truth. Deployable.

    Shape:
        hyps ``(B, H, T, J, 3)`` → ``(B, T, J, 3)`` (metres).

    Example:
        >>> import torch
        >>> MeanAggregator()(torch.ones(2, 4, 5, 17, 3), x2d=torch.zeros(2, 5, 17, 2)).shape
        torch.Size([2, 5, 17, 3])
    """

    needs: frozenset = frozenset()

    def aggregate(self, hyps: Tensor, **_: Optional[Tensor]) -> Tensor:
        """The mean over the hypothesis dimension (the other inputs are not used)."""
        return hyps.mean(dim=1)
