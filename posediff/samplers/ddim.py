"""DDIM sampling with independent hypothesis chains and batched flip test-time augmentation.

Matches the official ``ddim_sample_flip`` / ``ddim_sample`` of FinePOSE (= D3DP), reference §4.2–§4.4.
"""
from __future__ import annotations

import math
from typing import Literal, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError, SpecError
from ..interfaces import DenoiseFn, NoiseSchedule, Sampler
from ..registry import register

__all__ = ["DDIMSampler"]


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


@register("sampler", "ddim")
class DDIMSampler(Sampler):
    """DDIM with H independent hypothesis chains, x0-prediction and flip TTA (FinePOSE §3.3; D3DP).

    Matches the official ``ddim_sample_flip`` (``flip=True``) and ``ddim_sample`` (``flip=False``),
    reference §4.3–§4.4. For every pair ``(t, t')`` of the step list:

    1. ``x̃ = clamp(x_t, ±clamp·scale)/scale``; the denoiser predicts x̂0 from ``x̃``. With
       ``flip=True`` it is called **once** on ``K = 2H`` copies per clip: the H original
       ``(x2d, x̃)`` rows followed by the H mirrored ``(flip(x2d), flip(x̃))`` rows; the mirrored
       output is un-flipped and the two are averaged. Then ``x̂0 ← clamp(x̂0·scale, ±clamp·scale)``.
    2. ``ε̂ = (x_t/√ᾱ_t − x̂0)/√(1/ᾱ_t − 1)`` from the *unclamped* ``x_t``, in float64 (then cast
       back, as the official code does).
    3. If ``t' ≥ 0``: ``σ = η·√((1 − ᾱ_t/ᾱ_t')(1 − ᾱ_t')/(1 − ᾱ_t))``, ``c = √(1 − ᾱ_t' − σ²)``,
       ``x_t' = √ᾱ_t'·x̂0 + c·ε̂ + σ·z`` with fresh ``z ~ N(0, I)``. No draw after the last step.

    Step lists: ``spacing="official"`` is ``int(linspace(−1, T−1, M+1))`` reversed (M = 10: 999,
    899, …, 99, −1; the paper writes T(1 − m/M), quirk §8.13); ``"linspace"`` is
    ``round(linspace(T−1, 0, M))`` followed by −1, i.e. the last prediction is made at t = 0.

    Args:
        schedule: The noise schedule (a built ``schedule`` component).
        steps: Number of DDIM iterations M (official ``-sampling_timesteps``, 10).
        hypotheses: Number of independent chains H (official ``-num_proposals``, 20).
        eta: DDIM stochasticity η (1 = official: mostly fresh noise every step; 0 = deterministic).
        flip: Flip test-time augmentation inside every step (official: always on).
        clamp: Bound of the noisy input and of x̂0, in units of ``scale``·metres (1.1).
        scale: Signal scale of the official code (1.0 = no scaling).
        spacing: How the M timesteps are chosen (see above).

    Shape:
        x2d ``(B, T, J, 2)`` normalised 2D; output ``(B, M, H, T, J, 3)`` metres, the x̂0 of every
        step (the root channel as predicted; the lifter zeroes it).

    Example:
        >>> from posediff.schedules import CosineSchedule
        >>> s = DDIMSampler(CosineSchedule(), steps=2, hypotheses=3, flip=False)
        >>> zero = lambda x2d, y, t: torch.zeros_like(y)
        >>> s.sample(zero, torch.zeros(1, 5, 17, 2), flip_permutation=None).shape
        torch.Size([1, 2, 3, 5, 17, 3])
    """

    def __init__(
        self,
        schedule: NoiseSchedule,
        steps: int = 10,
        hypotheses: int = 20,
        eta: float = 1.0,
        flip: bool = True,
        clamp: float = 1.1,
        scale: float = 1.0,
        spacing: Literal["official", "linspace"] = "official",
    ) -> None:
        super().__init__()
        total = int(getattr(schedule, "timesteps", 0) or 0)
        if not _is_int(steps) or not 1 <= steps <= max(total, 1):
            raise SpecError(f"sampler.steps: expected an int in [1, {total}] (the schedule's timesteps); got {steps!r}")
        if not _is_int(hypotheses) or hypotheses < 1:
            raise SpecError(f"sampler.hypotheses: expected an int >= 1; got {hypotheses!r}")
        if not isinstance(eta, (int, float)) or isinstance(eta, bool) or not 0 <= eta <= 1:
            raise SpecError(f"sampler.eta: expected a float in [0, 1]; got {eta!r}")
        if not isinstance(flip, bool):
            raise SpecError(f"sampler.flip: expected a bool; got {flip!r}")
        if not isinstance(clamp, (int, float)) or isinstance(clamp, bool) or not clamp > 0:
            raise SpecError(f"sampler.clamp: expected a float > 0; got {clamp!r}")
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not 0 < scale < math.inf:
            raise SpecError(f"sampler.scale: expected a finite float > 0; got {scale!r}")
        if spacing not in ("official", "linspace"):
            raise SpecError(f"sampler.spacing: expected 'official' or 'linspace'; got {spacing!r}")
        self.schedule = schedule
        self.steps = steps
        self.hypotheses = hypotheses
        self.eta = eta
        self.flip = flip
        self.clamp = clamp
        self.scale = scale
        self.spacing = spacing

    # ------------------------------------------------------------------ schedule helpers
    def step_times(self, steps: Optional[int] = None) -> list[int]:
        """The M + 1 timesteps, descending and ending with −1 (M = ``steps`` or ``self.steps``)."""
        m = self._check_steps(self.steps if steps is None else steps)
        total = int(self.schedule.timesteps)
        if self.spacing == "official":
            # float32 linspace then truncation toward zero, exactly like the official code
            times = torch.linspace(-1, total - 1, steps=m + 1).int().tolist()
            return list(reversed(times))
        return [int(round(v)) for v in np.linspace(total - 1, 0, m)] + [-1]

    def time_pairs(self, steps: Optional[int] = None) -> list[tuple[int, int]]:
        """Consecutive ``(t, t')`` pairs of :meth:`step_times`; M pairs, the last with ``t' = −1``."""
        times = self.step_times(steps)
        return list(zip(times[:-1], times[1:]))

    def coefficients(self, t: int, t_next: int) -> tuple[float, float]:
        """``(σ, c)`` of the re-noising update from ``t`` to ``t_next ≥ 0`` (float64 arithmetic)."""
        ac = self.schedule.alphas_cumprod()
        a, an = float(ac[t]), float(ac[t_next])
        sigma = self.eta * math.sqrt((1 - a / an) * (1 - an) / (1 - a))
        # Official: no clamp at 0 (only matters for eta > 1, which the constructor forbids).
        c = math.sqrt(max(1 - an - sigma**2, 0.0))
        return sigma, c

    def _check_steps(self, steps: object) -> int:
        total = int(self.schedule.timesteps)
        if not _is_int(steps) or not 1 <= int(steps) <= total:
            raise InputError(f"steps must be an int in [1, {total}]; got {steps!r}")
        return int(steps)

    # ------------------------------------------------------------------ training
    def add_noise(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """Forward process q(x_t | x_0) as the denoiser sees it during training (reference §4.2).

        ``clamp(√ᾱ_t·x0·scale + √(1 − ᾱ_t)·ε, ±clamp·scale) / scale``, computed in float64 (the
        official buffers are float64) and cast back to ``x0``'s dtype.

        Args:
            x0: ``(B, ...)`` clean root-relative poses (metres), e.g. ``(B, T, J, 3)``.
            t: ``(B,)`` (or any shape equal to ``x0``'s leading dims) integer steps in
                ``[0, timesteps)``; a scalar serves the whole batch.
            noise: Same shape as ``x0``, standard normal.

        Returns:
            The noisy, clamped input ``y_t``, shape and dtype of ``x0``.
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
        sa, s1 = torch.sqrt(ac), torch.sqrt(1.0 - ac)
        view = tuple(tt.shape) + (1,) * (x0.dim() - tt.dim())
        a = sa[tt].reshape(view)
        b = s1[tt].reshape(view)
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
        """Run the reverse process; return the x̂0 of every step.

        Args:
            denoise: ``denoise(x2d (B,K,T,J,2), y_t (B,K,T,J,3), t (B,K) long) -> x0 (B,K,T,J,3)``;
                with ``flip`` the K = 2H rows are the H original copies then the H mirrored copies.
            x2d: ``(B, T, J, 2)`` normalised 2D keypoints.
            flip_permutation: Joint permutation that swaps left and right (``Skeleton.flip_permutation``);
                required when ``flip`` is on.
            hypotheses: Call-time H (default ``self.hypotheses``).
            steps: Call-time M (default ``self.steps``).
            generator: ``torch.Generator`` for the noise (reproducibility). Noise is drawn on the
                generator's device and moved to ``x2d``'s.
            draws: Recorded noise to replay instead of drawing (parity): ``draws[0]`` is x_T of shape
                ``(B, H, T, J, 3)``, ``draws[i]`` the fresh noise of the i-th re-noising step
                (M tensors in all; extra ones are ignored).
            trace: Optional list; when given, one dict per step is appended with ``t``, ``t_next``,
                ``x_t`` (unclamped input of the step), ``x0``, ``eps``, ``sigma`` and ``c``.

        Returns:
            ``(B, M, H, T, J, 3)`` in metres, dtype of ``x2d`` (float).

        Raises:
            InputError: bad shapes, missing flip permutation, too few draws, or a denoiser output of
                the wrong shape.
        """
        if not isinstance(x2d, Tensor):
            raise InputError(f"x2d must be a torch tensor (B, T, J, 2); got {type(x2d).__name__}")
        if x2d.dim() != 4 or x2d.shape[-1] != 2 or 0 in x2d.shape:
            raise InputError(f"x2d must have shape (B, T, J, 2); got {tuple(x2d.shape)}")
        if not x2d.is_floating_point():
            raise InputError(f"x2d must be a floating-point tensor; got dtype {x2d.dtype}")
        if not bool(torch.isfinite(x2d).all()):
            raise InputError(f"x2d must be finite; got {int((~torch.isfinite(x2d)).sum())} NaN/Inf value(s)")
        h = self.hypotheses if hypotheses is None else hypotheses
        if not _is_int(h) or h < 1:
            raise InputError(f"hypotheses must be an int >= 1; got {h!r}")
        h = int(h)
        pairs = self.time_pairs(steps)
        b, frames, joints, _ = x2d.shape
        device, dtype = x2d.device, x2d.dtype
        perm = self._check_permutation(flip_permutation, joints) if self.flip else None
        shape = (b, h, frames, joints, 3)
        if draws is not None:
            draws = list(draws)
            if len(draws) < len(pairs):
                raise InputError(f"draws must hold {len(pairs)} tensors (x_T and {len(pairs) - 1} re-noising draws); "
                                 f"got {len(draws)}")

        def draw(i: int) -> Tensor:
            if draws is not None:
                d = draws[i]
                if not isinstance(d, Tensor) or tuple(d.shape) != shape:
                    got = tuple(d.shape) if isinstance(d, Tensor) else type(d).__name__
                    raise InputError(f"draws[{i}] must have shape {shape}; got {got}")
                return d.to(device=device, dtype=dtype)
            gen_device = generator.device if generator is not None else device
            return torch.randn(shape, generator=generator, device=gen_device, dtype=dtype).to(device)

        ac = self.schedule.alphas_cumprod()
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

        img = draw(0)
        outs = []
        for i, (t, t_next) in enumerate(pairs):
            x_in = torch.clamp(img, -bound, bound) / self.scale
            t_k = torch.full((b, k), t, dtype=torch.long, device=device)
            if perm is not None:
                y_k = torch.cat((x_in, x_in[..., perm, :] * sign), dim=1)
                out = self._call(denoise, x2d_k, y_k, t_k)
                x0 = (out[:, :h] + out[:, h:][..., perm, :] * sign) / 2
            else:
                x0 = self._call(denoise, x2d_k, x_in, t_k)
            x0 = torch.clamp(x0.to(dtype) * self.scale, -bound, bound)
            a = float(ac[t])
            # float64 from the float64 schedule, then cast back (official predict_noise_from_start)
            eps = ((math.sqrt(1.0 / a) * img.to(torch.float64) - x0.to(torch.float64)) / math.sqrt(1.0 / a - 1)).to(dtype)
            # Official: returns x̂0 in scaled units; identical at scale = 1.
            outs.append(x0 / self.scale if self.scale != 1 else x0)
            sigma = c = float("nan")
            if t_next >= 0:
                sigma, c = self.coefficients(t, t_next)
                z = draw(i + 1)
                next_img = x0 * math.sqrt(float(ac[t_next])) + c * eps + sigma * z
            if trace is not None:
                trace.append({"t": t, "t_next": t_next, "x_t": img, "x0": x0, "eps": eps, "sigma": sigma, "c": c})
            if t_next < 0:
                break
            img = next_img
        return torch.stack(outs, dim=1)

    @staticmethod
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

    @staticmethod
    def _call(denoise: DenoiseFn, x2d_k: Tensor, y_k: Tensor, t_k: Tensor) -> Tensor:
        out = denoise(x2d_k, y_k, t_k)
        if not isinstance(out, Tensor) or tuple(out.shape) != tuple(y_k.shape):
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise InputError(f"denoise must return x0 of shape {tuple(y_k.shape)} (B, K, T, J, 3); got {got}")
        return out

    def extra_repr(self) -> str:
        return (
            f"steps={self.steps}, hypotheses={self.hypotheses}, eta={self.eta}, flip={self.flip}, "
            f"clamp={self.clamp}, scale={self.scale}, spacing={self.spacing!r}"
        )
