"""FPC: fine-grained prompt–pose cross-attention (FinePOSE §3.2; reference §2.5)."""
from __future__ import annotations

from typing import Any, Literal, Mapping

from torch import Tensor, nn

from ..errors import InputError, SpecError
from ..interfaces import Conditioning, FusionBlock
from ..nn.attention import attention
from ..registry import register

__all__ = ["FPCFusion"]


@register("fusion", "fpc")
class FPCFusion(FusionBlock):
    """Fine-grained prompt-pose communication: every pose token attends to the prompt tokens.

    Matches the official ``TemporalCrossAttention`` (reference §2.5): ``Q = W_q·LN(x)``,
    ``K = W_k·LN_t(P)``, ``V = W_v·LN_t(P)``, softmax over the L prompt tokens, ``heads`` heads,
    scale ``1/sqrt(C/heads)``, and **no output projection** (the PTS block that follows acts as
    one). Each pose token is its own query; there is no mixing across frames.

    K and V are computed once per conditioning row (Bc clips), never per hypothesis; the query
    rows of one clip are folded into one attention sequence, so nothing is repeated in memory.

    Args:
        dim: Pose-token width C (context key).
        cond_dim: Prompt-token width Ct (context key, = conditioner.token_dim).
        heads: Attention heads; official 8.
        pairing: ``"sample"``: query row n·J + j attends to the prompt of its own clip
            (``n // K``). ``"official"``: reproduces the official batch mis-pairing, where query
            row r of the N·J rows attends to prompt row ``r mod Bc`` (reference §2.5, §8.6); use
            it only for bug-compatible parity.

    Shape:
        x: (N·J, T, C), rows ordered (sample, joint); cond.tokens: (Bc, L, Ct) with N = Bc·K;
        v: (N, C) (unused); output: (N·J, T, C).

    Example:
        >>> import torch
        >>> from posediff.interfaces import Conditioning
        >>> fpc = FPCFusion(dim=32, cond_dim=16, heads=4)
        >>> y = fpc(torch.randn(2 * 17, 9, 32), Conditioning(tokens=torch.randn(1, 77, 16)), torch.randn(2, 32))
        >>> tuple(y.shape)
        (34, 9, 32)
    """

    def __init__(
        self,
        dim: int,
        cond_dim: int,
        heads: int = 8,
        pairing: Literal["sample", "official"] = "sample",
    ) -> None:
        super().__init__()
        problems = self.check_params(dict(dim=dim, heads=heads, pairing=pairing))
        if cond_dim < 1:  # known only at build time (the conditioner's token_dim), so not in check_params
            problems.append(
                f"fpc needs prompt tokens (cond_dim > 0), but the conditioner makes none (cond_dim = {cond_dim}); "
                "use a conditioner with tokens such as 'fpp', or remove this block"
            )
        if problems:
            raise SpecError("; ".join(problems), origin="fusion 'fpc'")
        self.dim = dim
        self.cond_dim = cond_dim
        self.heads = heads
        self.pairing = pairing
        self.scale = (dim // heads) ** -0.5
        self.norm = nn.LayerNorm(dim)           # official `norm` (eps 1e-5)
        self.cond_norm = nn.LayerNorm(cond_dim)  # official `text_norm` (eps 1e-5)
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(cond_dim, dim)
        self.value = nn.Linear(cond_dim, dim)

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """Value checks that need no tensors; returns one message per problem."""
        out = []
        dim, heads = params.get("dim", 512), params.get("heads", 8)
        if isinstance(dim, int) and isinstance(heads, int) and (heads < 1 or dim % heads):
            out.append(f"dim {dim} must be divisible by heads {heads}")
        if params.get("cond_dim", 1) == 0:
            out.append("fpc needs prompt tokens (cond_dim > 0), but the conditioner makes none; "
                       "use a conditioner with tokens such as 'fpp', or remove this block")
        if params.get("pairing", "sample") not in ("sample", "official"):
            out.append(f"pairing must be 'sample' or 'official'; got {params.get('pairing')!r}")
        return out

    def forward(self, x: Tensor, cond: Conditioning, v: Tensor) -> Tensor:
        """Cross-attend pose tokens ((N·J), T, C) to the prompt tokens of their own clip; returns Z_sp ((N·J), T, C)."""
        tokens = cond.tokens if cond is not None else None
        if tokens is None:
            raise InputError("cond.tokens: the fpc fusion block needs prompt tokens (Bc, L, Ct); got None")
        rows, frames, c = x.shape
        bc, length, _ = tokens.shape
        n = v.shape[0] if v is not None else rows
        if rows % bc or n % bc or rows % n:
            raise InputError(
                f"x/v: {rows} token rows and {n} sample rows must be multiples of the {bc} conditioning rows "
                "(rows ordered sample-major)"
            )
        h, d = self.heads, c // self.heads
        # K/V once per conditioning row: (Bc, heads, L, D)
        kv_in = self.cond_norm(tokens.to(x.dtype))  # cached prompt tokens are fp32; a bf16 copy runs bf16
        k = self.key(kv_in).view(bc, length, h, d).transpose(1, 2)
        v_ = self.value(kv_in).view(bc, length, h, d).transpose(1, 2)
        q = self.query(self.norm(x))                                         # (N·J, T, C)
        if self.pairing == "sample":
            # Rows of clip b are contiguous (sample-major): fold them into one query sequence.
            q = q.view(bc, (rows // bc) * frames, h, d).transpose(1, 2)      # (Bc, h, K·J·T, D)
            out = attention(q, k, v_, scale=self.scale)
            return out.transpose(1, 2).reshape(rows, frames, c)
        # Official: K/V tiled with `repeat`, so row r pairs with prompt r mod Bc (reference §2.5).
        a = rows // bc
        q = q.view(a, bc, frames, h, d).permute(1, 3, 0, 2, 4).reshape(bc, h, a * frames, d)
        out = attention(q, k, v_, scale=self.scale)   # (Bc, h, A·T, D)
        return out.view(bc, h, a, frames, d).permute(2, 0, 3, 1, 4).reshape(rows, frames, c)
