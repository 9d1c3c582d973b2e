"""PoseLifter: composes backbone, conditioner, fusion sites, sampler and aggregator.

The public face: :meth:`PoseLifter.denoise` (one denoiser call), :meth:`PoseLifter.sample` (all
hypotheses of all steps), :meth:`PoseLifter.lift` (sample and aggregate) and
:meth:`PoseLifter.training_loss` (the official x0 objective).

Size: one class, the model the components compose; its sampling fast path (bf16 copies, cache blocking)
belongs to it and is documented in docs/performance.md.

"""
from __future__ import annotations

import contextlib
import copy
from typing import Any, Callable, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from .component_spec import component_spec
from .errors import InputError
from .geometry.skeletons import Skeleton
from .interfaces import Backbone, Conditioning
from .precision import PRECISIONS, resolve_precision
from .sampling import SamplingSettings
from .validation import as_tensor, check_finite, check_shape

__all__ = ["PoseLifter", "CACHE_BLOCK_BYTES", "bf16_inference_copy", "aggregate_steps"]

CACHE_BLOCK_BYTES = 12 * 2**20
"""Cache blocking on CPU: the largest token stream ``rows × T × J × C × itemsize`` one denoiser call
should carry. Measured on the 2-core benchmark machine (finepose-h36m, 243 × 17 × 512): 2 bf16 sampling
rows (8.5 MB) or 1 fp32 training clip per call run ≈ 25–30% faster than all rows at once, because the
activations between the matmuls stay in the CPU's last-level cache (``benchmarks/sweep_blocking.py``,
``docs/performance.md``)."""


def bf16_inference_copy(module: nn.Module, keep: Sequence[str] = ()) -> nn.Module:
    """A frozen bf16 copy of ``module`` for sampling: weights cast once, except the sub-modules and parameters
    named in ``keep`` (a backbone's ``keep_fp32``: input stage, head) and every LayerNorm's affine parameters,
    which are copied back in fp32 from the original (no double rounding). LayerNorm takes bf16 input with fp32
    weights at no extra cost on CPU, and MixSTE's shared spatial/temporal norms sit in the main path 2·depth
    times: rounding their weights to bf16 scales the output systematically (+0.4% measured). A backbone's
    ``stream_dtype`` is set to bf16. ``posediff.testing.check_component`` runs components through it too.
    """
    dup = copy.deepcopy(module)
    for p in dup.parameters():
        p.requires_grad_(False)
        p.grad = None
    originals = dict(module.named_modules())
    dup.to(torch.bfloat16)
    for name, dst in dup.named_modules():
        if isinstance(dst, nn.LayerNorm) or name in keep:
            dst.to(torch.float32)
            with torch.no_grad():
                for a, b in zip(dst.parameters(), originals[name].parameters()):
                    a.copy_(b)
    for name in keep:  # parameters listed directly (e.g. positional embeddings)
        src = getattr(module, name)
        if isinstance(src, nn.Parameter):
            getattr(dup, name).data = src.detach().clone()
    if isinstance(dup, Backbone):
        dup.stream_dtype = torch.bfloat16
    return dup.eval()


