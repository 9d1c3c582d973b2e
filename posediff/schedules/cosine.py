"""The cosine noise schedule of Nichol & Dhariwal, as FinePOSE/D3DP use it (reference §4.1)."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import SpecError
from ..interfaces import NoiseSchedule
from ..registry import register

__all__ = ["CosineSchedule"]


@register("schedule", "cosine")
class CosineSchedule(NoiseSchedule):
    """Cosine schedule ``f(u) = cos²(((u/T) + s)/(1 + s)·π/2)``; the FinePOSE default.

    Evaluated in float64 at ``u = 0..T``; ``β_i = 1 − f(i+1)/f(i)`` clipped to ``[0, 0.999]``
    (only ``β_{T−1}`` is clipped, from 1.0) and ``ᾱ_i = ∏_{s≤i}(1 − β_s)``. For T = 1000:
    ``β_0 ≈ 4.13e−5``, ``β_999 = 0.999``, ``ᾱ_0 ≈ 0.99996``, ``ᾱ_499 ≈ 0.4938``, ``ᾱ_999 ≈ 2.4e−9``.

    Args:
        timesteps: Number of diffusion steps T (the official ``--timestep``, 1000).
        offset: The small offset ``s`` (0.008) that keeps ``β_0`` away from 0.

    Example:
        >>> s = CosineSchedule()
        >>> tuple(s.alphas_cumprod().shape), s.alphas_cumprod().dtype
        ((1000,), torch.float64)
    """

    def __init__(self, timesteps: int = 1000, offset: float = 0.008) -> None:
        super().__init__()
        if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 2:
            raise SpecError(f"schedule.timesteps: expected an int >= 2; got {timesteps!r}")
        if not (isinstance(offset, (int, float)) and not isinstance(offset, bool)) or not 0 <= offset < 1:
            raise SpecError(f"schedule.offset: expected a float in [0, 1); got {offset!r}")
        self.timesteps = timesteps
        self.offset = offset
        self._terms_cache: dict[str, Tensor] | None = None

    def betas(self) -> Tensor:
        """``(timesteps,)`` float64 β_t (CPU)."""
        t, s = self.timesteps, float(self.offset)
        u = torch.linspace(0, t, t + 1, dtype=torch.float64)
        f = torch.cos(((u / t) + s) / (1 + s) * math.pi * 0.5) ** 2
        f = f / f[0]
        return torch.clip(1 - (f[1:] / f[:-1]), 0, 0.999)

    def terms(self) -> dict[str, Tensor]:
        """The 12 derived float64 quantities (see :func:`posediff.schedules.diffusion_terms`); copies."""
        if self._terms_cache is None:
            from . import diffusion_terms

            self._terms_cache = diffusion_terms(self.betas())
        return {k: v.clone() for k, v in self._terms_cache.items()}

    def alphas_cumprod(self) -> Tensor:
        """``(timesteps,)`` float64 ᾱ_t (CPU)."""
        return self.terms()["alphas_cumprod"]

    def extra_repr(self) -> str:
        return f"timesteps={self.timesteps}, offset={self.offset}"
