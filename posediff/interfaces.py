"""The contracts of the eight component kinds, and the :class:`Conditioning` record.

Seven kinds make up a model (backbone, conditioner, text encoder, fusion, schedule, sampler, aggregator);
the eighth, the keypoint detector, turns video frames into the 2D keypoints a model lifts
(:class:`KeypointDetector`; :mod:`posediff.video`).

Shapes use one alphabet everywhere: B batch (clips), H hypotheses, M sampling steps, T frames,
J joints, C channels, L prompt tokens. A "row" batch N is B clips times K copies (hypotheses, and
the flipped copies when flip test-time augmentation is batched), ordered sample-major: row
``n`` belongs to clip ``n // K``.

Each base class carries ``__posediff_kind__``; the spec builder uses it to know the kind of a
nested component from a constructor annotation (e.g. ``schedule: NoiseSchedule``). Required methods
are abstract methods (:func:`abc.abstractmethod`), checked when a component is constructed
(:func:`require_contract`).

Size: the contracts of all eight kinds in one place — the page a plugin author reads — plus the shared
reverse-process entry (samplers) and input checks (aggregators) that keep every component honest.
"""
from __future__ import annotations

import abc
import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from .errors import InputError, SpecError
from .registry import KINDS, name_of
from .sampling import SamplingSettings, reverse_process
from .validation import is_int, is_number

__all__ = [
    "KIND_BASES",
    "Component",
    "Conditioning",
    "Backbone",
    "Conditioner",
    "TextEncoder",
    "FusionBlock",
    "NoiseSchedule",
    "Sampler",
    "Aggregator",
    "KeypointDetector",
    "DenoiseFn",
]


@dataclass
class Conditioning:
    """What a conditioner hands to the denoiser.

    Attributes:
        tokens: Prompt tokens ``(Bc, L, Ct)`` (FinePOSE's P_tokens), or ``None`` (no prompt).
        vector: Pooled prompt vector ``(Bc, C)`` (FinePOSE's P[L]), added to the timestep
            embedding, or ``None``.

    ``Bc`` is the number of clips; the denoiser's row batch ``N`` is a multiple of it and row
    ``n`` uses conditioning row ``n // (N // Bc)``. Broadcasting is done by the consumer (with
    ``expand``, never a copy), so a cached conditioning serves any number of hypotheses.
    """

    tokens: Optional[Tensor] = None
    vector: Optional[Tensor] = None

    @property
    def batch(self) -> Optional[int]:
        """Number of clips ``Bc`` (``None`` when the conditioning is empty)."""
        for t in (self.tokens, self.vector):
            if t is not None:
                return t.shape[0]
        return None

    def index(self, idx: Tensor | Sequence[int]) -> "Conditioning":
        """Rows ``idx`` of both tensors (used to gather per-clip prompts from a cache)."""
        idx_t = torch.as_tensor(idx, dtype=torch.long)
        return Conditioning(
            None if self.tokens is None else self.tokens.index_select(0, idx_t.to(self.tokens.device)),
            None if self.vector is None else self.vector.index_select(0, idx_t.to(self.vector.device)),
        )

    def to(self, *args, **kwargs) -> "Conditioning":
        """Move/cast both tensors like :meth:`torch.Tensor.to`."""
        return Conditioning(
            None if self.tokens is None else self.tokens.to(*args, **kwargs),
            None if self.vector is None else self.vector.to(*args, **kwargs),
        )


def require_contract(obj: object, kind_base: type) -> None:
    """Raise TypeError when ``obj``'s class leaves a required method of ``kind_base`` unimplemented.

    ``nn.Module`` does not use :class:`abc.ABCMeta`, so the kind base classes mark their required
    methods with :func:`abc.abstractmethod` and call this from their constructor.
    """
    missing = sorted(name for name in dir(type(obj))
                     if getattr(getattr(type(obj), name, None), "__isabstractmethod__", False))
    if missing:
        kind = kind_base.__posediff_kind__
        raise TypeError(f"{type(obj).__name__} is a{'n' if kind[0] in 'aeiou' else ''} {kind} but does not implement "
                        f"{', '.join(missing)} (required by posediff.interfaces.{kind_base.__name__})")


