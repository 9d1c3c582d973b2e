"""Feed-forward layers shared by the backbones, text towers and fusion blocks."""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Mlp", "QuickGELU"]


class QuickGELU(nn.Module):
    """CLIP's GELU approximation ``x · σ(1.702 x)`` (OpenAI CLIP text and vision towers)."""

    def forward(self, x: Tensor) -> Tensor:
        """x · sigmoid(1.702 x), CLIP's activation."""
        return x * torch.sigmoid(1.702 * x)


class Mlp(nn.Module):
    """Two-layer perceptron ``fc2(GELU(fc1(x)))`` with the exact (erf) GELU.

    Args:
        dim: Input and output width C.
        hidden: Hidden width (``mlp_ratio · C``).

    Shape:
        x: (..., C) → (..., C).
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        # Official: exact GELU (timm Mlp default), not the tanh approximation (reference §2.3).
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        """Linear → GELU → Linear over the last axis."""
        return self.fc2(self.act(self.fc1(x)))
