"""Measurement helpers for ``benchmarks/run.py``: wall time, peak resident memory, FLOPs, matmul peak."""
from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import torch

__all__ = ["PeakMemory", "timed", "median", "matmul_peak", "count_flops", "machine_info", "load_average",
           "select_device", "synchronize", "save_result"]


def select_device(name: str, prog: str = "benchmark") -> tuple[torch.device, list[str]]:
    """``--device`` → the device and notes: ``auto`` falls back to the CPU (noted) when CUDA is absent;
    ``cuda`` without CUDA ends the program with a message that says so."""
    from posediff.devices import pick_device
    from posediff.errors import InputError

    try:
        dev = pick_device(name)
    except InputError as exc:
        raise SystemExit(f"{prog}: {exc}") from None
    notes = []
    if name == "auto" and dev.type == "cpu":
        notes.append("--device auto: CUDA is not available here, measured on the CPU")
    return dev, notes


def synchronize(device: Optional[torch.device]) -> None:
    """Wait for ``device``'s queued work (CUDA kernels run asynchronously), so that wall times are complete."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def _status_kb(key: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _trim() -> None:
    gc.collect()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """Peak memory (MiB) inside a ``with`` block: on the CPU the resident set size of this process (Linux
    ``VmHWM``), on a CUDA ``device`` the memory torch allocated on it (``max_memory_allocated``).

    The CPU high-water mark is reset at entry (``/proc/self/clear_refs``), after returning freed heap to the
    OS, so earlier phases do not leak into the reading. ``peak_mb`` is the absolute peak (weights,
    interpreter and all) and ``delta_mb`` the growth over the reading at entry (activations, workspaces).
    Both are ``None`` where ``/proc`` is unavailable. ``kind`` says which memory was read.
    """

    def __init__(self, device: Optional[torch.device] = None) -> None:
        self.device = device if device is not None and device.type == "cuda" else None
        self.kind = "cuda allocated" if self.device is not None else "resident set (RSS)"
        self.peak_mb: Optional[float] = None
        self.start_mb: Optional[float] = None
        self.delta_mb: Optional[float] = None

    def __enter__(self) -> "PeakMemory":
        if self.device is not None:
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start_mb = torch.cuda.memory_allocated(self.device) / 2 ** 20
            return self
        _trim()
        with contextlib.suppress(OSError):
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        rss = _status_kb("VmRSS")
        self.start_mb = None if rss is None else rss / 1024
        return self

    def __exit__(self, *exc) -> None:
        if self.device is not None:
            synchronize(self.device)
            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / 2 ** 20
            self.delta_mb = self.peak_mb - self.start_mb
            return
        hwm = _status_kb("VmHWM")
        if hwm is not None:
            self.peak_mb = hwm / 1024
            if self.start_mb is not None:
                self.delta_mb = self.peak_mb - self.start_mb


@contextlib.contextmanager
def timed(out: list, device: Optional[torch.device] = None) -> Iterator[None]:
    """Append the wall time (s) of the block to ``out``; on a CUDA ``device`` the queued kernels are
    waited for at both ends, so the time is the block's whole work."""
    synchronize(device)
    t0 = time.perf_counter()
    yield
    synchronize(device)
    out.append(time.perf_counter() - t0)


def median(xs: list[float]) -> float:
    """Median of a non-empty list."""
    return float(statistics.median(xs))


def matmul_peak(dtype: torch.dtype, n: int = 4096, repeats: int = 5, device: Optional[torch.device] = None) -> dict:
    """Throughput of an ``n×n @ n×n`` matmul in TFLOP/s (``2n³`` FLOPs) on ``device`` (default the CPU):
    best and median of ``repeats``."""
    a = torch.randn(n, n).to(device=device, dtype=dtype)
    b = torch.randn(n, n).to(device=device, dtype=dtype)
    torch.mm(a, b)  # warm-up (oneDNN / MKL / cuBLAS kernel selection)
    ts: list[float] = []
    for _ in range(repeats):
        with timed(ts, device):
            torch.mm(a, b)
    flops = 2.0 * n ** 3
    return {"n": n, "best_tflops": flops / min(ts) / 1e12, "median_tflops": flops / median(ts) / 1e12,
            "times_s": ts}


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs (2·MACs, matmul-type ops) counted by ``torch.utils.flop_counter`` while ``fn()`` runs.

    Fused CPU attention kernels are not counted by torch's table, so count under
    :func:`posediff.nn.attention.eager_attention` (explicit matmuls) for a complete number.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (the platform's processor string where it has none)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    """CPU model, core count, torch threads and the bf16 / AMX instruction-set flags."""
    flags = _cpu_flags()
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "amx_tile": "amx_tile" in flags,
        "avx512_vnni": "avx512_vnni" in flags,
        "onednn_isa": _onednn_isa(),
    }


def _onednn_isa() -> str:
    """oneDNN's CPU ISA line and the kernel it picks for a bf16 matmul (from ``ONEDNN_VERBOSE``)."""
    import subprocess
    import sys

    code = "import torch; a=torch.randn(64,64).bfloat16(); torch.nn.functional.linear(a, a)"
    try:
        out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, ONEDNN_VERBOSE="1"),
                             capture_output=True, text=True, timeout=120).stdout
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"
    isa, kernel = "", ""
    for line in out.splitlines():
        if ",isa:" in line:
            isa = line.split("isa:", 1)[1].strip()
        elif ",exec," in line and ",matmul," in line:
            fields = line.split(",")
            kernel = fields[fields.index("matmul") + 1] if "matmul" in fields else ""
    return f"{isa}; bf16 matmul kernel: {kernel}" if isa or kernel else "unknown"


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (``os.getloadavg``), rounded."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def shared_dir() -> Optional[Path]:
    """``$POSEDIFF_SHARED`` or ``<repo>/../shared`` (the licensed data); None when absent."""
    p = Path(os.environ.get("POSEDIFF_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    return p if p.is_dir() else None


def save_result(res: dict, out: Optional[Path]) -> dict:
    """Write a benchmark's result dict as indented JSON to ``out`` (folders made) when given; returns ``res``."""
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1) + "\n")
    return res
