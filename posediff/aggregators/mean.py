"""Mean of the hypotheses (the official P-Agg pose)."""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from ..errors import InputError
from ..interfaces import Aggregator
from ..registry import register
from ..validation import check_shape

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

    def __init__(self) -> None:
        super().__init__()

    def forward(
        self,
        hyps: Tensor,
        *,
        x2d: Optional[Tensor] = None,
        camera: Optional[Tensor] = None,
        root: Optional[Tensor] = None,
        target: Optional[Tensor] = None,
    ) -> Tensor:
        """Mean over the hypothesis dimension.

        Args:
            hyps: ``(B, H, T, J, 3)`` root-relative hypotheses (metres).
            x2d, camera, root, target: Accepted for the common interface; unused.

        Returns:
            ``(B, T, J, 3)``.
        """
        if not isinstance(hyps, Tensor):
            raise InputError(f"hyps must be a torch tensor (B, H, T, J, 3); got {type(hyps).__name__}")
        check_shape("hyps", hyps, ("B", "H", "T", "J", "3"))
        return hyps.mean(dim=1)