def expand_rows(x: Tensor, rows: int) -> Tensor:
    """Broadcast a per-clip tensor ``(Bc, ...)`` to ``(rows, ...)`` sample-major, without copying
    when possible (``rows`` must be a multiple of ``Bc``)."""
    bc = x.shape[0]
    if rows == bc:
        return x
    if rows % bc:
        raise ValueError(f"row batch {rows} is not a multiple of the conditioning batch {bc}")
    k = rows // bc
    return x.unsqueeze(1).expand(bc, k, *x.shape[1:]).reshape(rows, *x.shape[1:])


class Component(nn.Module):
    """What every kind base class shares: storing the constructor's arguments, checked once.

    The spec system reads a component's parameters from its constructor signature, and
    :func:`posediff.component_spec.component_spec` reads them back from attributes of the same names.
    :meth:`store_config` does both halves of that rule in one call.
    """

    __posediff_kind__: str = ""
    spec_example: Mapping[str, Any] = {}
    """Optional hook: a parameter table that builds this component for :func:`posediff.testing.check_component`
    when its defaults cannot (e.g. a required argument). Default: none (the defaults are used)."""

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """Optional hook: the component's value checks that need no tensors, one message per problem.

        ``params`` holds the constructor's arguments by name, with defaults applied (nested components are
        their spec tables when a spec is validated, built objects when the component is constructed).
        Spec validation calls it before anything is built, :meth:`store_config` when the component is
        constructed; the messages become one :class:`~posediff.errors.SpecError`. Default: no checks.
        """
        return []

    def clear_cache(self) -> None:
        """Optional hook: forget values cached from the weights (called whenever the weights change, e.g.
        by training). Default: nothing is cached."""

    def registered_name(self) -> Optional[str]:
        """The name this component is registered under: stamped by the builder, else looked up in the registry
        (None for an unregistered class)."""
        kind = type(self).__posediff_kind__
        return self.__dict__.get("_posediff_name") or (name_of(kind, self) if kind in KINDS else None)

    def store_config(self, arguments: Mapping[str, Any]) -> None:
        """Run the class's ``check_params`` hook (if any) on the constructor's arguments, then store each.

        Call it as ``self.store_config(locals())`` right after ``super().__init__()``: only the names of the
        constructor's parameters are taken from ``arguments``. ``check_params(params) -> list[str]`` is the
        one value check of a component (spec validation calls it too, before anything is built); its
        messages become one :class:`~posediff.errors.SpecError`.
        """
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        values = {n: arguments[n] for n in names if n in arguments}
        problems = list(self.check_params(dict(values)) or ())
        if problems:
            kind = type(self).__posediff_kind__ or "component"
            name = self.registered_name() or type(self).__name__
            raise SpecError("; ".join(problems), origin=f"{kind} {name!r}")
        for n, v in values.items():
            setattr(self, n, v)


