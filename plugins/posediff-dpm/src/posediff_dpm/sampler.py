"""DPM-Solver++ (2M): a multistep solver of the diffusion probability-flow ODE in data-prediction form.

FinePOSE's denoiser predicts the clean pose x̂0 directly, which is exactly the "data prediction"
parameterisation DPM-Solver++ (Lu et al., 2022) integrates. With ``α_t = √ᾱ_t``, ``σ_t = √(1 − ᾱ_t)``
and the half log-SNR ``λ_t = log(α_t/σ_t)``, the exact solution of the ODE from ``s`` to ``t`` is::

    x_t = (σ_t/σ_s)·x_s + σ_t·∫_{λ_s}^{λ_t} e^{λ}·x̂0(λ) dλ

DPM-Solver++ approximates x̂0 on the interval by the last prediction (order 1, which is DDIM with
η = 0) or by a linear extrapolation through the last two predictions (order 2, "2M"): with
``h = λ_t − λ_s`` and ``r = h_prev/h``,

    D   = (1 + 1/(2r))·x̂0_s − 1/(2r)·x̂0_prev
    x_t = (σ_t/σ_s)·x_s − α_t·(e^{−h} − 1)·D

One denoiser call per step, like DDIM, and no fresh noise after x_T: the sampler is deterministic
given its initial draw. The sampler is only its timesteps and this update rule; posediff's shared
loop (:func:`posediff.sampling.reverse_process`) supplies the hypotheses, flip test-time
augmentation, clamping, noise replay and tracing, and the base class the training forward process,
so it is a drop-in replacement for the built-in ``ddim``: ``posediff.build("finepose-tiny", overrides={"sampler.name": "dpm_solver",
"sampler.schedule.name": "cosine"})``.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Literal, Mapping, Optional

import numpy as np
import torch
from torch import Tensor

from posediff.errors import InputError
from posediff.interfaces import NoiseSchedule, Sampler
from posediff.validation import is_int

__all__ = ["DPMSolverSampler", "logsnr_times"]


def logsnr_times(alphas_cumprod: Tensor, steps: int) -> list[int]:
    """``steps`` integer timesteps, descending from ``T − 1`` to 0, evenly spaced in half log-SNR λ.

    Uniform λ spacing is DPM-Solver's recommended choice for few steps: every step integrates the
    same λ interval, so the error of each step is similar. Each target λ is mapped to the nearest
    discrete timestep; collisions (many steps on a short schedule) are resolved so that the list is
    strictly decreasing and stays within ``[0, T − 1]``.

    Args:
        alphas_cumprod: ``(T,)`` ᾱ_t of the schedule (float64, decreasing).
        steps: Number of timesteps M, ``1 <= M <= T``.

    Returns:
        M distinct integers, descending; ``[T − 1]`` when ``M = 1``.

    With the cosine schedule ᾱ at ``T − 1`` is nearly 0 (λ ≈ −10), so even spacing in λ puts the first
    two timesteps next to each other (999, 998 below): at very low SNR both predictions are close to the
    data mean. Whether another spacing is better at equal steps is a measurement, not a rule.

    Example:
        >>> from posediff.schedules import CosineSchedule
        >>> logsnr_times(CosineSchedule().alphas_cumprod(), 5)
        [999, 998, 943, 161, 0]
    """
    ac = alphas_cumprod.to(torch.float64)
    total = int(ac.shape[0])
    if not is_int(steps) or not 1 <= steps <= total:
        raise InputError(f"steps must be an int in [1, {total}]; got {steps!r}")
    if steps == 1:
        return [total - 1]
    lam = 0.5 * (torch.log(ac) - torch.log1p(-ac))  # increasing as t decreases
    targets = torch.linspace(float(lam[-1]), float(lam[0]), steps, dtype=torch.float64)
    times = [int(torch.argmin((lam - v).abs())) for v in targets]
    times[0], times[-1] = total - 1, 0
    for i in range(1, steps):  # strictly decreasing ...
        times[i] = min(times[i], times[i - 1] - 1)
    times[-1] = max(times[-1], 0)
    for i in range(steps - 2, -1, -1):  # ... and never below 0
        times[i] = max(times[i], times[i + 1] + 1)
    return times


class DPMSolverSampler(Sampler):
    """DPM-Solver++ (2M, data prediction) with H independent chains and batched flip TTA.

    The M timesteps ``t_0 > … > t_{M−1}`` are visited once each. At ``t_i`` posediff's shared loop
    has the denoiser predict x̂0 from the clamped state (as for every sampler: the input is
    ``clamp(x, ±clamp·scale)/scale``, the flip copy is averaged in, x̂0 is clamped to
    ``±clamp·scale``); then, unless ``t_i`` is the last timestep, the unclamped state moves to
    ``t_{i+1}`` with the DPM-Solver++ update of order ``min(order, i + 1)``. Only x_T is drawn.
    The returned x̂0 of the last step is the sample (the ODE's end point at ``t_{M−1}``).

    Step lists: ``spacing="logsnr"`` (default) spaces the timesteps evenly in half log-SNR from
    ``T − 1`` down to 0 (:func:`logsnr_times`); ``"linspace"`` is ``round(linspace(T − 1, 0, M))``;
    ``"official"`` is the DDIM list of the official code (``int(linspace(−1, T − 1, M + 1))``
    reversed without the final −1: 999, 899, …, 99 for M = 10), whose last prediction is made at
    t = 99 rather than 0.

    Args:
        schedule: The noise schedule (a built ``schedule`` component).
        order: 2 = DPM-Solver++(2M) (default); 1 = first order, identical to DDIM with η = 0.
        spacing: How the M timesteps are chosen (see above).

    The loop's settings (M steps = denoiser calls, H hypotheses, flip, clamp, scale) are posediff's
    :class:`~posediff.sampling.SamplingSettings`, given with each call; in a spec they sit in the same
    ``[sampler]`` table, and a spec that leaves ``steps`` out gets 5 (:attr:`loop_defaults`).
    :meth:`sample` (inherited) returns ``(B, M, H, T, J, 3)`` metres, the x̂0 of every step.

    Example:
        >>> from posediff.schedules import CosineSchedule
        >>> DPMSolverSampler(CosineSchedule()).step_times(3)
        [999, 943, 0, -1]
    """

    loop_defaults = {"steps": 5}
    """A second-order solver needs fewer denoiser calls than DDIM's 10."""

    def __init__(
        self,
        schedule: NoiseSchedule,
        order: Literal[1, 2] = 2,
        spacing: Literal["logsnr", "linspace", "official"] = "logsnr",
    ) -> None:
        super().__init__(schedule)
        self.store_config(locals())

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """``order`` 1 or 2 and a known ``spacing``."""
        order, spacing = params.get("order", 2), params.get("spacing", "logsnr")
        return ([f"sampler.order: expected 1 or 2; got {order!r}"] if order not in (1, 2) or isinstance(order, bool)
                else []) + ([f"sampler.spacing: expected 'logsnr', 'linspace' or 'official'; got {spacing!r}"]
                            if spacing not in ("logsnr", "linspace", "official") else [])

    # ------------------------------------------------------------------ the rule
    def step_times(self, steps: int) -> list[int]:
        """The M timesteps at which the denoiser is called, descending, followed by −1."""
        m = self.check_steps(steps)
        total = int(self.schedule.timesteps)
        if self.spacing == "logsnr":
            times = logsnr_times(self.schedule.alphas_cumprod(), m)
        elif self.spacing == "linspace":
            times = [int(round(v)) for v in np.linspace(total - 1, 0, m)]
        else:
            # float32 linspace then truncation toward zero, as the official DDIM step list
            times = list(reversed(torch.linspace(-1, total - 1, steps=m + 1).int().tolist()))[:-1]
        return times + [-1]

    def log_snr(self, t: int) -> float:
        """Half log signal-to-noise ratio ``λ_t = log(√ᾱ_t / √(1 − ᾱ_t))`` (float64 arithmetic)."""
        a = float(self.schedule.alphas_cumprod()[t])
        return 0.5 * (math.log(a) - math.log1p(-a))

    def coefficients(self, t: int, t_next: int, h_prev: Optional[float] = None) -> tuple[float, float, float, float]:
        """Coefficients of one DPM-Solver++ update from ``t`` to ``t_next ≥ 0``.

        ``x_{t'} = a·x_t + b·(w·x̂0_t + (1 − w)·x̂0_prev)`` with ``a = σ_{t'}/σ_t``,
        ``b = −α_{t'}·(e^{−h} − 1)`` and ``w = 1 + 1/(2r)`` (``r = h_prev/h``) for the second-order
        update, ``w = 1`` for the first-order one (``h_prev`` is None).

        Returns:
            ``(a, b, w, h)`` as Python floats, ``h = λ_{t'} − λ_t``.
        """
        ac = self.schedule.alphas_cumprod()
        a_t, a_n = float(ac[t]), float(ac[t_next])
        h = self.log_snr(t_next) - self.log_snr(t)
        ratio = math.sqrt((1.0 - a_n) / (1.0 - a_t))
        b = -math.sqrt(a_n) * math.expm1(-h)
        w = 1.0 if h_prev is None else 1.0 + 1.0 / (2.0 * (h_prev / h))
        return ratio, b, w, h

    def step(self, x_t: Tensor, x0: Tensor, t: int, t_next: int, *, noise: Callable[[], Tensor],
             memory: dict) -> tuple[Optional[Tensor], dict]:
        """The DPM-Solver++ update of order ``min(order, steps taken + 1)``; ``memory`` keeps the last
        x̂0 and log-SNR step. Returns ``(x_{t'}, {"order": 0, 1 or 2})`` (order 0: no move, t' < 0)."""
        if t_next < 0:
            return None, {"order": 0}
        prev_x0, h_prev = memory.get("prev_x0"), memory.get("h_prev")
        second = self.order == 2 and prev_x0 is not None
        ratio, coef, w, step_h = self.coefficients(t, t_next, h_prev if second else None)
        data = x0 if not second else w * x0 + (1.0 - w) * prev_x0
        memory["prev_x0"], memory["h_prev"] = x0, step_h
        return ratio * x_t + coef * data, {"order": 2 if second else 1}

    def extra_repr(self) -> str:
        return f"order={self.order}, spacing={self.spacing!r}"
