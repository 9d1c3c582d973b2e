"""DDIM as a step rule: its timesteps and its update (the loop is :mod:`posediff.sampling`'s).

With the shared loop (independent hypothesis chains, batched flip test-time augmentation) it matches the official ``ddim_sample_flip`` / ``ddim_sample`` of FinePOSE (= D3DP), reference §4.2–§4.4.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Literal, Mapping, Optional

import numpy as np
import torch
from torch import Tensor

from ..interfaces import NoiseSchedule, Sampler
from ..registry import register

__all__ = ["DDIMSampler"]


@register("sampler", "ddim")
class DDIMSampler(Sampler):
    """DDIM with H independent hypothesis chains, x0-prediction and flip TTA (FinePOSE §3.3; D3DP).

    Matches the official ``ddim_sample_flip`` (flip on) and ``ddim_sample`` (flip off),
    reference §4.3–§4.4. For every pair ``(t, t')`` of the step list:

    1. (the shared loop, :func:`posediff.sampling.reverse_process`) ``x̃ = clamp(x_t, ±clamp·scale)/scale``;
       the denoiser predicts x̂0 from ``x̃`` (clamp, scale, flip, H and M are the loop's
       :class:`~posediff.sampling.SamplingSettings`). With flip on it is called **once** on ``K = 2H``
       copies per clip: the H original ``(x2d, x̃)`` rows followed by the H mirrored
       ``(flip(x2d), flip(x̃))`` rows; the mirrored output is un-flipped and the two are averaged.
       Then ``x̂0 ← clamp(x̂0·scale, ±clamp·scale)``.
    2. (this rule, :meth:`step`) ``ε̂ = (x_t/√ᾱ_t − x̂0)/√(1/ᾱ_t − 1)`` from the *unclamped* ``x_t``, in float64 (then cast
       back, as the official code does).
    3. If ``t' ≥ 0``: ``σ = η·√((1 − ᾱ_t/ᾱ_t')(1 − ᾱ_t')/(1 − ᾱ_t))``, ``c = √(1 − ᾱ_t' − σ²)``,
       ``x_t' = √ᾱ_t'·x̂0 + c·ε̂ + σ·z`` with fresh ``z ~ N(0, I)``. No draw after the last step.

    Step lists: ``spacing="official"`` is ``int(linspace(−1, T−1, M+1))`` reversed (M = 10: 999,
    899, …, 99, −1; the paper writes T(1 − m/M), quirk §8.13); ``"linspace"`` is
    ``round(linspace(T−1, 0, M))`` followed by −1, i.e. the last prediction is made at t = 0.

    Args:
        schedule: The noise schedule (a built ``schedule`` component).
        eta: DDIM stochasticity η (1 = official: mostly fresh noise every step; 0 = deterministic).
        spacing: How the M timesteps are chosen (see above).

    In a spec the ``[sampler]`` table also holds the loop's settings (``steps``, ``hypotheses``, ``flip``,
    ``clamp``, ``scale``; :class:`~posediff.sampling.SamplingSettings`), which the model keeps as
    ``PoseLifter.sampling``.

    Shape:
        x2d ``(B, T, J, 2)`` normalised 2D; output ``(B, M, H, T, J, 3)`` metres, the x̂0 of every
        step (the root channel as predicted; the lifter zeroes it).

    Example:
        >>> from posediff.sampling import SamplingSettings
        >>> from posediff.schedules import CosineSchedule
        >>> s = DDIMSampler(CosineSchedule())
        >>> zero = lambda x2d, y, t: torch.zeros_like(y)
        >>> loop = SamplingSettings(steps=2, hypotheses=3, flip=False)
        >>> s.sample(zero, torch.zeros(1, 5, 17, 2), settings=loop, flip_permutation=None).shape
        torch.Size([1, 2, 3, 5, 17, 3])
    """

    def __init__(
        self,
        schedule: NoiseSchedule,
        eta: float = 1.0,
        spacing: Literal["official", "linspace"] = "official",
    ) -> None:
        super().__init__(schedule)
        self.store_config(locals())

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """``eta`` in [0, 1], ``spacing`` "official" or "linspace"."""
        out = []
        eta = params.get("eta", 1.0)
        if not isinstance(eta, (int, float)) or isinstance(eta, bool) or not 0 <= eta <= 1:
            out.append(f"sampler.eta: expected a float in [0, 1]; got {eta!r}")
        if params.get("spacing", "official") not in ("official", "linspace"):
            out.append(f"sampler.spacing: expected 'official' or 'linspace'; got {params.get('spacing')!r}")
        return out

    # ------------------------------------------------------------------ the rule
    def step_times(self, steps: int) -> list[int]:
        """The M + 1 timesteps, descending and ending with −1 (M = ``steps``)."""
        m = self.check_steps(steps)
        total = int(self.schedule.timesteps)
        if self.spacing == "official":
            # float32 linspace then truncation toward zero, exactly like the official code
            times = torch.linspace(-1, total - 1, steps=m + 1).int().tolist()
            return list(reversed(times))
        return [int(round(v)) for v in np.linspace(total - 1, 0, m)] + [-1]

    def coefficients(self, t: int, t_next: int) -> tuple[float, float]:
        """``(σ, c)`` of the re-noising update from ``t`` to ``t_next ≥ 0`` (float64 arithmetic)."""
        ac = self.schedule.alphas_cumprod()
        a, an = float(ac[t]), float(ac[t_next])
        sigma = self.eta * math.sqrt((1 - a / an) * (1 - an) / (1 - a))
        # Official: no clamp at 0 (only matters for eta > 1, which the constructor forbids).
        c = math.sqrt(max(1 - an - sigma**2, 0.0))
        return sigma, c

    def draws_noise(self, t: int, t_next: int) -> bool:
        """Every re-noising step draws fresh noise (even at η = 0, as the official code does)."""
        return t_next >= 0

    def step(self, x_t: Tensor, x0: Tensor, t: int, t_next: int, *, noise: Callable[[], Tensor],
             memory: dict) -> tuple[Optional[Tensor], dict]:
        """ε̂ from the unclamped ``x_t`` (float64, cast back), then the DDIM re-noising to ``t_next``.

        Returns:
            ``(x_{t'}, {"eps", "sigma", "c"})``; ``x_{t'}`` is None and σ, c are NaN when ``t' < 0``.
        """
        ac = self.schedule.alphas_cumprod()
        dtype = x_t.dtype
        a = float(ac[t])
        # float64 from the float64 schedule, then cast back (official predict_noise_from_start)
        eps = ((math.sqrt(1.0 / a) * x_t.to(torch.float64) - x0.to(torch.float64)) / math.sqrt(1.0 / a - 1)).to(dtype)
        if t_next < 0:
            return None, {"eps": eps, "sigma": float("nan"), "c": float("nan")}
        sigma, c = self.coefficients(t, t_next)
        z = noise()
        x_next = x0 * math.sqrt(float(ac[t_next])) + c * eps + sigma * z
        return x_next, {"eps": eps, "sigma": sigma, "c": c}

    def extra_repr(self) -> str:
        return f"eta={self.eta}, spacing={self.spacing!r}"