class Backbone(Component):
    """Denoiser trunk: ``forward(x2d, y_t, t, cond, sites) -> x0``.

    Shapes: x2d ``(N, T, J, 2)`` normalised screen coordinates; y_t ``(N, T, J, 3)`` noisy
    root-relative pose (metres × scale); t ``(N,)`` integer steps; output ``(N, T, J, 3)``.
    ``sites`` maps a hook point name (one of ``hook_points``) to a callable
    ``site(x, cond, v) -> x`` on tokens ``(N·J, T, C)``; ``v`` is the conditioning vector
    ``F(t) + P[L]`` of shape ``(N, C)``.
    """

    __posediff_kind__ = "backbone"
    hook_points: tuple[str, ...] = ()
    """Names of the points where fusion sites may be placed (``sites`` keys)."""
    dim: Optional[int] = None
    """Optional: the token width C, used to size cache blocks (:meth:`posediff.PoseLifter.cache_rows`);
    None = unknown (no cache blocking)."""
    keep_fp32: Optional[tuple[str, ...]] = None
    """Optional hook: names of sub-modules and parameters that a reduced-precision (bf16) inference copy keeps
    in fp32 (input stage, output head). None = the backbone makes no such copy; it runs under bf16 autocast."""
    stream_dtype: Optional[torch.dtype] = None
    """Set on a bf16 inference copy: dtype of the residual stream (None = the input's dtype)."""
    frame_parameters: tuple[str, ...] = ()
    """Names of parameters (relative to the backbone) whose axis 1 runs over the T frames of the receptive
    field, e.g. a temporal positional embedding ``(1, T, C)``. ``posediff train --init`` resamples them
    (linear interpolation in time) when the initial weights were trained with another clip length, see
    :func:`posediff.training.transfer.resample_frames`. Empty: nothing in the backbone depends on T."""

    @classmethod
    def hook_points_for(cls, params: Mapping[str, Any]) -> Optional[tuple[str, ...]]:
        """Optional hook: the hook points a parameter table gives, known before construction, so that spec
        validation rejects fusion sites at unknown points. Default: None (not known until built; a site at
        an unknown point is then refused when the lifter is built)."""
        return None

    def check_inputs(self, x2d: Tensor, y_t: Tensor, t: Tensor, frames: Optional[int] = None) -> None:
        """The checks every backbone's ``forward`` makes first (InputError with the shapes expected).

        ``x2d (N, T, J, 2)`` and ``y_t (N, T, J, 3)`` with equal N, T, J; ``in_channels`` (when the backbone
        has that attribute) = the channels of both; J = ``self.joints`` (when it has that attribute);
        ``t (N,)``; and T = ``frames`` when given (a backbone with a fixed receptive field).
        """
        if x2d.ndim != 4 or y_t.ndim != 4 or x2d.shape[:3] != y_t.shape[:3]:
            raise InputError(f"x2d and y_t: expected (N, T, J, 2) and (N, T, J, 3) with equal N, T, J; "
                             f"got {tuple(x2d.shape)} and {tuple(y_t.shape)}")
        n, got_frames, joints = x2d.shape[:3]
        channels = getattr(self, "in_channels", None)
        if channels is not None and x2d.shape[-1] + y_t.shape[-1] != channels:
            raise InputError(f"x2d/y_t: expected {channels} channels in total (2D + 3D); "
                             f"got {x2d.shape[-1]} + {y_t.shape[-1]}")
        if frames is not None and got_frames != frames:
            raise InputError(f"x2d: expected T = {frames} frames (the receptive field); got {got_frames}")
        expected_joints = getattr(self, "joints", None)
        if expected_joints is not None and joints != expected_joints:
            raise InputError(f"x2d: expected J = {expected_joints} joints; got {joints}")
        if t.shape != (n,):
            raise InputError(f"t: expected shape ({n},), one step per row; got {tuple(t.shape)}")


class TextEncoder(Component):
    """Tokenizer plus frozen text tower.

    ``tokenize(texts) -> (N, 77) long``; ``embed(ids) -> (N, 77, W)`` input token embeddings;
    ``encode(emb) -> (N, 77, W)`` per-token hidden states (for CLIP: positional embedding, transformer
    with causal mask, final LayerNorm; no projection). Attribute ``width`` = W, ``context_length`` = 77.
    Optional hook :meth:`end_index` (default: CLIP's rule).
    """

    __posediff_kind__ = "text_encoder"
    width: int = 512
    context_length: int = 77

    def __init__(self) -> None:
        super().__init__()
        require_contract(self, TextEncoder)

    @abc.abstractmethod
    def tokenize(self, texts: Sequence[str]) -> Tensor:
        """``N`` strings → ``(N, context_length)`` long token ids (required)."""

    @abc.abstractmethod
    def embed(self, ids: Tensor) -> Tensor:
        """Token ids ``(N, L)`` → input token embeddings ``(N, L, W)`` (required)."""

    @abc.abstractmethod
    def encode(self, emb: Tensor) -> Tensor:
        """Input embeddings ``(N, L, W)`` → per-token hidden states ``(N, L, W)`` (required)."""

    @classmethod
    def width_for(cls, params: Mapping[str, Any]) -> int:
        """Optional hook: the width W a parameter table gives, known before construction (spec validation
        sizes the conditioner's tokens with it). Default: the table's ``width`` when it is an int, else 0
        (unknown)."""
        width = params.get("width")
        return width if isinstance(width, int) and not isinstance(width, bool) else 0

    def end_index(self, ids: Tensor) -> Tensor:
        """Position of each sequence's end token, ids ``(..., L)`` → ``(...)`` long.

        Default: the position of the largest id, which is CLIP's end-of-text token (49407, the last id of
        its vocabulary; the official FinePOSE code finds it with ``argmax``). Encoders whose end token is
        not their largest id (BERT's ``[SEP]``) override this.
        """
        return ids.argmax(-1)


