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
given its initial draw. It honours the same contract as posediff's built-in ``ddim`` sampler (flip
test-time augmentation batched as K = 2H copies, clamping, ``draws``, ``add_noise``), so it is a
drop-in replacement: ``posediff.build("finepose-tiny", overrides={"sampler.name": "dpm_solver",
"sampler.schedule.name": "cosine"})``.
"""
from __future__ import annotations

import math
from typing import Literal, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from posediff.errors import InputError, SpecError
from posediff.interfaces import DenoiseFn, NoiseSchedule, Sampler

__all__ = ["DPMSolverSampler", "logsnr_times"]


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


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

    Example:
        >>> from posediff.schedules import CosineSchedule
        >>> logsnr_times(CosineSchedule().alphas_cumprod(), 5)
        [999, 757, 466, 182, 0]
    """
    ac = alphas_cumprod.to(torch.float64)
    total = int(ac.shape[0])
    if not _is_int(steps) or not 1 <= steps <= total:
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

    The M timesteps ``t_0 > … > t_{M−1}`` are visited once each. At ``t_i`` the denoiser predicts
    x̂0 from the clamped state (exactly as :class:`posediff.samplers.DDIMSampler` does: the input is
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
        steps: Number of solver steps M = denoiser calls (each batched over hypotheses and flip).
        hypotheses: Number of independent chains H.
        order: 2 = DPM-Solver++(2M) (default); 1 = first order, identical to DDIM with η = 0.
        flip: Flip test-time augmentation inside every step (batched with the hypotheses).
        clamp: Bound of the denoiser's input and of x̂0, in units of ``scale``·metres (1.1).
        scale: Signal scale (1.0 = none), as in the official code.
        spacing: How the M timesteps are chosen (see above).

    Shape:
        x2d ``(B, T, J, 2)`` normalised 2D; output ``(B, M, H, T, J, 3)`` metres, the x̂0 of every
        step (the root channel as predicted; the lifter zeroes it).

    Example:
        >>> from posediff.schedules import CosineSchedule
        >>> s = DPMSolverSampler(CosineSchedule(), steps=3, hypotheses=2, flip=False)
        >>> zero = lambda x2d, y, t: torch.zeros_like(y)
        >>> s.sample(zero, torch.zeros(1, 5, 17, 2), flip_permutation=None).shape
        torch.Size([1, 3, 2, 5, 17, 3])
    """

    spec_example = {"steps": 3, "hypotheses": 2}
    """Small arguments for :func:`posediff.testing.check_component`."""

    def __init__(
        self,
        schedule: NoiseSchedule,
        steps: int = 5,
        hypotheses: int = 20,
        order: Literal[1, 2] = 2,
        flip: bool = True,
        clamp: float = 1.1,
        scale: float = 1.0,
        spacing: Literal["logsnr", "linspace", "official"] = "logsnr",
    ) -> None:
        super().__init__()
        total = int(getattr(schedule, "timesteps", 0) or 0)
        if not _is_int(steps) or not 1 <= steps <= max(total, 1):
            raise SpecError(f"sampler.steps: expected an int in [1, {total}] (the schedule's timesteps); got {steps!r}")
        if not _is_int(hypotheses) or hypotheses < 1:
            raise SpecError(f"sampler.hypotheses: expected an int >= 1; got {hypotheses!r}")
        if order not in (1, 2) or isinstance(order, bool):
            raise SpecError(f"sampler.order: expected 1 or 2; got {order!r}")
        if not isinstance(flip, bool):
            raise SpecError(f"sampler.flip: expected a bool; got {flip!r}")
        if not _is_number(clamp) or not clamp > 0:
            raise SpecError(f"sampler.clamp: expected a float > 0; got {clamp!r}")
        if not _is_number(scale) or not scale > 0:
            raise SpecError(f"sampler.scale: expected a float > 0; got {scale!r}")
        if spacing not in ("logsnr", "linspace", "official"):
            raise SpecError(f"sampler.spacing: expected 'logsnr', 'linspace' or 'official'; got {spacing!r}")
        self.schedule = schedule
        self.steps = steps
        self.hypotheses = hypotheses
        self.order = order
        self.flip = flip
        self.clamp = clamp
        self.scale = scale
        self.spacing = spacing

    # ------------------------------------------------------------------ schedule helpers
    def _check_steps(self, steps: object) -> int:
        total = int(self.schedule.timesteps)
        if not _is_int(steps) or not 1 <= int(steps) <= total:
            raise InputError(f"steps must be an int in [1, {total}]; got {steps!r}")
        return int(steps)

    def step_times(self, steps: Optional[int] = None) -> list[int]:
        """The M timesteps at which the denoiser is called, descending, followed by −1.

        The trailing −1 mirrors :meth:`posediff.samplers.DDIMSampler.step_times` ("stop after the
        prediction at the previous timestep").
        """
        m = self._check_steps(self.steps if steps is None else steps)
        total = int(self.schedule.timesteps)
        if self.spacing == "logsnr":
            times = logsnr_times(self.schedule.alphas_cumprod(), m)
        elif self.spacing == "linspace":
            times = [int(round(v)) for v in np.linspace(total - 1, 0, m)]
        else:
            # float32 linspace then truncation toward zero, as the official DDIM step list
            times = list(reversed(torch.linspace(-1, total - 1, steps=m + 1).int().tolist()))[:-1]
        return times + [-1]

    def time_pairs(self, steps: Optional[int] = None) -> list[tuple[int, int]]:
        """Consecutive ``(t, t')`` pairs of :meth:`step_times`; M pairs, the last with ``t' = −1``."""
        times = self.step_times(steps)
        return list(zip(times[:-1], times[1:]))

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

    # ------------------------------------------------------------------ training
    def add_noise(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """Forward process q(x_t | x_0) as the denoiser sees it during training (same as DDIM's).

        ``clamp(√ᾱ_t·x0·scale + √(1 − ᾱ_t)·ε, ±clamp·scale) / scale`` in float64, cast back.

        Args:
            x0: ``(B, ...)`` clean root-relative poses (metres), e.g. ``(B, T, J, 3)``.
            t: ``(B,)`` integer steps in ``[0, timesteps)`` (or any shape equal to x0's leading dims).
            noise: Same shape as ``x0``, standard normal.

        Returns:
            The noisy, clamped ``y_t``, shape and dtype of ``x0``.
        """
        if not isinstance(x0, Tensor) or not isinstance(noise, Tensor):
            raise InputError("x0 and noise must be torch tensors")
        if noise.shape != x0.shape:
            raise InputError(f"noise must have the shape of x0 {tuple(x0.shape)}; got {tuple(noise.shape)}")
        tt = torch.as_tensor(t, device=x0.device)
        if tt.is_floating_point() or tt.is_complex():
            raise InputError(f"t must hold integer diffusion steps; got dtype {tt.dtype}")
        tt = tt.long()
        if tt.dim() > x0.dim() or tuple(tt.shape) != tuple(x0.shape[: tt.dim()]):
            raise InputError(f"t must have shape {tuple(x0.shape[:1])} (x0's leading dims); got {tuple(tt.shape)}")
        total = int(self.schedule.timesteps)
        if bool((tt < 0).any()) or bool((tt >= total).any()):
            raise InputError(f"t must lie in [0, {total - 1}]; got min {int(tt.min())}, max {int(tt.max())}")
        ac = self.schedule.alphas_cumprod().to(x0.device)
        view = tuple(tt.shape) + (1,) * (x0.dim() - tt.dim())
        a = torch.sqrt(ac)[tt].reshape(view)
        b = torch.sqrt(1.0 - ac)[tt].reshape(view)
        bound = self.clamp * self.scale
        x = a * (x0.to(torch.float64) * self.scale) + b * noise.to(torch.float64)
        return (torch.clamp(x, -bound, bound) / self.scale).to(x0.dtype)

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        denoise: DenoiseFn,
        x2d: Tensor,
        *,
        flip_permutation: Optional[Sequence[int]],
        hypotheses: Optional[int] = None,
        steps: Optional[int] = None,
        generator: Optional[torch.Generator] = None,
        draws: Optional[Sequence[Tensor]] = None,
        trace: Optional[list] = None,
    ) -> Tensor:
        """Integrate the probability-flow ODE from x_T; return the x̂0 of every step.

        Args:
            denoise: ``denoise(x2d (B,K,T,J,2), y_t (B,K,T,J,3), t (B,K) long) -> x0 (B,K,T,J,3)``;
                with ``flip`` the K = 2H rows are the H original copies then the H mirrored copies.
            x2d: ``(B, T, J, 2)`` normalised 2D keypoints.
            flip_permutation: Joint permutation swapping left and right; required when ``flip``.
            hypotheses: Call-time H (default ``self.hypotheses``).
            steps: Call-time M (default ``self.steps``).
            generator: ``torch.Generator`` for x_T (drawn on the generator's device).
            draws: Recorded noise to replay: ``draws[0]`` is x_T ``(B, H, T, J, 3)``; the solver
                draws nothing else, so further entries are ignored.
            trace: Optional list; one dict per step is appended with ``t``, ``t_next``, ``x_t``
                (unclamped state), ``x0`` and the update's ``order``.

        Returns:
            ``(B, M, H, T, J, 3)`` metres, dtype of ``x2d``.

        Raises:
            InputError: bad shapes, missing flip permutation, missing draws, or a denoiser output of
                the wrong shape.
        """
        if not isinstance(x2d, Tensor):
            raise InputError(f"x2d must be a torch tensor (B, T, J, 2); got {type(x2d).__name__}")
        if x2d.dim() != 4 or x2d.shape[-1] != 2 or 0 in x2d.shape:
            raise InputError(f"x2d must have shape (B, T, J, 2); got {tuple(x2d.shape)}")
        if not x2d.is_floating_point():
            raise InputError(f"x2d must be a floating-point tensor; got dtype {x2d.dtype}")
        if not bool(torch.isfinite(x2d).all()):
            raise InputError("x2d contains NaN/Inf values")
        h = self.hypotheses if hypotheses is None else hypotheses
        if not _is_int(h) or h < 1:
            raise InputError(f"hypotheses must be an int >= 1; got {h!r}")
        h = int(h)
        pairs = self.time_pairs(steps)
        b, frames, joints, _ = x2d.shape
        device, dtype = x2d.device, x2d.dtype
        perm = _check_permutation(flip_permutation, joints) if self.flip else None
        shape = (b, h, frames, joints, 3)

        if draws is not None:
            draws = list(draws)
            if not draws:
                raise InputError("draws must hold at least one tensor (x_T); got none")
            img = draws[0]
            if not isinstance(img, Tensor) or tuple(img.shape) != shape:
                got = tuple(img.shape) if isinstance(img, Tensor) else type(img).__name__
                raise InputError(f"draws[0] must have shape {shape}; got {got}")
            img = img.to(device=device, dtype=dtype)
        else:
            gen_device = generator.device if generator is not None else device
            img = torch.randn(shape, generator=generator, device=gen_device, dtype=dtype).to(device)

        bound = self.clamp * self.scale
        if perm is not None:
            sign = torch.tensor([-1.0, 1.0, 1.0], dtype=dtype, device=device)
            x2d_flip = x2d[..., perm, :] * sign[:2]
            x2d_k = torch.cat(
                (x2d[:, None].expand(b, h, frames, joints, 2), x2d_flip[:, None].expand(b, h, frames, joints, 2)), dim=1
            )
        else:
            x2d_k = x2d[:, None].expand(b, h, frames, joints, 2)
        k = x2d_k.shape[1]

        outs: list[Tensor] = []
        prev_x0: Optional[Tensor] = None
        h_prev: Optional[float] = None
        for i, (t, t_next) in enumerate(pairs):
            x_in = torch.clamp(img, -bound, bound) / self.scale
            t_k = torch.full((b, k), t, dtype=torch.long, device=device)
            if perm is not None:
                y_k = torch.cat((x_in, x_in[..., perm, :] * sign), dim=1)
                out = _call(denoise, x2d_k, y_k, t_k)
                x0 = (out[:, :h] + out[:, h:][..., perm, :] * sign) / 2
            else:
                x0 = _call(denoise, x2d_k, x_in, t_k)
            x0 = torch.clamp(x0.to(dtype) * self.scale, -bound, bound)
            outs.append(x0 / self.scale if self.scale != 1 else x0)
            order = 0
            if t_next >= 0:
                second = self.order == 2 and prev_x0 is not None
                ratio, coef, w, step_h = self.coefficients(t, t_next, h_prev if second else None)
                order = 2 if second else 1
                data = x0 if not second else w * x0 + (1.0 - w) * prev_x0
                next_img = ratio * img + coef * data
                prev_x0, h_prev = x0, step_h
            if trace is not None:
                trace.append({"t": t, "t_next": t_next, "x_t": img, "x0": x0, "order": order})
            if t_next < 0:
                break
            img = next_img
        return torch.stack(outs, dim=1)

    def extra_repr(self) -> str:
        return (
            f"steps={self.steps}, hypotheses={self.hypotheses}, order={self.order}, flip={self.flip}, "
            f"clamp={self.clamp}, scale={self.scale}, spacing={self.spacing!r}"
        )


def _check_permutation(perm: Optional[Sequence[int]], joints: int) -> list[int]:
    if perm is None:
        raise InputError(
            "flip_permutation is required when sampler.flip is true (pass Skeleton.flip_permutation, "
            "or build with overrides={'sampler.flip': False})"
        )
    try:
        p = [int(i) for i in perm]
    except (TypeError, ValueError):
        raise InputError(f"flip_permutation must be a list of joint indices; got {perm!r}") from None
    if sorted(p) != list(range(joints)):
        raise InputError(f"flip_permutation must be a permutation of range({joints}); got {p}")
    return p


def _call(denoise: DenoiseFn, x2d_k: Tensor, y_k: Tensor, t_k: Tensor) -> Tensor:
    out = denoise(x2d_k, y_k, t_k)
    if not isinstance(out, Tensor) or tuple(out.shape) != tuple(y_k.shape):
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise InputError(f"denoise must return x0 of shape {tuple(y_k.shape)} (B, K, T, J, 3); got {got}")
    return out
