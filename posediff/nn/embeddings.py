"""Timestep embeddings: the parameter-free sinusoid and the MLP that follows it (reference §2.4)."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["sinusoidal_embedding", "TimestepEmbedding"]


def sinusoidal_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of integer diffusion steps, ``[sin(t·f) | cos(t·f)]``.

    ``f_k = exp(−k · ln(10000) / (dim/2 − 1))`` for ``k = 0 … dim/2 − 1``; the sine half comes
    first (reference §2.4). Computed in float32 like the official code.

    Args:
        t: Steps ``(N,)``, integer (or float) timesteps 0…T−1.
        dim: Even embedding width C.

    Returns:
        ``(N, C)`` float32.
    """
    half = dim // 2
    scale = math.log(10000.0) / (half - 1)
    freqs = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * -scale)
    args = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat((args.sin(), args.cos()), dim=-1)


class TimestepEmbedding(nn.Module):
    """F(t): sinusoid(C) → Linear(C→hidden) → exact GELU → Linear(hidden→C).

    Official ``time_mlp`` (``time_mlp.1`` = ``fc1``, ``time_mlp.3`` = ``fc2``); reference §2.4.

    Args:
        dim: Embedding width C (must be even).
        hidden: Hidden width; official 2·C.

    Shape:
        t: (N,) integer steps → (N, C).
    """

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        if dim % 2 or dim < 4:
            raise ValueError(f"timestep embedding width must be even and >= 4; got {dim}")
        hidden = 2 * dim if hidden is None else hidden
        self.dim = dim
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, t: Tensor) -> Tensor:
        """Embed integer steps t (N,) as F(t) (N, C): sinusoid then MLP."""
        emb = sinusoidal_embedding(t, self.dim).to(self.fc1.weight.dtype)
        return self.fc2(self.act(self.fc1(emb)))
