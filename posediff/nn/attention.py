"""Attention layers: the pre-LN ViT block of MixSTE, packed-projection self-attention (CLIP and
``nn.MultiheadAttention`` layout), a post-norm encoder layer, and stochastic depth.

All attention goes through :func:`attention`, which calls
:func:`torch.nn.functional.scaled_dot_product_attention` with the scale ``1/sqrt(head_dim)``, so the
fused flash / memory-efficient kernels are used where available (including under bf16). Two
exceptions compute the explicit ``softmax(q·kᵀ·s)·v`` instead (same function): inside
``with eager_attention():`` (the benchmarks' "official execution pattern"), and bf16/fp16 attention on
CPU that needs gradients, where PyTorch's CPU flash kernel is slower than the explicit form
(its backward is 2–6× slower for MixSTE's 17- and 243-token sequences; see ``docs/performance.md``).
"""
from __future__ import annotations

import contextlib
import math
import threading
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .mlp import Mlp

__all__ = [
    "DropPath", "Attention", "Block", "PackedSelfAttention", "PostNormEncoderLayer", "attention", "eager_attention",
]

_MODE = threading.local()


@contextlib.contextmanager
def eager_attention(enabled: bool = True) -> Iterator[None]:
    """Within the block, :func:`attention` materialises the logits: ``softmax(q·kᵀ·scale)·v``.

    This is the official code's execution pattern (reference §2.3, §2.5); it computes the same function
    as the fused kernel (fp32 differences ~1e-6) but stores the full ``(B, heads, Lq, Lk)`` attention
    matrix. Used by ``benchmarks/`` for the reference path; thread-local, nests.

    Args:
        enabled: ``False`` restores the fused kernel inside an outer ``eager_attention()`` block.
    """
    previous = getattr(_MODE, "eager", None)
    _MODE.eager = bool(enabled)
    try:
        yield
    finally:
        _MODE.eager = previous


