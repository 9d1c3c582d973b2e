"""PTS: pose-text stylization by the conditioning vector (FinePOSE §3.2; reference §2.6)."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError, SpecError
from ..interfaces import Conditioning, FusionBlock
from ..registry import register

__all__ = ["PTSFusion"]


@register("fusion", "pts")
class PTSFusion(FusionBlock):
    """Pose-text stylization: scale and shift pose tokens by the condition vector.

    FinePOSE §3.2 (PTS); matches the official ``StylizationBlock`` (reference §2.6):
    ``[scale, shift] = Linear(SiLU(v))``, ``h = LN(x)·(1 + scale) + shift``,
    ``out = ZeroLinear(Dropout(SiLU(h)))``. With the zero-initialised output and the site residual,
    FPC + PTS is the identity at initialisation.

    Args:
        dim: Token width C (context key); v has the same width.
        dropout: Dropout before the output projection (official 0).
        zero_init: Zero the output projection's weight and bias (official).

    Shape:
        x: (N·J, T, C) rows ordered (sample, joint); v: (N, C); output: (N·J, T, C).

    Example:
        >>> import torch
        >>> from posediff.interfaces import Conditioning
        >>> pts = PTSFusion(dim=32)
        >>> pts(torch.randn(2 * 17, 9, 32), Conditioning(), torch.randn(2, 32)).abs().max().item()
        0.0
    """

    def __init__(self, dim: int, dropout: float = 0.0, zero_init: bool = True) -> None:
        super().__init__()
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout <= 1.0:  # NaN fails here too
            raise SpecError(f"fusion pts dropout: expected a number in [0, 1]; got {dropout!r}")
        self.dim = dim
        self.dropout = dropout
        self.zero_init = zero_init
        self.emb = nn.Linear(dim, 2 * dim)   # official `emb_layers.1`: first half scale, second shift
        self.norm = nn.LayerNorm(dim)        # official `norm` (eps 1e-5)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(dim, dim)       # official `out_layers.2`
        if zero_init:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, cond: Conditioning, v: Tensor) -> Tensor:
        """Stylize tokens ((N·J), T, C) with scale/shift from v (N, C); returns the zero-initialised projection."""
        rows, frames, c = x.shape
        n = v.shape[0]
        if v.ndim != 2 or rows % n:
            raise InputError(f"v: expected (N, C) with N dividing the {rows} token rows; got {tuple(v.shape)}")
        # v arrives in fp32 from the timestep MLP; a bf16 inference copy runs emb in bf16
        scale, shift = self.emb(F.silu(v).to(x.dtype)).chunk(2, dim=-1)      # (N, C) each
        # rows n·J … n·J + J − 1 belong to sample n: view them as one (N, J·T, C) block, no copies
        h = self.norm(x).view(n, (rows // n) * frames, c)
        h = h * (1 + scale[:, None, :]) + shift[:, None, :]
        return self.out(self.drop(F.silu(h))).view(rows, frames, c)
