"""A plain Linear fusion block (Table 5 "w/o PTS" ablation; reference §9)."""
from __future__ import annotations

from torch import Tensor, nn

from ..interfaces import Conditioning, FusionBlock
from ..registry import register

__all__ = ["LinearFusion"]


@register("fusion", "linear")
class LinearFusion(FusionBlock):
    """Plain output projection ``W_o·x``; with a residual site after FPC it gives
    ``x ← x + W_o·FPC(x)`` (FinePOSE Table 5, "w/o PTS"; no LayerNorm, scale or shift).

    Args:
        dim: Token width C (context key).
        zero_init: Zero weight and bias, so the site starts as the identity (like PTS).

    Shape:
        x: (N·J, T, C) → (N·J, T, C); cond and v unused.
    """

    def __init__(self, dim: int, zero_init: bool = True) -> None:
        super().__init__()
        self.dim = dim
        self.zero_init = zero_init
        self.proj = nn.Linear(dim, dim)
        if zero_init:
            nn.init.zeros_(self.proj.weight)
            nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor, cond: Conditioning, v: Tensor) -> Tensor:
        """Apply the linear map to tokens ((N·J), T, C); ``cond`` and ``v`` are unused."""
        return self.proj(x)