def aggregate_steps(aggregator: nn.Module, hyps: Tensor, *, x2d: Tensor, camera: Optional[Tensor] = None,
                    root: Optional[Tensor] = None, target: Optional[Tensor] = None,
                    every_step: bool = False) -> Tensor:
    """Aggregate sampled hypotheses: the one aggregation of lifting, streaming and evaluation.

    Args:
        aggregator: A built aggregator (its ``needs`` are checked by its ``forward``).
        hyps: ``(B, M, H, T, J, 3)`` every step's hypotheses, as :meth:`PoseLifter.sample` returns them.
        x2d: ``(B, T, J, 2)`` the 2D they were sampled from.
        camera: ``(B, 9)`` or ``(9,)`` intrinsics in the 2D's units, or None.
        root: ``(B, T, 1, 3)`` camera-space root, or None. target: ``(B, T, J, 3)`` (oracles only), or None.
        every_step: False: the aggregator's own step (``aggregator.step``, default the last) →
            ``(B, T, J, 3)``; True: every step, the inputs repeated per step → ``(B, M, T, J, 3)``.

    Returns:
        The aggregated poses in the dtype the aggregator returns (metres, root-relative as the hypotheses).
    """
    b, m = hyps.shape[:2]
    if camera is not None and camera.dim() == 1:
        camera = camera.unsqueeze(0).expand(b, -1)
    if not every_step:
        return aggregator(hyps[:, int(aggregator.step)], x2d=x2d, camera=camera, root=root, target=target)

    def per_step(x: Optional[Tensor]) -> Optional[Tensor]:
        return None if x is None else x.repeat_interleave(m, dim=0)

    flat = hyps.reshape(b * m, *hyps.shape[2:])
    out = aggregator(flat, x2d=per_step(x2d), camera=per_step(camera), root=per_step(root), target=per_step(target))
    return out.reshape(b, m, *out.shape[1:])