class Conditioner(Component):
    """Turns action labels into a :class:`Conditioning`.

    ``forward(actions, batch) -> Conditioning``: ``actions`` is a sequence of ``batch`` labels
    (``None`` entries mean "unknown action": a neutral prompt) or ``None`` for all unknown.
    Attribute ``token_dim`` (width of ``tokens``; 0 when the conditioner makes no tokens) and
    ``vector_dim`` (0 when no vector).
    """

    __posediff_kind__ = "conditioner"
    token_dim: int = 0
    actions: Sequence[str] = ()
    """Optional: the action labels it knows (its vocabulary); empty = any label (or none)."""

    @classmethod
    def token_dim_for(cls, params: Mapping[str, Any]) -> Optional[int]:
        """Optional hook: the width of the prompt tokens a parameter table gives, known before construction.
        Default: None (the width of its text encoder, see :meth:`TextEncoder.width_for`)."""
        return None

    def prompt_key(self, label: Optional[str]) -> Any:
        """Optional hook: check one action label and return the hashable key of its prompt; raise a
        :class:`~posediff.errors.PosediffError` for a label it cannot take (training then uses the neutral
        prompt for it). Default: every label is accepted as its own key."""
        return label


class FusionBlock(Component):
    """One block applied at a backbone hook point: ``forward(x, cond, v) -> x``.

    x ``(N·J, T, C)`` pose tokens (rows ordered (sample, joint)); ``cond`` the
    :class:`Conditioning` of ``Bc`` clips; v ``(N, C)``. Blocks at one site are chained and the
    site adds one residual around the chain.
    """

    __posediff_kind__ = "fusion"


class NoiseSchedule(Component):
    """Noise schedule: ``alphas_cumprod()`` → ``(timesteps,)`` float64 ᾱ_t; attribute ``timesteps``."""

    __posediff_kind__ = "schedule"
    timesteps: int = 1000

    @abc.abstractmethod
    def alphas_cumprod(self) -> Tensor:
        """ᾱ_t for t = 0 … timesteps − 1, ``(timesteps,)`` float64 (required)."""

    def __init__(self) -> None:
        super().__init__()
        require_contract(self, NoiseSchedule)


DenoiseFn = Callable[[Tensor, Tensor, Tensor], Tensor]
"""``denoise(x2d (B,K,T,J,2), y_t (B,K,T,J,3), t (B,K) long) -> x0 (B,K,T,J,3)``; the lifter
binds the conditioning of the B clips and broadcasts it over the K copies."""