def attention(q: Tensor, k: Tensor, v: Tensor, *, scale: float, is_causal: bool = False) -> Tensor:
    """Multi-head scaled dot-product attention (no dropout, optional causal mask).

    Uses the fused :func:`torch.nn.functional.scaled_dot_product_attention` kernel, except inside
    :func:`eager_attention` and for reduced-precision CPU attention that needs gradients (training
    under bf16 autocast), where the explicit form is faster (see the module docstring).

    Args:
        q: ``(B, heads, Lq, D)`` queries.
        k, v: ``(B, heads, Lk, D)`` keys and values (B may broadcast).
        scale: Logit scale, usually ``1/sqrt(D)``.
        is_causal: Mask every key after the query position (``Lq == Lk``).

    Returns:
        ``(B, heads, Lq, D)``.
    """
    eager = getattr(_MODE, "eager", None)
    if eager is None:  # automatic choice
        eager = (q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16) and torch.is_grad_enabled()
                 and (q.requires_grad or k.requires_grad or v.requires_grad))
    if not eager:
        return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal, scale=scale)
    # Official: attn = (q @ k.transpose(-2, -1)) * scale; attn.softmax(-1) @ v (reference §2.3).
    logits = (q @ k.transpose(-2, -1)) * scale
    if is_causal:
        lq, lk = logits.shape[-2:]
        mask = torch.ones(lq, lk, dtype=torch.bool, device=logits.device).triu(1)
        logits = logits.masked_fill(mask, float("-inf"))
    return logits.softmax(dim=-1) @ v


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a whole residual branch per sample with probability ``p``
    and rescale the kept ones by ``1/(1−p)``. Identity in eval mode or when ``p == 0``.

    Shape:
        x: (B, ...) — one decision per index of the first dimension.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        """Zero whole samples with probability ``p`` while training (rescaling the rest); identity in eval."""
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def split_heads(qkv: Tensor, heads: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(B, L, 3C)`` packed [q|k|v] → three ``(B, heads, L, D)`` views (no copy)."""
    b, n, c3 = qkv.shape
    q, k, v = qkv.view(b, n, 3, heads, c3 // (3 * heads)).unbind(2)
    return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """``(B, heads, L, D)`` → ``(B, L, heads·D)``."""
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


class Attention(nn.Module):
    """Multi-head self-attention with a packed ``qkv`` Linear and an output ``proj`` (timm layout).

    Official ``Attention`` of MixSTE (reference §2.3): qkv Linear(C→3C, bias), heads split inside
    each of q, k, v, softmax(q·kᵀ/√D)·v, proj Linear(C→C). No mask, no dropout.

    Args:
        dim: Width C.
        heads: Number of heads (C must be divisible by it).
        qkv_bias: Bias on the qkv projection.

    Shape:
        x: (B, L, C) → (B, L, C).
    """

    def __init__(self, dim: int, heads: int = 8, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        """Multi-head self-attention over the second axis: (N, L, C) → (N, L, C)."""
        q, k, v = split_heads(self.qkv(x), self.heads)
        out = attention(q, k, v, scale=self.scale)
        return self.proj(merge_heads(out))


class Block(nn.Module):
    """Pre-LN transformer block: ``x + DropPath(Attn(LN(x)))`` then ``x + DropPath(MLP(LN(x)))``.

    Official ``Block`` of MixSTE/D3DP/FinePOSE (reference §2.3): LayerNorm eps 1e-6, exact GELU,
    hidden width ``mlp_ratio · C``.

    Args:
        dim: Width C.
        heads: Attention heads.
        mlp_ratio: Hidden width of the MLP over C.
        qkv_bias: Bias on the qkv projection.
        drop_path: Stochastic-depth probability (training only).
        norm_eps: LayerNorm epsilon.

    Shape:
        x: (B, L, C) → (B, L, C).
    """

    def __init__(
        self,
        dim: int,
        heads: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        """Pre-LN transformer block: x + Attn(LN(x)), then x + MLP(LN(x)); (N, L, C) → (N, L, C)."""
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PackedSelfAttention(nn.Module):
    """Self-attention with the parameter layout of :class:`torch.nn.MultiheadAttention`.

    Parameters ``in_proj_weight`` (3C, C), ``in_proj_bias`` (3C,) and ``out_proj`` Linear(C→C), so
    CLIP's ``attn.*`` and ``nn.TransformerEncoderLayer``'s ``self_attn.*`` load unchanged. Batch
    first; optional causal mask (CLIP text tower).

    Args:
        dim: Width C.
        heads: Number of heads.
        causal: Mask every key after the query position.

    Shape:
        x: (B, L, C) → (B, L, C).
    """

    def __init__(self, dim: int, heads: int, causal: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.causal = causal
        self.scale = (dim // heads) ** -0.5
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """``nn.MultiheadAttention``'s initialisation: Xavier-uniform in-projection, zero biases."""
        bound = math.sqrt(6.0 / (self.in_proj_weight.shape[0] / 3 + self.in_proj_weight.shape[1]))
        nn.init.uniform_(self.in_proj_weight, -bound, bound, generator=generator)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Self-attention with packed in_proj (optionally causal): (N, L, W) → (N, L, W)."""
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = split_heads(qkv, self.heads)
        out = attention(q, k, v, is_causal=self.causal, scale=self.scale)
        return self.out_proj(merge_heads(out))


class PostNormEncoderLayer(nn.Module):
    """Post-norm transformer encoder layer, equivalent to ``nn.TransformerEncoderLayer(dim, heads,
    ff, dropout=0, activation="gelu", batch_first=True)`` with the same parameter names.

    ``x = norm1(x + SA(x)); x = norm2(x + linear2(GELU(linear1(x))))``, LayerNorm eps 1e-5, exact
    GELU (reference §3.3, the official ``textTransEncoder`` layers).

    Args:
        dim: Width C.
        heads: Attention heads.
        ff: Feed-forward hidden width.
        norm_eps: LayerNorm epsilon.

    Shape:
        x: (B, L, C) → (B, L, C).
    """

    def __init__(self, dim: int, heads: int = 8, ff: int = 2048, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.self_attn = PackedSelfAttention(dim, heads)
        self.linear1 = nn.Linear(dim, ff)
        self.linear2 = nn.Linear(ff, dim)
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.act = nn.GELU()

    def forward(self, x: Tensor) -> Tensor:
        """Post-norm encoder layer: LN(x + SA(x)), then LN(x + FF(x)); (N, L, W) → (N, L, W)."""
        x = self.norm1(x + self.self_attn(x))
        return self.norm2(x + self.linear2(self.act(self.linear1(x))))
