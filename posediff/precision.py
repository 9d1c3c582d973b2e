"""Choosing bf16 or fp32 by what this machine does, not by assumption: the ``"auto"`` precision.

bf16 is a large speed-up on CPUs with bf16 matrix units and a large slow-down on those without:

=========================================  ===================================  =================
CPU kind (seen on this project's machines)  bf16 matmul rate / fp32 (one run)    ``auto`` picks
=========================================  ===================================  =================
AMD EPYC, AVX2 only (Zen 3)                 ≈ 0.12× (bf16 emulated: 9× slower)   fp32
AMD EPYC with AVX512-BF16                   ≈ 2.3×                                bf16
Intel Xeon with AMX                         ≈ 5.6×                                bf16
=========================================  ===================================  =================

:func:`bf16_speedup` measures the ratio once per process and device with a short probe (fp32 and bf16
``linear`` calls of the shapes a small MixSTE runs, the best of a few repeats; about 0.1 s on an AVX2 CPU);
:func:`resolve_precision` turns ``"auto"`` into ``"bf16"`` where bf16 is measured at least
:data:`AUTO_BF16_MIN_SPEEDUP` times faster and into ``"fp32"`` elsewhere, and warns once when ``"bf16"`` is
asked for explicitly on a machine where it is slower. On CUDA, ``auto`` takes bf16 where the GPU supports it.
The environment variable ``POSEDIFF_BF16_SPEEDUP`` (a number) replaces the probe, for tests and for machines
where the probe would be disturbed.
"""
from __future__ import annotations

import os
import time
import warnings
from typing import Optional

import torch

from .errors import InputError

__all__ = ["PRECISIONS", "AUTO_BF16_MIN_SPEEDUP", "bf16_speedup", "resolve_precision", "describe_precision",
           "autocast_dtype_for"]

PRECISIONS = ("auto", "fp32", "bf16")
"""Precisions a caller may ask for."""

AUTO_BF16_MIN_SPEEDUP = 1.2
"""``auto`` takes bf16 when its measured matmul rate is at least this many times fp32's. The kinds of CPU
seen so far are far from it on both sides (0.12× and 2.3× or more), so a probe disturbed by another process
does not flip the choice."""

_CACHE: dict[str, float] = {}
_WARNED: set[str] = set()


def _probe_cpu(repeats: int = 3) -> float:
    """bf16 / fp32 throughput of ``linear`` at a small model's shapes on this CPU (higher = bf16 faster)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 128, generator=gen)
    w = torch.randn(512, 128, generator=gen)
    best = {}
    with torch.inference_mode():
        for dtype in (torch.float32, torch.bfloat16):
            a, b = x.to(dtype), w.to(dtype)
            torch.nn.functional.linear(a, b)  # kernel selection, packing
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                for _ in range(4):
                    torch.nn.functional.linear(a, b)
                times.append(time.perf_counter() - t0)
            best[dtype] = min(times)
    return best[torch.float32] / max(best[torch.bfloat16], 1e-12)


def bf16_speedup(device: Optional[torch.device | str] = None) -> float:
    """How many times faster a bf16 matmul runs than an fp32 one on ``device`` (default the CPU).

    Measured once per process and device type (cached); ``POSEDIFF_BF16_SPEEDUP`` overrides the probe. On
    CUDA: 2.0 where ``torch.cuda.is_bf16_supported()``, else 0.5 (no probe).
    """
    env = os.environ.get("POSEDIFF_BF16_SPEEDUP")
    if env:
        try:
            value = float(env)
        except ValueError:
            raise InputError(f"POSEDIFF_BF16_SPEEDUP must be a number (bf16 / fp32 matmul rate); got {env!r}") from None
        if not value > 0:
            raise InputError(f"POSEDIFF_BF16_SPEEDUP must be > 0; got {env!r}")
        return value
    kind = torch.device(device).type if device is not None else "cpu"
    if kind not in _CACHE:
        if kind == "cuda":
            _CACHE[kind] = 2.0 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else 0.5
        else:
            _CACHE[kind] = _probe_cpu()
    return _CACHE[kind]


def resolve_precision(precision: str, device: Optional[torch.device | str] = None, *, warn: bool = True) -> str:
    """The precision to run: ``"fp32"`` or ``"bf16"``.

    Args:
        precision: ``"auto"`` (bf16 where measured faster, see the module docstring), ``"fp32"`` or ``"bf16"``.
        device: Where the computation runs (default the CPU).
        warn: Warn once per process when ``"bf16"`` is asked for where it is measured slower than fp32.

    Raises:
        InputError: another value.
    """
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {list(PRECISIONS)}; got {precision!r}")
    if precision == "fp32":
        return "fp32"
    speedup = bf16_speedup(device)
    if precision == "auto":
        return "bf16" if speedup >= AUTO_BF16_MIN_SPEEDUP else "fp32"
    if warn and speedup < 1.0 and "bf16" not in _WARNED:
        _WARNED.add("bf16")
        warnings.warn(f"bf16 asked for, but on this CPU a bf16 matmul runs at {speedup:.2f}× the fp32 rate (no "
                      "AVX512-BF16 or AMX): fp32 is faster here; use precision 'auto' or 'fp32'", stacklevel=2)
    return "bf16"


def describe_precision(precision: str, device: Optional[torch.device | str] = None) -> str:
    """One line for logs and reports, e.g. ``"bf16 (auto: bf16 matmul measured 2.31× fp32 on this CPU)"``."""
    used = resolve_precision(precision, device, warn=False)
    if precision != "auto":
        return used
    where = "GPU" if device is not None and torch.device(device).type == "cuda" else "CPU"
    return f"{used} (auto: bf16 matmul measured {bf16_speedup(device):.2f}× fp32 on this {where})"


def autocast_dtype_for(amp: str, device: Optional[torch.device | str] = None) -> Optional[torch.dtype]:
    """The autocast dtype of a training ``amp`` setting: ``"none"`` → None, ``"bf16"``, ``"fp16"``, or
    ``"auto"`` → bf16 where :func:`resolve_precision` picks it, else None (fp32)."""
    if amp == "none":
        return None
    if amp == "fp16":
        return torch.float16
    if amp == "auto":
        return torch.bfloat16 if resolve_precision("auto", device) == "bf16" else None
    if amp == "bf16":
        resolve_precision("bf16", device)  # warns where bf16 is slower
        return torch.bfloat16
    raise InputError(f"amp must be 'auto', 'none', 'bf16' or 'fp16'; got {amp!r}")
