"""The linear β schedule of DDPM (Ho et al. 2020), scaled to the number of steps."""
from __future__ import annotations

import torch
from torch import Tensor

from ..errors import SpecError
from ..interfaces import NoiseSchedule
from ..registry import register

__all__ = ["LinearSchedule"]


@register("schedule", "linear")
class LinearSchedule(NoiseSchedule):
    """DDPM linear schedule: β evenly spaced from ``beta_start·1000/T`` to ``beta_end·1000/T``.

    The ``1000/T`` factor (as in improved-DDPM) keeps the total noise comparable when T ≠ 1000;
    for T = 1000 it is the classic 1e−4 … 0.02. Not used by FinePOSE (which uses ``cosine``); offered
    for ablations. β is computed in float64 and clipped to at most 0.999.

    Args:
        timesteps: Number of diffusion steps T.
        beta_start: β_0 for T = 1000.
        beta_end: β_{T−1} for T = 1000.

    Example:
        >>> s = LinearSchedule()
        >>> round(float(s.betas()[0]), 6), round(float(s.betas()[-1]), 6)
        (0.0001, 0.02)
    """

    def __init__(self, timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> None:
        super().__init__()
        if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 2:
            raise SpecError(f"schedule.timesteps: expected an int >= 2; got {timesteps!r}")
        if not 0 < beta_start <= beta_end < 1:
            raise SpecError(
                f"schedule.beta_start/beta_end: expected 0 < beta_start <= beta_end < 1; got {beta_start!r}, {beta_end!r}"
            )
        self.timesteps = timesteps
        self.beta_start = beta_start
        self.beta_end = beta_end
        self._terms_cache: dict[str, Tensor] | None = None

    def betas(self) -> Tensor:
        """``(timesteps,)`` float64 β_t (CPU)."""
        scale = 1000.0 / self.timesteps
        b = torch.linspace(scale * self.beta_start, scale * self.beta_end, self.timesteps, dtype=torch.float64)
        return b.clamp(max=0.999)

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
        return f"timesteps={self.timesteps}, beta_start={self.beta_start}, beta_end={self.beta_end}"