class Sampler(Component):
    """Reverse process, as a **schedule of timesteps** plus a **step rule** (like a diffusers scheduler).

    A sampler is its noise schedule, its timesteps and its step rule; nothing else. The loop around them (H
    hypothesis chains, batched flip test-time augmentation, clamping, noise drawing and replay, step
    recording) is shared by every sampler and lives in :func:`posediff.sampling.reverse_process`; its
    settings (H, M, flip, clamp, scale) are a :class:`~posediff.sampling.SamplingSettings` value given with
    each call (:meth:`sample`), held by the model as ``PoseLifter.sampling``. A sampler implements:

    - :meth:`step_times` (required): the M timesteps at which the denoiser is called, descending,
      followed by ``-1``.
    - :meth:`step` (required): move the state from ``t`` to ``t'`` given the denoiser's clamped x̂0.
    - :meth:`draws_noise` (optional, default: never): whether the step from ``t`` to ``t'`` asks for a
      fresh draw (so that recorded ``draws`` can be checked up front).

    A subclass calls ``super().__init__(schedule)`` and validates only its own arguments (``check_params``).
    :meth:`add_noise` (the training forward process) is shared too.

    Args:
        schedule: The noise schedule (a built ``schedule`` component).

    Shape:
        :meth:`sample` returns the x̂0 of every step, ``(B, M, H, T, J, 3)`` metres.
    """

    __posediff_kind__ = "sampler"
    loop_defaults: Mapping[str, Any] = {}
    """Optional: the loop settings this sampler suggests when a spec leaves them out, e.g. ``{"steps": 5}`` for a
    higher-order solver (keys of :class:`~posediff.sampling.SamplingSettings`). Default: none (H = 20, M = 10,
    flip, clamp 1.1, scale 1)."""

    def __init__(self, schedule: NoiseSchedule) -> None:
        super().__init__()
        require_contract(self, Sampler)
        if not isinstance(schedule, NoiseSchedule):
            raise SpecError(f"sampler.schedule: expected a built schedule (a NoiseSchedule); got "
                            f"{type(schedule).__name__}")
        self.schedule = schedule

    # ------------------------------------------------------------------ the contract
    @abc.abstractmethod
    def step_times(self, steps: int) -> list[int]:
        """The M timesteps at which the denoiser is called, descending, then ``-1`` (M + 1 values).

        Args:
            steps: M; check it with :meth:`check_steps`.
        """

    @abc.abstractmethod
    def step(self, x_t: Tensor, x0: Tensor, t: int, t_next: int, *, noise: Callable[[], Tensor],
             memory: dict) -> tuple[Optional[Tensor], dict]:
        """One update of the reverse process.

        Args:
            x_t: ``(B, H, T, J, 3)`` the unclamped state at ``t`` (scaled units).
            x0: ``(B, H, T, J, 3)`` the denoiser's x̂0 at ``t``, flip-averaged and clamped (scaled units).
            t: Current timestep. t_next: Next timestep, ``-1`` after the last prediction.
            noise: Call it for a fresh standard normal draw of x_t's shape (generator or replay).
            memory: A dict kept across the steps of one sampling call (e.g. multistep history).

        Returns:
            ``(x_next, info)``: the state at ``t_next`` (``None`` allowed when ``t_next < 0``) and a
            dict of values recorded in the trace (may be empty).
        """

    def draws_noise(self, t: int, t_next: int) -> bool:
        """Whether :meth:`step` from ``t`` to ``t_next ≥ 0`` calls ``noise()`` once (default: never)."""
        return False

    # ------------------------------------------------------------------ shared helpers
    def check_steps(self, steps: object) -> int:
        """``steps`` as an int in ``[1, schedule.timesteps]``; InputError otherwise."""
        total = int(self.schedule.timesteps)
        if not is_int(steps) or not 1 <= int(steps) <= total:
            raise InputError(f"steps must be an int in [1, {total}]; got {steps!r}")
        return int(steps)

    def time_pairs(self, steps: int) -> list[tuple[int, int]]:
        """Consecutive ``(t, t')`` pairs of :meth:`step_times`; M pairs, the last with ``t' = −1``."""
        times = self.step_times(steps)
        return list(zip(times[:-1], times[1:]))

    def add_noise(self, x0: Tensor, t: Tensor, noise: Tensor, *, clamp: float = 1.1, scale: float = 1.0) -> Tensor:
        """Forward process q(x_t | x_0) as the denoiser sees it during training (reference §4.2).

        ``clamp(√ᾱ_t·x0·scale + √(1 − ᾱ_t)·ε, ±clamp·scale) / scale``, computed in float64 (the
        official buffers are float64) and cast back to ``x0``'s dtype.

        Args:
            x0: ``(B, ...)`` clean root-relative poses (metres), e.g. ``(B, T, J, 3)``.
            t: ``(B,)`` (or any shape equal to ``x0``'s leading dims) integer steps in
                ``[0, timesteps)``; a scalar serves the whole batch.
            noise: Same shape as ``x0``, standard normal.
            clamp, scale: The model's :class:`~posediff.sampling.SamplingSettings` values (the same bound
                and scale as sampling).

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
        bound = clamp * scale
        x = a * (x0.to(torch.float64) * scale) + b * noise.to(torch.float64)
        return (torch.clamp(x, -bound, bound) / scale).to(x0.dtype)

    def sample(
        self,
        denoise: DenoiseFn,
        x2d: Tensor,
        *,
        settings: SamplingSettings,
        flip_permutation: Optional[Sequence[int]],
        generator: Optional[torch.Generator] = None,
        draws: Optional[Sequence[Tensor]] = None,
        trace: Optional[list] = None,
    ) -> Tensor:
        """Run the reverse process with this sampler's rule and the loop ``settings``; see
        :func:`posediff.sampling.reverse_process`.

        Returns:
            ``(B, M, H, T, J, 3)`` metres, the x̂0 of every step (dtype of ``x2d``).
        """
        return reverse_process(self, denoise, x2d, settings=settings, flip_permutation=flip_permutation,
                               generator=generator, draws=draws, trace=trace)


class Aggregator(Component):
    """Hypotheses → one pose: ``forward(hyps, *, x2d=None, camera=None, root=None, target=None)``.

    hyps ``(B, H, T, J, 3)`` root-relative metres; x2d ``(B, T, J, 2)``; camera ``(B, 9)`` or
    ``(9,)`` intrinsics in the 2D's units; root ``(B, T, 1, 3)`` camera-space metres; target
    ``(B, T, J, 3)`` ground truth (oracles only). Output ``(B, T, J, 3)``.

    :meth:`forward` is the same for every aggregator: it checks ``hyps`` (a finite tensor of shape
    ``(B, H, T, J, 3)``) and that each input named in ``needs`` (a subset of {"camera", "root", "target"})
    is given — an :class:`~posediff.errors.InputError` otherwise — then calls :meth:`aggregate`, the one
    method an aggregator implements (required).
    """

    __posediff_kind__ = "aggregator"
    needs: frozenset = frozenset()
    """Inputs it cannot do without, a subset of {"camera", "root", "target"} (default: none)."""
    step: int = -1
    """Optional: which sampler step's hypotheses it aggregates when a caller hands it all of them (-1: the
    last; a temporal aggregator may read another)."""

    _NEEDS_TEXT = {
        "camera": ("camera intrinsics camera=(B, 9) [fx, fy, cx, cy, k1, k2, k3, p1, p2] in the 2D's units",
                   "without a camera use the 'mean' aggregator: overrides={'aggregator.name': 'mean'}"),
        "root": ("root=(B, T, 1, 3) camera-space metres", "pass it, or use root='estimate' to fit it to the 2D"),
        "target": ("the ground truth target=(B, T, J, 3)",
                   "an oracle is a diagnostic; for predictions use aggregator 'jpma' or 'mean'"),
    }

    def __init__(self) -> None:
        super().__init__()
        require_contract(self, Aggregator)

    def forward(self, hyps: Tensor, *, x2d: Optional[Tensor] = None, camera: Optional[Tensor] = None,
                root: Optional[Tensor] = None, target: Optional[Tensor] = None) -> Tensor:
        """Check the inputs, then :meth:`aggregate`; returns ``(B, T, J, 3)``.

        Raises:
            InputError: ``hyps`` not a finite ``(B, H, T, J, 3)`` tensor, or an input of ``needs`` missing.
        """
        if not isinstance(hyps, Tensor):
            raise InputError(f"hyps must be a torch tensor (B, H, T, J, 3); got {type(hyps).__name__}")
        if hyps.dim() != 5 or hyps.shape[-1] != 3 or 0 in hyps.shape:
            raise InputError(f"hyps must have shape (B, H, T, J, 3); got {tuple(hyps.shape)}")
        if not bool(torch.isfinite(hyps).all()):
            raise InputError("hyps contains NaN/Inf values")
        given = {"camera": camera, "root": root, "target": target}
        for need in sorted(self.needs):
            if given.get(need) is None:
                what, hint = self._NEEDS_TEXT.get(need, (need, ""))
                name = self.registered_name() or type(self).__name__
                built = " with root='given'" if need == "root" and getattr(self, "root", None) == "given" else ""
                raise InputError(f"{need} must be given: the {name} aggregator{built} needs {what}; got None"
                                 + (f" ({hint})" if hint else ""))
        return self.aggregate(hyps, x2d=x2d, camera=camera, root=root, target=target)

    @abc.abstractmethod
    def aggregate(self, hyps: Tensor, *, x2d: Optional[Tensor], camera: Optional[Tensor], root: Optional[Tensor],
                  target: Optional[Tensor]) -> Tensor:
        """Combine checked hypotheses ``(B, H, T, J, 3)`` into ``(B, T, J, 3)`` (inputs as in :meth:`forward`)."""


class KeypointDetector(abc.ABC):
    """2D keypoints of the people in one video frame: ``detect(image) -> (P, J, 3)``.

    Not part of a model: :func:`posediff.video.detect_video` runs a detector over every frame of a video,
    links the people of consecutive frames into tracks (when it can see more than one) and hands the
    keypoints to :func:`posediff.lift`. A detector is built by name like any component
    (``posediff.get("detector", "mediapipe")(**params)``) and a plugin adds one through the entry-point
    group ``posediff.detector``.

    Hooks:
        keypoint_format: Required class attribute: the joint layout of :meth:`detect`'s output, a name
            :func:`posediff.data.formats.get_format` knows (``"coco-17"``, ``"mediapipe-33"``, …).
        max_people: How many people it can report per frame (``None``: any number). ``1`` means no tracking
            is needed.
        detect: Required.
        reset: Optional: forget what was seen (called before each video; a detector that tracks from frame
            to frame starts over). Default: nothing.
        close: Optional: release native resources. Default: nothing. A detector is also a context manager.

    Example:
        >>> import numpy as np
        >>> class Centre(KeypointDetector):
        ...     keypoint_format = "coco-17"
        ...     max_people = 1
        ...     def detect(self, image):
        ...         h, w = image.shape[:2]
        ...         return np.tile([w / 2, h / 2, 1.0], (1, 17, 1))
        >>> Centre().detect(np.zeros((4, 6, 3), np.uint8)).shape
        (1, 17, 3)
    """

    __posediff_kind__ = "detector"
    keypoint_format: str = ""
    max_people: Optional[int] = None

    @abc.abstractmethod
    def detect(self, image: Any) -> Any:
        """Keypoints of every person found in ``image``.

        Args:
            image: ``(H, W, 3)`` uint8 RGB (numpy).

        Returns:
            ``(P, J, 3)`` float numpy array: x, y in pixels of ``image`` (x right, y down, origin at the
            top-left corner) and a confidence in [0, 1]; ``P = 0`` when nobody is found (required).
        """

    def reset(self) -> None:
        """Forget the previous frames (called before each video). Default: nothing to forget."""

    def close(self) -> None:
        """Release native resources (models, threads). Default: nothing to release."""

    def __enter__(self) -> "KeypointDetector":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not inspect.isabstract(cls) and not cls.keypoint_format:
            raise TypeError(f"{cls.__name__} is a detector but sets no keypoint_format (required by "
                            "posediff.interfaces.KeypointDetector: e.g. keypoint_format = 'coco-17')")


KIND_BASES: dict[str, type] = {cls.__posediff_kind__: cls for cls in (
    Backbone, Conditioner, TextEncoder, FusionBlock, NoiseSchedule, Sampler, Aggregator, KeypointDetector)}
"""The base class of each component kind (``"sampler"`` → :class:`Sampler`, …)."""


def contract_of(kind: str, obj: Any) -> type:
    """The class whose hooks describe a registered ``obj`` of ``kind`` before it is built: ``obj`` itself
    when it is a subclass of the kind's base class, else (a factory function) the base class, whose hooks
    give the documented defaults. Every hook is declared on the base classes, so it is read as a plain
    attribute of the result, never looked up with a fallback."""
    base = KIND_BASES[kind]
    return obj if isinstance(obj, type) and issubclass(obj, base) else base


def hook_names(kind: str) -> set[str]:
    """The public names a kind's base class declares (its hooks and helpers), beyond ``nn.Module``'s."""
    base = KIND_BASES[kind]
    inherited = set(dir(nn.Module)) if issubclass(base, nn.Module) else set(dir(abc.ABC))
    return {n for n in dir(base) if not n.startswith("_")} - inherited


def misspelt_hooks(kind: str, cls: type) -> list[str]:
    """Methods of ``cls`` whose names are near, but not equal to, a hook of its kind (e.g. ``check_param``
    for ``check_params``): such a method is never called, and the hook's default silently stands in for it.
    Returns one message per suspect method."""
    import difflib

    hooks = hook_names(kind)
    out = []
    for klass in cls.__mro__:
        if klass is KIND_BASES[kind] or klass in (Component, nn.Module, object):
            break
        for name, value in vars(klass).items():
            if name.startswith("_") or name in hooks or not callable(getattr(value, "__func__", value)):
                continue
            close = difflib.get_close_matches(name, sorted(hooks), n=1, cutoff=0.9)
            if close:
                out.append(f"{klass.__name__}.{name} looks like a misspelling of the {kind} hook {close[0]!r}, "
                           "which it therefore does not override")
    return out
