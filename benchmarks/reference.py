"""The official FinePOSE execution pattern, run with posediff's modules and weights (reference path).

What the official code does per DDIM step (reference §4.3–§4.5), and what this module reproduces:

* fp32 everywhere, ``torch.no_grad()`` (not inference mode);
* the prompt branch (frozen CLIP text tower + the 4-layer text adapter + LayerNorm + P[L]) is
  recomputed at **every** denoiser call: the conditioner's caches are switched off;
* the flip branch is a **separate** denoiser call: one call over the H original hypotheses, one over
  the H mirrored ones (2·M calls per clip), each batched over the H hypotheses as the official does;
* attention is the explicit ``softmax(q·kᵀ·s)·v`` with the logits materialised
  (:func:`posediff.nn.attention.eager_attention`), not a fused kernel.

It computes the same function as posediff's fast path: both use the same sampler arithmetic (DDIM with
η = 1, clamps, float64 ε) and, with the same ``torch.Generator`` seed, the same noise draws, so their
outputs differ only by floating-point rounding (fp32 vs bf16, kernel order).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import torch
from torch import Tensor

from posediff.interfaces import Conditioning
from posediff.nn.attention import eager_attention

__all__ = ["official_pattern", "reference_sample", "reference_training_loss", "Variant", "variant_sample"]


@contextlib.contextmanager
def official_pattern(lifter) -> Iterator[None]:
    """Inside the block the lifter runs like the official code: no prompt caches, eager attention, fp32.

    Restores the conditioner's ``cache`` flag and the lifter's precision on exit.
    """
    cond = lifter.conditioner
    had_cache = getattr(cond, "cache", None)
    precision, compiled = lifter.precision, lifter.compile_sampling
    try:
        if had_cache is not None:
            cond.cache = False
            if hasattr(cond, "clear_cache"):
                cond.clear_cache()
        lifter.precision, lifter.compile_sampling = "fp32", False
        with eager_attention():
            yield
    finally:
        if had_cache is not None:
            cond.cache = had_cache
        lifter.precision, lifter.compile_sampling = precision, compiled


def reference_sample(
    lifter,
    x2d: Tensor,
    actions: Optional[Sequence[Optional[str]]] = None,
    *,
    generator: Optional[torch.Generator] = None,
    hypotheses: Optional[int] = None,
    steps: Optional[int] = None,
    draws: Optional[Sequence[Tensor]] = None,
    calls: Optional[list] = None,
    flip: Optional[bool] = None,
) -> Tensor:
    """Sample with the official execution pattern (see the module docstring); ``hypotheses``, ``steps`` and
    ``flip`` are this call's loop settings (default: the model's ``sampling``).

    Args:
        lifter: A built :class:`posediff.lifter.PoseLifter` (its sampler must be DDIM with flip).
        x2d: ``(B, T, J, 2)`` normalised 2D keypoints.
        actions: ``B`` labels or ``None``.
        generator: Noise generator; the same seed as the fast path gives the same draws.
        hypotheses, steps: Call-time H and M.
        draws: Recorded noise to replay instead of ``generator``.
        calls: Optional list; one entry ``(rows, "orig"|"flip")`` is appended per denoiser call.

    Returns:
        ``(B, M, H, T, J, 3)`` metres, root joint 0 — the layout of ``lifter.sample``.
    """
    x2d = torch.as_tensor(x2d, dtype=torch.float32)
    b = x2d.shape[0]
    labels = lifter.check_actions(actions, b)
    settings = lifter.settings_for(hypotheses=hypotheses, steps=steps, flip=flip)

    def denoise(x2d_k: Tensor, y_k: Tensor, t_k: Tensor) -> Tensor:
        # the sampler hands over K = 2H copies (H original, then H mirrored); the official code makes
        # one denoiser call per branch, each recomputing the prompt branch
        k = y_k.shape[1]
        halves = ((0, k // 2, "orig"), (k // 2, k, "flip")) if settings.flip else ((0, k, "orig"),)
        outs = []
        for k0, k1, tag in halves:
            cond: Conditioning = lifter.conditioner(labels, b)   # text branch, every call (cache off)
            kk = k1 - k0
            # Official: x_2d[:, None].repeat(1, h, 1, 1, 1), i.e. materialised per hypothesis
            out = lifter.backbone(
                x2d_k[:, k0:k1].contiguous().reshape(b * kk, *x2d_k.shape[2:]),
                y_k[:, k0:k1].reshape(b * kk, *y_k.shape[2:]),
                t_k[:, k0:k1].reshape(b * kk),
                cond,
                lifter.site_map,
            )
            if calls is not None:
                calls.append((b * kk, tag))
            outs.append(out.reshape(b, kk, *out.shape[1:]))
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)

    with official_pattern(lifter), torch.no_grad():
        out = lifter.sampler.sample(
            denoise,
            x2d,
            settings=settings,
            flip_permutation=lifter.skeleton.flip_permutation,
            generator=generator,
            draws=draws,
        )
    out = out.clone()
    out[..., lifter.skeleton.root, :] = 0.0
    return out


def reference_training_loss(lifter, x2d: Tensor, y3d: Tensor, actions=None,
                            generator: Optional[torch.Generator] = None) -> Tensor:
    """``lifter.training_loss`` with the official pattern (fp32, eager attention, prompt branch every step).

    In training the prompt branch is recomputed every step anyway when its modifiers train; the
    difference to the fast path is precision and the attention kernel. Call ``backward`` inside the
    same ``with official_pattern(lifter):`` block so that the backward pass is eager too.
    """
    return lifter.training_loss(x2d, y3d, actions=actions, generator=generator)


@dataclass(frozen=True)
class Variant:
    """One point of the lever ablation (each lever on or off), run by :func:`variant_sample`.

    Attributes:
        name: Label in the results table.
        cache: Prompt features computed once and reused (else recomputed at every denoiser call).
        batch_flip: Hypotheses and the flip branch in one denoiser call (else two calls per step).
        sdpa: Fused attention kernel (else explicit softmax(QKᵀ)V).
        precision: ``"fp32"``, ``"autocast"`` (bf16 autocast around each call) or ``"bf16"``
            (bf16 weights cast once, :meth:`PoseLifter.fast_sampling`).
        inference_mode: ``torch.inference_mode`` around the denoiser (else ``no_grad``).
        compile: ``torch.compile`` the denoiser (only with ``precision="bf16"``, via the lifter).
        fuse: fused oneDNN Linear epilogues in the bf16 copy (only with ``precision="bf16"``).
        block_rows: Cache blocking: at most this many rows per denoiser call (``"auto"``:
            ``lifter.cache_rows`` for the stream dtype; 0: one call for all rows of a branch).
    """

    name: str
    cache: bool = True
    batch_flip: bool = True
    sdpa: bool = True
    precision: str = "bf16"
    inference_mode: bool = True
    compile: bool = False
    fuse: bool = True
    block_rows: int | str = 0


def variant_sample(lifter, x2d: Tensor, actions=None, *, variant: Variant, generator=None,
                   hypotheses: Optional[int] = None, steps: Optional[int] = None) -> Tensor:
    """Sample with an arbitrary combination of the levers (same sampler arithmetic and draws).

    Returns:
        ``(B, M, H, T, J, 3)`` like ``lifter.sample``.
    """
    x2d = torch.as_tensor(x2d, dtype=torch.float32)
    b = x2d.shape[0]
    settings = lifter.settings_for(hypotheses=hypotheses, steps=steps)
    labels = lifter.check_actions(actions, b)
    cond_mod = lifter.conditioner
    had_cache = getattr(cond_mod, "cache", None)
    precision, compiled, fused = lifter.precision, lifter.compile_sampling, lifter.fuse_kernels
    try:
        if had_cache is not None:
            cond_mod.cache = variant.cache
            if not variant.cache:
                cond_mod.clear_cache()
        if variant.precision == "bf16":
            lifter.fast_sampling("bf16", compile=variant.compile, fuse=variant.fuse)
            run, _ = lifter.sampling_runner()
        else:
            lifter.precision, lifter.compile_sampling = "fp32", False
            run = lifter.run_denoiser
        cached = lifter.conditioner(labels, b) if variant.cache else None
        amp = (torch.autocast(x2d.device.type, dtype=torch.bfloat16) if variant.precision == "autocast"
               else contextlib.nullcontext())
        grad_ctx = torch.inference_mode if variant.inference_mode else torch.no_grad

        block = variant.block_rows
        if block == "auto":
            block = lifter.cache_rows(torch.float32 if variant.precision == "fp32" else torch.bfloat16)

        def one_call(x2d_k, y_k, t_k):
            cond = cached if cached is not None else lifter.conditioner(labels, b)
            k = y_k.shape[1]
            step = k if not block else max(1, min(k, block // b))
            outs = []
            for k0 in range(0, k, step):
                kk = min(k, k0 + step) - k0
                sl = slice(k0, k0 + kk)
                with grad_ctx(), amp:
                    out = run(x2d_k[:, sl].reshape(b * kk, *x2d_k.shape[2:]),
                              y_k[:, sl].reshape(b * kk, *y_k.shape[2:]), t_k[:, sl].reshape(b * kk), cond)
                outs.append(out.float().reshape(b, kk, *out.shape[1:]))
            return torch.cat(outs, dim=1) if len(outs) > 1 else outs[0]

        def denoise(x2d_k, y_k, t_k):
            k = y_k.shape[1]
            if variant.batch_flip or not settings.flip:
                return one_call(x2d_k, y_k, t_k)
            h = k // 2
            return torch.cat((one_call(x2d_k[:, :h], y_k[:, :h], t_k[:, :h]),
                              one_call(x2d_k[:, h:], y_k[:, h:], t_k[:, h:])), dim=1)

        with eager_attention(not variant.sdpa), torch.no_grad():
            out = lifter.sampler.sample(denoise, x2d, settings=settings,
                                        flip_permutation=lifter.skeleton.flip_permutation, generator=generator)
    finally:
        if had_cache is not None:
            cond_mod.cache = had_cache
        lifter.precision, lifter.compile_sampling, lifter.fuse_kernels = precision, compiled, fused
    out = out.clone()
    out[..., lifter.skeleton.root, :] = 0.0
    return out