class PoseLifter(nn.Module):
    """A diffusion pose lifter assembled from registered components.

    Built by :func:`posediff.build`. :attr:`spec` is assembled from the parts the model holds
    (:meth:`to_spec`: every component reports the arguments it was built with), so it follows run-time
    changes such as :meth:`fast_sampling`'s precision, and ``posediff.build(lifter.spec)`` rebuilds an
    identical model.

    Args:
        backbone: The denoiser trunk.
        conditioner: Turns action labels into a :class:`~posediff.interfaces.Conditioning`.
        sites: Fusion sites by backbone hook point.
        sampler: The reverse process.
        aggregator: Hypotheses → one pose.
        skeleton: Joint set of inputs and outputs.
        frames: Receptive field T (clip length) of the backbone.
        spec: The resolved spec it is built from (plain dict); only its ``meta`` table and the lifter's
            ``dim`` are kept, the rest is reported by the parts.
        precision: ``"fp32"`` or ``"bf16"``. With ``"bf16"``, sampling runs a bf16 copy of the
            denoiser whose weights are cast once (and re-cast only when the weights change), so
            every matmul hits the CPU's bf16 kernels (AVX512-BF16 / AMX) without autocast
            re-casting weights and activations at every call; the input stage, the output head,
            the prompt branch and all sampler arithmetic stay fp32 (see ``docs/performance.md``).
            A backbone without a ``keep_fp32`` attribute falls back to bf16 autocast. ``"auto"``: bf16
            where this machine runs it faster than fp32, else fp32 (:attr:`effective_precision`).
        max_rows: Largest denoiser batch (clips × copies) per call; 0 = unlimited (a hard memory bound).
            On CPU, sampling is also cache-blocked (:attr:`block_rows`); both give the same samples.

    Shapes:
        x2d ``(B, T, J, 2)`` normalised screen coordinates; poses ``(B, T, J, 3)`` metres,
        root-relative (root joint exactly 0).
    """

    def __init__(
        self,
        backbone: nn.Module,
        conditioner: nn.Module,
        sites: Mapping[str, nn.Module],
        sampler: nn.Module,
        aggregator: nn.Module,
        skeleton: Skeleton,
        frames: int,
        spec: dict,
        sampling: Optional[SamplingSettings] = None,
        precision: str = "fp32",
        max_rows: int = 0,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.conditioner = conditioner
        # ModuleDict keys cannot hold "."; the backbone sees hook-point names through ``site_map``.
        self.sites = nn.ModuleDict({at.replace(".", "_"): site for at, site in sites.items()})
        self.site_map: dict[str, nn.Module] = dict(sites)
        self.sampler = sampler
        self.sampling: SamplingSettings = sampling if sampling is not None else SamplingSettings()
        """The reverse-process loop's settings (H, M, flip, clamp, scale) from the spec's ``[sampler]`` table;
        a call that wants others passes them (``hypotheses=``, ``steps=``, ``flip=``), this value is never
        changed by sampling."""
        self.aggregator = aggregator
        self.skeleton = skeleton
        self.frames = frames
        self.meta: dict = dict(spec.get("meta") or {})
        """The spec's ``[meta]`` table (name, summary), reported back by :meth:`to_spec`."""
        self.dim = int(spec["lifter"]["dim"])
        self.spec_version = int(spec.get("spec_version", 1))
        self.precision = precision
        self.max_rows = max_rows
        self.compile_sampling = False
        """Run the sampling denoiser through ``torch.compile`` (set by :meth:`fast_sampling`)."""
        self.block_rows: int | str = "auto"
        """Cache blocking of sampling: rows per denoiser call. ``"auto"``: on CPU
        :meth:`cache_rows` (the rows whose token stream fits :data:`CACHE_BLOCK_BYTES`), on GPU no
        blocking; an int > 0 sets it; 0 turns it off. Never more than :attr:`max_rows`."""
        self.fuse_kernels = True
        """bf16 sampling on CPU: fused oneDNN Linear epilogues (bias, GELU, residual add) in the copy."""
        # reduced-precision inference copies live outside the module tree (not in state_dict), one per
        # (cast, compile, fuse) setting: {key: (weights stamp, run, backbone copy, site map copy)}
        self.__dict__["_cast_copies"] = {}

    def __getstate__(self) -> dict:
        """Pickling / ``copy.deepcopy``: the inference copies (packed oneDNN weights) are not copied;
        they are rebuilt on the next bf16 ``sample``."""
        state = super().__getstate__()
        state["_cast_copies"] = {}
        return state

    # ------------------------------------------------------------------ config
    @property
    def spec(self) -> dict:
        """The resolved spec of this model, assembled from its parts (see :meth:`to_spec`)."""
        return self.to_spec()

    def to_spec(self) -> dict:
        """The resolved spec of this model, assembled from what its parts report.

        Returns:
            A plain dict in the canonical order of :func:`posediff.resolve_spec`: ``spec_version``,
            ``meta``, ``lifter`` (skeleton, frames, dim, precision, max_rows), ``backbone``,
            ``conditioner``, ``sampler``, ``aggregator``, ``fusion`` (one table per hook point).
        """
        spec: dict[str, Any] = {"spec_version": self.spec_version}
        if self.meta:
            spec["meta"] = copy.deepcopy(self.meta)
        spec["lifter"] = {"skeleton": self.skeleton.name, "frames": int(self.frames), "dim": self.dim,
                          "precision": self.precision, "max_rows": int(self.max_rows)}
        for part in ("backbone", "conditioner", "sampler", "aggregator"):
            spec[part] = component_spec(getattr(self, part))
        spec["sampler"].update(self.sampling.as_table())
        spec["fusion"] = [{"at": at, "residual": bool(site.residual),
                           "blocks": [component_spec(b) for b in site.blocks]}
                          for at, site in self.site_map.items()]
        return spec

    # ------------------------------------------------------------------ helpers
    @property
    def device(self) -> torch.device:
        """Device of the backbone's parameters."""
        return next(self.backbone.parameters()).device

    def extra_repr(self) -> str:
        name = self.meta.get("name", "custom")
        return f"spec={name!r}, skeleton={self.skeleton.name!r}, frames={self.frames}"

    def _autocast(self):
        if self.effective_precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _check_x2d(self, x2d: Any, name: str = "x2d") -> Tensor:
        x = as_tensor(name, x2d, device=self.device)
        check_shape(name, x, ("B", "T", "J", "2"), {"T": self.frames, "J": self.skeleton.num_joints},
                    hint=f"the model's window is {self.frames} frames of skeleton {self.skeleton.name!r}; "
                         "posediff.lift() windows longer or shorter sequences")
        check_finite(name, x, hint="mark missing joints and fill them first (posediff.lift and "
                                   "posediff.data.formats.interpolate_missing do this)")
        return x

    def check_actions(self, actions: Optional[Sequence[Optional[str]]], batch: int) -> Optional[list[Optional[str]]]:
        """Checked action labels of ``batch`` clips, as the conditioner takes them.

        Args:
            actions: ``None``, one label for every clip, or one label (or ``None``/``""``: unknown) per clip.
            batch: B, the number of clips.

        Returns:
            ``None`` when no clip has a label, else a list of B labels (``None`` where unknown).

        Raises:
            InputError: a wrong count or a label that is not a string.
        """
        if actions is None:
            return None
        if isinstance(actions, str):
            actions = [actions] * batch
        actions = list(actions)
        if len(actions) != batch:
            raise InputError(f"actions must hold one label per clip (B={batch}); got {len(actions)}")
        for a in actions:
            if a is not None and not isinstance(a, str):
                raise InputError(f"actions must be strings or None; got {type(a).__name__}")
        # "" (no action text, e.g. 3DHP clips) means unknown: the neutral prompt
        actions = [a if a else None for a in actions]
        return None if all(a is None for a in actions) else actions

    def condition(self, actions: Optional[Sequence[Optional[str]]], batch: int) -> Conditioning:
        """Conditioning of ``batch`` clips (cached per distinct prompt by the conditioner)."""
        return self.conditioner(self.check_actions(actions, batch), batch)

    def run_denoiser(self, x2d: Tensor, y_t: Tensor, t: Tensor, cond: Conditioning) -> Tensor:
        """One denoiser call with the model's own modules (fp32 unless an autocast is around it).

        Args:
            x2d: ``(B, T, J, 2)`` normalised 2D input. y_t: ``(B, T, J, 3)`` noisy pose at step ``t``.
            t: ``(B,)`` diffusion steps. cond: :meth:`condition` of the batch.

        Returns:
            ``(B, T, J, 3)`` the predicted clean pose, metres, root-relative.
        """
        return self.backbone(x2d, y_t, t, cond, self.site_map)

    # ------------------------------------------------------------------ fast sampling
    def fast_sampling(self, precision: str = "auto", compile: bool = False, fuse: bool = True,
                      block_rows: int | str = "auto") -> "PoseLifter":
        """Switch sampling to the fast path.

        Prompt caching, hypotheses + flip batched into one denoiser call, fused attention and
        inference mode are always on; this sets the rest.

        Args:
            precision: ``"bf16"`` samples with a bf16 copy of the denoiser whose weights are cast once
                (see the class docstring); ``"fp32"`` with the modules themselves; ``"auto"`` (default) bf16
                where this machine runs bf16 matmuls faster than fp32 (AVX512-BF16, AMX, GPUs), fp32
                elsewhere (an AVX2-only CPU, where bf16 is several times slower), see :mod:`posediff.precision`.
            compile: Run the sampling denoiser through ``torch.compile`` (compilation takes minutes on
                a small CPU, once per input shape; see ``docs/performance.md`` for whether it pays).
            fuse: With bf16 on CPU, swap oneDNN kernels with fused bias / GELU / residual add into the
                copy (:func:`posediff.nn.fused.fuse_for_inference`); with ``compile`` inductor fuses instead.
            block_rows: Cache blocking, rows per denoiser call (:attr:`block_rows`): ``"auto"`` (on CPU
                :meth:`cache_rows`), an int > 0, or 0 (off: all hypotheses and flip copies in one call).

        Returns:
            ``self``.
        """
        if precision not in PRECISIONS:
            raise InputError(f"precision must be one of {list(PRECISIONS)}; got {precision!r}")
        if block_rows != "auto" and (not isinstance(block_rows, int) or isinstance(block_rows, bool)
                                     or block_rows < 0):
            raise InputError(f"block_rows must be 'auto' or an integer >= 0; got {block_rows!r}")
        self.precision = precision
        self.block_rows = block_rows
        self.compile_sampling = bool(compile)
        self.fuse_kernels = bool(fuse)
        return self

    @property
    def effective_precision(self) -> str:
        """The precision sampling runs in on this machine: :attr:`precision` with ``"auto"`` resolved
        (:func:`posediff.precision.resolve_precision`; the probe runs once per process)."""
        return resolve_precision(self.precision, self.device)

    def _weights_stamp(self) -> tuple:
        params = list(self.backbone.parameters()) + list(self.sites.parameters())
        return tuple((p._version, p.data_ptr(), p.device, p.dtype) for p in params)

    def prepare_sampling(self) -> None:
        """Make now what sampling makes on its first call: the bf16 weight-cast (or compiled) copy of the
        denoiser, cached until a weight changes.

        Call it before sampling from several threads (``posediff evaluate --workers``), so the copy is made
        once and not by whichever thread comes first; with fp32 and no compilation there is nothing to make.
        """
        with torch.no_grad():
            self.sampling_runner()

    def sampling_runner(self) -> tuple[Callable[[Tensor, Tensor, Tensor, Conditioning], Tensor], bool]:
        """The function that runs one (chunk of a) denoiser batch while sampling, and whether it
        needs bf16 autocast around it.

        ``precision == "bf16"``: a bf16 copy of backbone and fusion sites whose weights are cast once
        (cached until any weight changes: optimizer steps, ``load_state_dict``, ``.to()``); the
        parts the backbone lists in ``keep_fp32`` stay fp32. Otherwise the modules themselves.
        """
        keep = self.backbone.keep_fp32
        bf16 = self.effective_precision == "bf16"
        cast = bf16 and keep is not None
        autocast = bf16 and not cast
        if not cast and not self.compile_sampling:
            return self.run_denoiser, autocast
        key = (cast, self.compile_sampling, self.fuse_kernels)
        stamp = self._weights_stamp()
        copies = self.__dict__.setdefault("_cast_copies", {})
        cached = copies.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1], autocast
        if cached is not None:  # stale: the weights changed
            del copies[key]
        if cast:
            backbone = bf16_inference_copy(self.backbone, keep)
            site_map = {at: bf16_inference_copy(site) for at, site in self.site_map.items()}
            if self.fuse_kernels and not self.compile_sampling:  # inductor does its own fusion
                from .nn.fused import fuse_for_inference

                fuse_for_inference(backbone)
                for site in site_map.values():
                    fuse_for_inference(site)
        else:
            backbone, site_map = self.backbone, self.site_map

        def run(x2d: Tensor, y_t: Tensor, t: Tensor, cond: Conditioning) -> Tensor:
            return backbone(x2d, y_t, t, cond, site_map)

        if self.compile_sampling:
            # freezing: weights become constants, so inductor pre-packs them for oneDNN and fuses epilogues
            run = torch.compile(run, dynamic=False, options={"freezing": True})
        copies[key] = (stamp, run, backbone, site_map)
        return run, autocast

    def cache_rows(self, dtype: torch.dtype = torch.float32, frames: Optional[int] = None) -> int:
        """Rows (clips × copies) per forward pass whose ``(rows, T, J, C)`` token stream in ``dtype``
        fits :data:`CACHE_BLOCK_BYTES` (at least 1); 0 if the backbone has no ``dim`` (unknown size).

        Sampling on CPU uses it with the sampling dtype (bf16 copy: bf16); ``posediff train`` on CPU
        uses it (fp32 residual stream) to split each step into gradient-accumulated micro-batches.
        """
        dim = self.backbone.dim
        if not isinstance(dim, int) or dim <= 0:
            return 0
        frames = self.frames if frames is None else int(frames)
        per_row = frames * self.skeleton.num_joints * dim * torch.empty((), dtype=dtype).element_size()
        return max(1, CACHE_BLOCK_BYTES // per_row)

    def _rows_per_call(self, clips: int, copies: int, dtype: torch.dtype) -> int:
        """Copies per denoiser call for ``clips`` clips of ``copies`` copies each."""
        caps = [self.max_rows] if self.max_rows > 0 else []
        block = self.block_rows
        if block == "auto":
            block = self.cache_rows(dtype) if self.device.type == "cpu" else 0
        if isinstance(block, int) and block > 0:
            caps.append(block)
        if not caps:
            return copies
        return max(1, min(copies, min(caps) // max(clips, 1)))

    def _denoise_copies(self, x2d: Tensor, y_t: Tensor, t: Tensor, cond: Conditioning,
                        run: Optional[Callable[..., Tensor]] = None,
                        dtype: torch.dtype = torch.float32) -> Tensor:
        """Denoise ``K`` copies per clip: x2d ``(B,K,T,J,2)``, y_t ``(B,K,T,J,3)``, t ``(B,K)``.

        Chunks along K so that at most ``max_rows`` rows go through the backbone at once, and on CPU
        at most the cache-blocked :attr:`block_rows` (``dtype``: the token stream's dtype).
        """
        run = self.run_denoiser if run is None else run
        b, k = y_t.shape[:2]
        step = self._rows_per_call(b, k, dtype)
        outs = []
        for k0 in range(0, k, step):
            k1 = min(k, k0 + step)
            kk = k1 - k0
            out = run(
                x2d[:, k0:k1].reshape(b * kk, *x2d.shape[2:]),
                y_t[:, k0:k1].reshape(b * kk, *y_t.shape[2:]),
                t[:, k0:k1].reshape(b * kk),
                cond,
            )
            outs.append(out.reshape(b, kk, *out.shape[1:]).float())
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)

    # ------------------------------------------------------------------ public API
    def denoise(self, x2d: Any, y_t: Any, t: Any, actions: Optional[Sequence[Optional[str]]] = None) -> Tensor:
        """One denoiser call: predict the clean pose x̂0.

        Args:
            x2d: ``(B, T, J, 2)`` normalised 2D keypoints.
            y_t: ``(B, T, J, 3)`` noisy pose (metres × scale), as the sampler feeds it (clamped).
            t: ``(B,)`` integer diffusion steps in ``[0, timesteps)``.
            actions: ``B`` action labels, or ``None`` (unknown action: neutral prompt).

        Returns:
            x̂0 ``(B, T, J, 3)``.
        """
        x = self._check_x2d(x2d)
        b = x.shape[0]
        y = as_tensor("y_t", y_t, device=self.device)
        check_shape("y_t", y, ("B", "T", "J", "3"), {"B": b, "T": x.shape[1], "J": x.shape[2]})
        check_finite("y_t", y)
        tt = as_tensor("t", t, dtype=None, device=self.device)
        if tt.dim() == 0:
            tt = tt.expand(b)
        check_shape("t", tt, ("B",), {"B": b})
        if tt.is_floating_point() and not bool((tt == tt.round()).all()):
            raise InputError(f"t must hold integer diffusion steps; got {tt.tolist()}")
        tt = tt.long()
        steps = int(self.sampler.schedule.timesteps)
        if bool((tt < 0).any()) or bool((tt >= steps).any()):
            raise InputError(f"t must lie in [0, {steps - 1}]; got {tt.tolist()}")
        cond = self.condition(actions, b)
        return self.run_denoiser(x, y, tt, cond)

    def sample(
        self,
        x2d: Any,
        actions: Optional[Sequence[Optional[str]]] = None,
        generator: Optional[torch.Generator] = None,
        hypotheses: Optional[int] = None,
        steps: Optional[int] = None,
        draws: Optional[Sequence[Tensor]] = None,
        flip: Optional[bool] = None,
    ) -> Tensor:
        """Run the sampler: the x̂0 of every step for every hypothesis.

        Args:
            x2d: ``(B, T, J, 2)`` normalised 2D keypoints.
            actions: ``B`` labels or ``None`` (neutral prompt). Never taken from test data.
            generator: ``torch.Generator`` for reproducible noise.
            hypotheses, steps, flip: This call's H, M and flip test-time augmentation (default: the model's,
                :attr:`sampling`; nothing is changed on the model).
            draws: Recorded noise to replay (parity tests).

        Returns:
            ``(B, M, H, T, J, 3)`` metres, root-relative, root joint set to 0.
        """
        x = self._check_x2d(x2d)
        b = x.shape[0]
        settings = self.settings_for(hypotheses=hypotheses, steps=steps, flip=flip)
        with torch.no_grad():
            cond = self.condition(actions, b)
            # bf16: a weight-cast copy (no autocast); backbones without keep_fp32 get autocast
            run, autocast = self.sampling_runner()
            stream = torch.bfloat16 if self.effective_precision == "bf16" else torch.float32

            def denoise(x2d_k: Tensor, y_k: Tensor, t_k: Tensor) -> Tensor:
                with torch.inference_mode(), (self._autocast() if autocast else contextlib.nullcontext()):
                    return self._denoise_copies(x2d_k, y_k, t_k, cond, run, dtype=stream)

            out = self.sampler.sample(
                denoise,
                x,
                settings=settings,
                flip_permutation=self.skeleton.flip_permutation,
                generator=generator,
                draws=draws,
            )
        out = out.clone()
        out[..., self.skeleton.root, :] = 0.0
        return out

    def settings_for(self, *, hypotheses: Optional[int] = None, steps: Optional[int] = None,
                     flip: Optional[bool] = None) -> SamplingSettings:
        """The loop settings of one call: :attr:`sampling` with the given values (``None`` keeps the model's).

        Raises:
            InputError: H or M below 1 or not an int, M above the schedule's timesteps, a flip that is not a bool
                (checked by :class:`~posediff.sampling.SamplingSettings`).
        """
        settings = self.sampling.replace(hypotheses=hypotheses, steps=steps, flip=flip)
        self.sampler.check_steps(settings.steps)
        return settings

    def lift(
        self,
        x2d: Any,
        actions: Optional[Sequence[Optional[str]]] = None,
        camera: Any = None,
        root: Any = None,
        generator: Optional[torch.Generator] = None,
        target: Any = None,
        hypotheses: Optional[int] = None,
        steps: Optional[int] = None,
        flip: Optional[bool] = None,
    ) -> Tensor:
        """Sample hypotheses and aggregate them into one pose per frame with the model's aggregator.

        Args:
            x2d: ``(B, T, J, 2)`` normalised 2D keypoints (T = the model's window).
            actions: ``B`` labels or ``None``.
            camera: Intrinsics ``(B, 9)`` or ``(9,)`` ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` in the
                2D's normalised units (JPMA needs it).
            root: Camera-space root trajectory ``(B, T, 1, 3)`` metres; JPMA estimates it from the
                2D when omitted. Pass the ground truth only to reproduce the paper protocol.
            generator: ``torch.Generator`` for reproducible noise.
            target: Ground truth ``(B, T, J, 3)``, used only by the oracle aggregator.
            hypotheses, steps, flip: This call's loop settings (default: the model's :attr:`sampling`).

        Returns:
            ``(B, T, J, 3)`` metres, root-relative.
        """
        return self.sample_and_aggregate(x2d, actions=actions, camera=camera, root=root, generator=generator,
                                         target=target, hypotheses=hypotheses, steps=steps, flip=flip)[0]

    def sample_and_aggregate(
        self,
        x2d: Any,
        aggregator: Optional[nn.Module] = None,
        *,
        actions: Optional[Sequence[Optional[str]]] = None,
        camera: Any = None,
        root: Any = None,
        target: Any = None,
        generator: Optional[torch.Generator] = None,
        hypotheses: Optional[int] = None,
        steps: Optional[int] = None,
        flip: Optional[bool] = None,
        draws: Optional[Sequence[Tensor]] = None,
    ) -> tuple[Tensor, Tensor]:
        """The one sample-and-aggregate path (:meth:`lift`, :func:`posediff.lift`, streaming): every input is
        checked before sampling, then :meth:`sample`, then :func:`aggregate_steps` at the aggregator's step.

        Args:
            x2d, actions, camera, root, target, generator, hypotheses, steps, flip: As :meth:`lift`.
            aggregator: A built aggregator (default: the model's own; any registered one, plugins included).
            draws: Recorded noise to replay (as :meth:`sample`).

        Returns:
            ``(poses (B, T, J, 3) with the root joint at 0, hypotheses (B, M, H, T, J, 3) of every step)``.

        Raises:
            InputError: bad shapes or values, or an input the aggregator ``needs`` missing (checked before
                sampling: a missing camera must not cost a sampling run).
        """
        agg = self.aggregator if aggregator is None else aggregator
        name = agg.registered_name() or type(agg).__name__
        x = self._check_x2d(x2d)
        b = x.shape[0]
        needs = set(agg.needs)
        kwargs: dict[str, Any] = {"x2d": x}
        if camera is not None:
            cam = as_tensor("camera", camera, device=self.device)
            if cam.dim() == 1:
                cam = cam.unsqueeze(0).expand(b, -1)
            check_shape("camera", cam, ("B", "9"), {"B": b})
            check_finite("camera", cam)
            kwargs["camera"] = cam
        elif "camera" in needs:
            raise InputError(
                f"camera must be given for aggregator {name!r}: expected intrinsics "
                "(B, 9) or (9,); got None (pass camera=..., or build with overrides={'aggregator.name': 'mean'})"
            )
        if root is not None:
            r = as_tensor("root", root, device=self.device)
            check_shape("root", r, ("B", "T", "1", "3"), {"B": b, "T": x.shape[1]})
            check_finite("root", r)
            kwargs["root"] = r
        if target is not None:
            tg = as_tensor("target", target, device=self.device)
            check_shape("target", tg, ("B", "T", "J", "3"), {"B": b, "T": x.shape[1], "J": x.shape[2]})
            kwargs["target"] = tg
        for need, shape in (("root", "(B, T, 1, 3)"), ("target", "(B, T, J, 3)")):
            if need in needs and need not in kwargs:
                raise InputError(f"{need} must be given for aggregator {name!r}: expected {shape}; got None")
        hyps = self.sample(x, actions=actions, generator=generator, hypotheses=hypotheses, steps=steps, flip=flip,
                           draws=draws)
        with torch.no_grad():
            out = aggregate_steps(agg, hyps, **kwargs)
        out = out.clone()
        out[..., self.skeleton.root, :] = 0.0
        return out, hyps

    def training_loss(
        self,
        x2d: Any,
        y3d: Any,
        actions: Optional[Sequence[Optional[str]]] = None,
        generator: Optional[torch.Generator] = None,
        step: Optional[int] = None,
    ) -> Tensor:
        """The official x0 objective: MPJPE between x̂0 and the root-zeroed target (reference §4.2).

        One ``t ~ U{0..T-1}`` per clip, ``y_t = clamp(√ᾱ·y + √(1-ᾱ)·ε)``, loss in metres.

        Args:
            x2d: ``(B, T, J, 2)``; y3d: ``(B, T, J, 3)`` metres (root set to 0 here).
            actions: One label per clip (``None``: the neutral prompt).
            generator: Source of the steps and the noise.
            step: Every clip at this diffusion step instead of ``t ~ U{0..T-1}``. ``T - 1`` (the training
                objective ``"regression"``) makes the denoiser a regressor of the 2D: its pose input is
                (almost) pure noise there, and one sampling step returns its prediction.

        Raises:
            InputError: ``step`` outside ``[0, T-1]``.
        """
        x = self._check_x2d(x2d)
        b = x.shape[0]
        y = as_tensor("y3d", y3d, device=self.device)
        check_shape("y3d", y, ("B", "T", "J", "3"), {"B": b, "T": x.shape[1], "J": x.shape[2]})
        check_finite("y3d", y)
        y = y.clone()
        y[..., self.skeleton.root, :] = 0.0
        steps = int(self.sampler.schedule.timesteps)
        if step is None:
            t = torch.randint(0, steps, (b,), generator=generator, device="cpu").to(self.device)
        else:
            if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < steps:
                raise InputError(f"step must be an int in [0, {steps - 1}] (the schedule's steps); got {step!r}")
            t = torch.full((b,), step, dtype=torch.long, device=self.device)
        noise = torch.randn(y.shape, generator=generator, device="cpu").to(self.device)
        y_t = self.sampler.add_noise(y, t, noise, clamp=self.sampling.clamp, scale=self.sampling.scale)
        cond = self.condition(actions, b)
        x0 = self.run_denoiser(x, y_t, t, cond)
        return torch.linalg.vector_norm(x0.float() - y, dim=-1).mean()
