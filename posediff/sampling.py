"""The reverse-process loop every sampler shares: hypotheses, flip TTA, clamping, noise and tracing.

A sampler (kind ``sampler``) is only its **schedule of timesteps** and its **step rule**
(:class:`posediff.interfaces.Sampler`: ``step_times`` and ``step``), like a diffusers scheduler's
``set_timesteps``/``step``. The loop's settings — H hypotheses, M steps, flip, clamp and scale — are a
:class:`SamplingSettings` value given to :func:`reverse_process` on every call (a model holds its own in
``PoseLifter.sampling``, read from the spec's ``[sampler]`` table; a call changes them by making a new value,
never by setting a field of a shared object). This module owns everything around the step rule, once for
every sampler:

- input checks (shape, dtype, finite values, H, the flip permutation);
- the H independent chains and the batched flip test-time augmentation: the denoiser is called
  **once** per step on ``K = 2H`` copies per clip (H original rows, then H mirrored rows); the
  mirrored output is un-flipped and averaged with the original;
- clamping: the denoiser sees ``clamp(x_t, ±clamp·scale)/scale`` and x̂0 is clamped to
  ``±clamp·scale`` (reference §4.3);
- noise: x_T and every fresh draw a step rule asks for come from ``generator`` (drawn on its
  device) or are replayed from recorded ``draws`` (parity tests), in the order they are asked for;
- step recording (``trace``).

Shapes: x2d ``(B, T, J, 2)`` normalised 2D; the state x_t ``(B, H, T, J, 3)``; the result
``(B, M, H, T, J, 3)`` metres, the x̂0 of every step.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

import torch
from torch import Tensor

from .errors import InputError
from .validation import is_int, is_number

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .interfaces import DenoiseFn, Sampler

__all__ = ["reverse_process", "check_flip_permutation", "NoiseSource", "SamplingSettings", "LOOP_KEYS"]


@dataclass(frozen=True)
class SamplingSettings:
    """The settings of the reverse-process loop: one immutable value per call.

    In a spec they are keys of the ``[sampler]`` table (``sampler.steps = 10`` …), next to the sampler's own
    parameters; the builder gives them to the model as ``PoseLifter.sampling``. A call that wants other
    values makes a new one (:meth:`replace`); nothing is changed in place, so concurrent calls (threads of an
    evaluation) cannot see each other's settings.

    Attributes:
        hypotheses: Number of independent chains H (official ``-num_proposals``, 20).
        steps: Number of denoiser calls M (official ``-sampling_timesteps``, 10); at most the schedule's
            timesteps.
        flip: Flip test-time augmentation inside every step, batched with the hypotheses (official: on).
        clamp: Bound of the denoiser's input and of x̂0, in units of ``scale``·metres (1.1); also used by the
            training forward process.
        scale: Signal scale of the official code (1.0 = no scaling).

    Example:
        >>> s = SamplingSettings(hypotheses=5, steps=5)
        >>> s.replace(flip=False).flip, s.flip
        (False, True)
    """

    hypotheses: int = 20
    steps: int = 10
    flip: bool = True
    clamp: float = 1.1
    scale: float = 1.0

    def __post_init__(self) -> None:
        problems = self.problems(dataclasses.asdict(self))
        if problems:
            raise InputError("; ".join(problems))

    @staticmethod
    def problems(values: Mapping[str, Any], timesteps: Optional[int] = None) -> list[str]:
        """One message per bad value in ``values`` (names as in a spec: ``sampler.steps`` …); ``steps`` is
        also checked against ``timesteps`` when given."""
        out = []
        steps, hyps = values.get("steps", 10), values.get("hypotheses", 20)
        top = int(timesteps) if timesteps else None
        if not is_int(steps) or steps < 1 or (top is not None and steps > top):
            bound = f"{top} (the schedule's timesteps)" if top else "the schedule's timesteps"
            out.append(f"sampler.steps: expected an int in [1, {bound}]; got {steps!r}")
        if not is_int(hyps) or hyps < 1:
            out.append(f"sampler.hypotheses: expected an int >= 1; got {hyps!r}")
        flip = values.get("flip", True)
        if not isinstance(flip, bool):
            out.append(f"sampler.flip: expected a bool; got {flip!r}")
        clamp = values.get("clamp", 1.1)
        if not is_number(clamp) or not clamp > 0:
            out.append(f"sampler.clamp: expected a float > 0; got {clamp!r}")
        scale = values.get("scale", 1.0)
        if not is_number(scale) or not 0 < scale < math.inf:
            out.append(f"sampler.scale: expected a finite float > 0; got {scale!r}")
        return out

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> "SamplingSettings":
        """The loop settings of a resolved ``[sampler]`` table (its other keys are the sampler's own)."""
        return cls(**{k: table[k] for k in LOOP_KEYS if k in table})

    def as_table(self) -> dict[str, Any]:
        """``{"steps": …, "hypotheses": …, "flip": …, "clamp": …, "scale": …}`` for a spec's ``[sampler]``."""
        return {k: getattr(self, k) for k in LOOP_KEYS}

    def replace(self, *, hypotheses: Optional[int] = None, steps: Optional[int] = None,
                flip: Optional[bool] = None, clamp: Optional[float] = None,
                scale: Optional[float] = None) -> "SamplingSettings":
        """A copy with the given values (``None`` keeps this one's); checked like the constructor."""
        given = {"hypotheses": hypotheses, "steps": steps, "flip": flip, "clamp": clamp, "scale": scale}
        return dataclasses.replace(self, **{k: v for k, v in given.items() if v is not None})


LOOP_KEYS = ("steps", "hypotheses", "flip", "clamp", "scale")
"""Keys of a spec's ``[sampler]`` table that are :class:`SamplingSettings` (the loop's), not the sampler's."""


def loop_parameters(defaults: Optional[Mapping[str, Any]] = None) -> list[tuple[str, Any, Any]]:
    """``(name, annotation, default)`` of the loop keys, as :func:`posediff.spec.schema.component_parameters`
    reports a component's constructor parameters (spec validation accepts them in every ``[sampler]``);
    ``defaults`` (a sampler's ``loop_defaults``) replaces the defaults it names."""
    hints = {"hypotheses": int, "steps": int, "flip": bool, "clamp": float, "scale": float}
    fields = {f.name: f.default for f in dataclasses.fields(SamplingSettings)}
    fields.update({k: v for k, v in (defaults or {}).items() if k in fields})
    return [(k, hints[k], fields[k]) for k in LOOP_KEYS]


def check_flip_permutation(perm: Optional[Sequence[int]], joints: int) -> list[int]:
    """Validate a left/right joint permutation for flip TTA.

    Args:
        perm: ``Skeleton.flip_permutation`` (a permutation of ``range(joints)``) or None.
        joints: Number of joints J of the input.

    Returns:
        The permutation as a list of ints.

    Raises:
        InputError: ``perm`` is None or not a permutation of ``range(joints)``.
    """
    if perm is None:
        raise InputError(
            "flip_permutation is required when flip is on (pass Skeleton.flip_permutation, "
            "or sample with settings.replace(flip=False))"
        )
    try:
        p = [int(i) for i in perm]
    except (TypeError, ValueError):
        raise InputError(f"flip_permutation must be a list of joint indices; got {perm!r}") from None
    if sorted(p) != list(range(joints)):
        raise InputError(f"flip_permutation must be a permutation of range({joints}); got {p}")
    return p


class NoiseSource:
    """Standard normal draws of one shape, from a generator or replayed from recorded tensors.

    Draw 0 is x_T; every later call serves the next fresh draw a step rule asks for.

    Args:
        shape: ``(B, H, T, J, 3)``.
        device, dtype: Where and how the draws are returned.
        generator: ``torch.Generator`` (draws are made on its device, then moved).
        draws: Recorded tensors to replay instead of drawing (``draws[i]`` is the i-th draw).
    """

    def __init__(self, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype,
                 generator: Optional[torch.Generator] = None, draws: Optional[Sequence[Tensor]] = None) -> None:
        self.shape = tuple(shape)
        self.device = device
        self.dtype = dtype
        self.generator = generator
        self.draws = None if draws is None else list(draws)
        self.count = 0

    def __call__(self) -> Tensor:
        i = self.count
        self.count += 1
        if self.draws is not None:
            if i >= len(self.draws):
                raise InputError(f"draws holds {len(self.draws)} tensor(s) but the sampler asked for draw {i} "
                                 "(x_T is draw 0, then one per fresh-noise step)")
            d = self.draws[i]
            if not isinstance(d, Tensor) or tuple(d.shape) != self.shape:
                got = tuple(d.shape) if isinstance(d, Tensor) else type(d).__name__
                raise InputError(f"draws[{i}] must have shape {self.shape}; got {got}")
            return d.to(device=self.device, dtype=self.dtype)
        gen_device = self.generator.device if self.generator is not None else self.device
        return torch.randn(self.shape, generator=self.generator, device=gen_device, dtype=self.dtype).to(self.device)


def _check_x2d(x2d: Any) -> Tensor:
    if not isinstance(x2d, Tensor):
        raise InputError(f"x2d must be a torch tensor (B, T, J, 2); got {type(x2d).__name__}")
    if x2d.dim() != 4 or x2d.shape[-1] != 2 or 0 in x2d.shape:
        raise InputError(f"x2d must have shape (B, T, J, 2); got {tuple(x2d.shape)}")
    if not x2d.is_floating_point():
        raise InputError(f"x2d must be a floating-point tensor; got dtype {x2d.dtype}")
    if not bool(torch.isfinite(x2d).all()):
        raise InputError(f"x2d must be finite; got {int((~torch.isfinite(x2d)).sum())} NaN/Inf value(s)")
    return x2d


def _call(denoise: "DenoiseFn", x2d_k: Tensor, y_k: Tensor, t_k: Tensor) -> Tensor:
    out = denoise(x2d_k, y_k, t_k)
    if not isinstance(out, Tensor) or tuple(out.shape) != tuple(y_k.shape):
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise InputError(f"denoise must return x0 of shape {tuple(y_k.shape)} (B, K, T, J, 3); got {got}")
    return out


def reverse_process(
    sampler: "Sampler",
    denoise: "DenoiseFn",
    x2d: Tensor,
    *,
    settings: SamplingSettings,
    flip_permutation: Optional[Sequence[int]],
    generator: Optional[torch.Generator] = None,
    draws: Optional[Sequence[Tensor]] = None,
    trace: Optional[list] = None,
) -> Tensor:
    """Run ``sampler``'s step rule over its timesteps; return the x̂0 of every step.

    For every pair ``(t, t')`` of ``sampler.time_pairs(settings.steps)``: the denoiser predicts x̂0 from
    the clamped state (flip copies batched and averaged, x̂0 clamped), then ``sampler.step`` moves the
    *unclamped* state to ``t'`` (when ``t' < 0`` it only reports; the loop ends there).

    Args:
        sampler: A built sampler (``time_pairs``, ``step``, ``draws_noise``).
        denoise: ``denoise(x2d (B,K,T,J,2), y_t (B,K,T,J,3), t (B,K) long) -> x0 (B,K,T,J,3)``;
            with flip the K = 2H rows are the H original copies then the H mirrored copies.
        x2d: ``(B, T, J, 2)`` normalised 2D keypoints.
        settings: The loop's :class:`SamplingSettings` (H, M, flip, clamp, scale) for this call.
        flip_permutation: Joint permutation swapping left and right (``Skeleton.flip_permutation``);
            required when ``settings.flip`` is on.
        generator: ``torch.Generator`` for the noise.
        draws: Recorded noise to replay: ``draws[0]`` is x_T ``(B, H, T, J, 3)``, then one tensor per
            fresh draw the step rule asks for, in order (extra ones are ignored).
        trace: Optional list; one dict per step is appended with ``t``, ``t_next``, ``x_t``
            (unclamped state), ``x0`` and what the step rule reports (e.g. DDIM's ``eps``,
            ``sigma``, ``c``).

    Returns:
        ``(B, M, H, T, J, 3)`` metres, dtype of ``x2d``.

    Raises:
        InputError: bad shapes, missing flip permutation, too few draws, or a denoiser output of the
            wrong shape.
    """
    x2d = _check_x2d(x2d)
    if not isinstance(settings, SamplingSettings):
        raise InputError(f"settings must be a posediff.sampling.SamplingSettings; got {type(settings).__name__}")
    h = int(settings.hypotheses)
    pairs = sampler.time_pairs(settings.steps)
    b, frames, joints, _ = x2d.shape
    device, dtype = x2d.device, x2d.dtype
    perm = check_flip_permutation(flip_permutation, joints) if settings.flip else None
    shape = (b, h, frames, joints, 3)
    if draws is not None:
        needed = 1 + sum(1 for t, t_next in pairs if t_next >= 0 and sampler.draws_noise(t, t_next))
        if len(draws) < needed:
            raise InputError(f"draws must hold {needed} tensor(s) (x_T and {needed - 1} fresh draw(s)); "
                             f"got {len(draws)}")
    noise = NoiseSource(shape, device, dtype, generator, draws)
    scale = settings.scale
    bound = settings.clamp * scale
    if perm is not None:
        sign = torch.tensor([-1.0, 1.0, 1.0], dtype=dtype, device=device)
        x2d_flip = x2d[..., perm, :] * sign[:2]
        x2d_k = torch.cat(
            (x2d[:, None].expand(b, h, frames, joints, 2), x2d_flip[:, None].expand(b, h, frames, joints, 2)), dim=1
        )
    else:
        x2d_k = x2d[:, None].expand(b, h, frames, joints, 2)
    k = x2d_k.shape[1]

    img = noise()
    memory: dict = {}
    outs: list[Tensor] = []
    for t, t_next in pairs:
        x_in = torch.clamp(img, -bound, bound) / scale
        t_k = torch.full((b, k), t, dtype=torch.long, device=device)
        if perm is not None:
            y_k = torch.cat((x_in, x_in[..., perm, :] * sign), dim=1)
            out = _call(denoise, x2d_k, y_k, t_k)
            x0 = (out[:, :h] + out[:, h:][..., perm, :] * sign) / 2
        else:
            x0 = _call(denoise, x2d_k, x_in, t_k)
        x0 = torch.clamp(x0.to(dtype) * scale, -bound, bound)
        # the official code returns x̂0 in scaled units; identical at scale = 1
        outs.append(x0 / scale if scale != 1 else x0)
        next_img, info = sampler.step(img, x0, t, t_next, noise=noise, memory=memory)
        if t_next < 0:
            next_img = None
        elif next_img is None:
            raise InputError(f"{type(sampler).__name__}.step returned no state for the move from t={t} to "
                             f"t'={t_next} (only the last step, t' = -1, may return None)")
        if trace is not None:
            trace.append({"t": t, "t_next": t_next, "x_t": img, "x0": x0, **info})
        if next_img is None:
            break
        img = next_img
    return torch.stack(outs, dim=1)


NoiseFn = Callable[[], Tensor]
"""``noise() -> (B, H, T, J, 3)`` fresh standard normal draw (or the next recorded one)."""
