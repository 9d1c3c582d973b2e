"""How to spend a machine's cores on training: one thread, two intra-op threads, two gloo processes, torch.compile.

Issue 19 item 3 asks which of the ways PyTorch offers to use both cores of this machine trains fastest, and
whether ``torch.compile`` helps the training step. Every mode runs the same full training step (forward,
backward, AdamW) of the same model on the same number of clips per optimizer step:

- ``threads1``: one process, one intra-op thread (what the campaign runs, one run per core);
- ``threads2``: one process, two intra-op threads;
- ``gloo2``: two processes with one thread each, half the clips each, gradients averaged by
  DistributedDataParallel over gloo (what ``torchrun --nproc_per_node 2 -m posediff train`` does);
- ``compile1``: one thread, the loss module wrapped in ``torch.compile`` (inductor); its compile time is
  reported separately, the step time is the steady state after it.

Each precision runs in fp32 and under bf16 autocast. The same run measures the fp32 and bf16 matmul peaks with
one and with two threads, so speeds are ratios measured in one run; each row also gives the step's matmul FLOP
rate as a fraction of the peak of as many threads as the mode keeps busy. Both cores must be otherwise idle (the
campaign's runs are paused with SIGSTOP while it measures; a paused process uses no CPU time)::

    python benchmarks/parallel_training.py --preset finepose-base-h36m --clips 16 \\
        --out benchmarks/results/parallel_training.json

Synthetic inputs of the right shapes are enough: the cost of a step does not depend on the data.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from pathlib import Path
from typing import Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import posediff  # noqa: E402
from measure import count_flops, machine_info, matmul_peak, median, save_result  # noqa: E402
from posediff.nn.attention import eager_attention  # noqa: E402
from posediff.training.validation import LossModule  # noqa: E402

MODES = ("threads1", "threads2", "gloo2", "compile1")


def _batch(clips: int, frames: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    x2d = torch.randn(clips, frames, 17, 2, generator=gen) * 0.2
    y3d = torch.randn(clips, frames, 17, 3, generator=gen) * 0.2
    return x2d, y3d, ["Walking"] * clips, gen


def _loss(module: torch.nn.Module, batch, precision: str) -> torch.Tensor:
    """The training loss of ``batch`` (metres), under bf16 autocast when ``precision`` is ``"bf16"``."""
    x2d, y3d, actions, gen = batch
    if precision == "bf16":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return module(x2d, y3d, actions, gen)
    return module(x2d, y3d, actions, gen)


def _timed_steps(module: torch.nn.Module, params: list, batch, precision: str, warmup: int, repeats: int,
                 sync=None) -> tuple[list[float], float]:
    """Run ``warmup`` then ``repeats`` optimizer steps; returns the step times (s) and the first step's time
    (which includes compilation for a compiled module)."""
    opt = torch.optim.AdamW(params, lr=1e-4)

    def one_step():
        opt.zero_grad(set_to_none=True)
        _loss(module, batch, precision).backward()
        opt.step()

    first = 0.0
    times: list[float] = []
    for i in range(warmup + repeats):
        if sync:
            sync()
        t0 = time.perf_counter()
        one_step()
        if sync:
            sync()
        dt = time.perf_counter() - t0
        if i == 0:
            first = dt
        if i >= warmup:
            times.append(dt)
    return times, first


def _build(preset: str, frames: int, overrides: dict) -> tuple[torch.nn.Module, list]:
    torch.manual_seed(0)
    lifter = posediff.build(preset, overrides={**overrides, "lifter.frames": frames})
    lifter.train()
    module = LossModule(lifter)
    return module, [p for p in module.parameters() if p.requires_grad]


def _one_process(preset: str, frames: int, clips: int, precision: str, mode: str, warmup: int, repeats: int,
                 overrides: dict) -> dict:
    torch.set_num_threads(2 if mode == "threads2" else 1)
    module, params = _build(preset, frames, overrides)
    if mode == "compile1":
        module = torch.compile(module)
    times, first = _timed_steps(module, params, _batch(clips, frames, 0), precision, warmup, repeats)
    return {"step_times_s": times, "first_step_s": first}


def _gloo_worker(rank: int, world: int, port: int, args: tuple, queue) -> None:
    preset, frames, clips, precision, warmup, repeats, overrides = args
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        module, _ = _build(preset, frames, overrides)
        ddp = DDP(module, find_unused_parameters=False)
        params = [p for p in ddp.parameters() if p.requires_grad]
        times, first = _timed_steps(ddp, params, _batch(clips // world, frames, rank), precision, warmup, repeats,
                                    sync=dist.barrier)
        if rank == 0:
            queue.put({"step_times_s": times, "first_step_s": first})
    finally:
        dist.destroy_process_group()


def _gloo(preset: str, frames: int, clips: int, precision: str, warmup: int, repeats: int, overrides: dict) -> dict:
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_gloo_worker, args=(r, 2, port, (preset, frames, clips, precision, warmup, repeats,
                                                                   overrides), queue)) for r in range(2)]
    for p in procs:
        p.start()
    import queue as queue_module

    out = None
    while out is None:
        try:
            out = queue.get(timeout=5)
        except queue_module.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):  # a worker died before reporting
                for p in procs:
                    p.kill()
                raise RuntimeError("a gloo worker failed: " + ", ".join(f"exit code {p.exitcode}" for p in procs))
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"a gloo worker exited with code {p.exitcode}")
    return out


def step_flops(preset: str, frames: int, clips: int, precision: str, overrides: Optional[dict] = None) -> int:
    """Matmul-type FLOPs of one forward + backward of ``clips`` clips (the same in every mode: the processes of
    ``gloo2`` share them), counted with explicit attention matmuls so the fused kernels are counted too."""
    module, _ = _build(preset, frames, overrides or {})
    batch = _batch(clips, frames, 0)
    with eager_attention():
        return count_flops(lambda: _loss(module, batch, precision).backward())


def measure_mode(preset: str, frames: int, clips: int, precision: str, mode: str, warmup: int, repeats: int,
                 overrides: Optional[dict] = None) -> dict:
    """One row: step time, clips/s and supervised frames/s of ``mode`` (see the module docstring)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    if clips < 2 and mode == "gloo2":
        raise ValueError("gloo2 splits the clips over two processes: give at least 2 clips")
    overrides = overrides or {}
    if mode == "gloo2":
        r = _gloo(preset, frames, clips, precision, warmup, repeats, overrides)
    else:
        r = _one_process(preset, frames, clips, precision, mode, warmup, repeats, overrides)
    t = median(r["step_times_s"])
    return {"mode": mode, "precision": precision, "frames": frames, "clips_per_step": clips, "step_s": t,
            "clips_per_s": clips / t, "frames_per_s": clips * frames / t, **r}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="finepose-base-h36m")
    ap.add_argument("--frames", type=int, default=0, help="clip length (default: the preset's)")
    ap.add_argument("--clips", type=int, default=16, help="clips per optimizer step (all processes together)")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            ap.error(f"--modes takes {', '.join(MODES)}; got {m!r}")
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    for p in precisions:
        if p not in ("fp32", "bf16"):
            ap.error(f"--precisions takes fp32 and bf16; got {p!r}")
    frames = args.frames or int(posediff.build(args.preset).frames)
    n = 256 if args.smoke else 2048
    peaks = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            peaks[f"{name}_threads{threads}"] = matmul_peak(dtype, n=n, repeats=3)["best_tflops"]
    rows = []
    for p in precisions:
        flops = step_flops(args.preset, frames, args.clips, p)
        for m in modes:
            r = measure_mode(args.preset, frames, args.clips, p, m, args.warmup, args.repeats)
            # the peak of as many threads as the mode keeps busy
            peak = peaks[f"{p}_threads{1 if m.endswith('1') else 2}"]
            r.update(step_flops=flops, tflops=flops / r["step_s"] / 1e12)
            r["fraction_of_peak"] = r["tflops"] / peak
            rows.append(r)
            extra = f"  (first step {r['first_step_s']:.1f} s)" if m == "compile1" else ""
            print(f"{p:4s} {m:9s} {r['step_s']:7.3f} s/step  {r['clips_per_s']:6.2f} clips/s  "
                  f"{r['frames_per_s']:7.1f} frames/s  {100 * r['fraction_of_peak']:5.1f} % of the peak{extra}", flush=True)
    speedups = {}
    for p in precisions:
        base = next((r for r in rows if r["precision"] == p and r["mode"] == "threads1"), None)
        if base:
            speedups[p] = {r["mode"]: r["frames_per_s"] / base["frames_per_s"] for r in rows if r["precision"] == p}
    res = {"benchmark": "parallel_training", "smoke": args.smoke, "preset": args.preset, "frames": frames,
           "clips_per_step": args.clips, "machine": machine_info(), "matmul_peak_tflops": peaks,
           "two_thread_matmul_scaling": {k: peaks[f"{k}_threads2"] / peaks[f"{k}_threads1"] for k in ("fp32", "bf16")},
           "speedup_over_threads1": speedups, "rows": rows,
           "command": "python benchmarks/parallel_training.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    for p, s in speedups.items():
        print(f"{p}: " + ", ".join(f"{k} {v:.2f}×" for k, v in s.items()) + " of one thread")
    return save_result(res, args.out)


if __name__ == "__main__":
    main()
