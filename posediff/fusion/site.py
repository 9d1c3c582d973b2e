"""A fusion site: the blocks plugged into one backbone hook point, with one residual around them."""
from __future__ import annotations

from typing import Iterable

from torch import Tensor, nn

from ..interfaces import Conditioning

__all__ = ["FusionSite"]


class FusionSite(nn.Module):
    """Chain of fusion blocks at one hook point: ``y = x + chain(x)`` (or ``chain(x)``).

    Official FPC + PTS is one site with ``residual=True``: ``y = x + PTS(FPC(x))`` (reference §2.5).

    Args:
        blocks: The fusion blocks, applied in order (a list is wrapped in an ``nn.ModuleList``).
        residual: Add the site input to the chain output.

    Shape:
        x: (N·J, T, C); cond: :class:`Conditioning` of Bc clips; v: (N, C); output like x.
    """

    def __init__(self, blocks: nn.ModuleList | Iterable[nn.Module], residual: bool = True) -> None:
        super().__init__()
        self.blocks = blocks if isinstance(blocks, nn.ModuleList) else nn.ModuleList(blocks)
        self.residual = residual

    def forward(self, x: Tensor, cond: Conditioning, v: Tensor) -> Tensor:
        """Chain the blocks on x ((N·J), T, C) and add the residual when ``residual`` is true."""
        h = x
        for block in self.blocks:
            h = block(h, cond, v)
        return x + h if self.residual else h
