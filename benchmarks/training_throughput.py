"""Training throughput on this machine: supervised frames/s of one optimiser step, by clip length and precision.

MixSTE is sequence-to-sequence: every frame of a training clip is supervised, so the figure that decides how
long a context a CPU can afford is *supervised frames per second* of a full training step (forward, backward
and AdamW) at a fixed number of frames per step, for each clip length. Each configuration runs in fp32 and
under bf16 autocast, and the same run measures the machine's fp32 and bf16 matmul peaks, so every speed is
reported as a ratio measured in one run (never carried over from another machine)::

    OMP_NUM_THREADS=1 python benchmarks/training_throughput.py --preset finepose-small-h36m \\
        --frames 9,27,81 --frames-per-step 1296 --threads 1 --out benchmarks/results/training_throughput.json

Synthetic inputs of the right shapes are enough: the cost of a step does not depend on the data. The result
file holds the machine (CPU model and the bf16 / AMX flags), the peaks and one row per configuration:
clips/s, supervised frames/s, the step's matmul FLOP rate and its fraction of the precision's peak.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import posediff  # noqa: E402
from measure import save_result, count_flops, machine_info, matmul_peak, median  # noqa: E402
from posediff.nn.attention import eager_attention  # noqa: E402


def step_rate(preset: str, frames: int, clips: int, precision: str, repeats: int, warmup: int,
              overrides: Optional[dict] = None) -> dict:
    """Time ``repeats`` training steps of ``clips`` clips of ``frames`` frames (after ``warmup`` steps); ``overrides``
    are spec changes (e.g. ``{"lifter.dim": 256}``) applied to every configuration."""
    torch.manual_seed(0)
    lifter = posediff.build(preset, overrides={**(overrides or {}), "lifter.frames": frames})
    lifter.train()
    params = [p for p in lifter.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    x2d = torch.randn(clips, frames, 17, 2, generator=gen) * 0.2
    y3d = torch.randn(clips, frames, 17, 3, generator=gen) * 0.2
    actions = ["Walking"] * clips

    def loss_fn():
        if precision == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return lifter.training_loss(x2d, y3d, actions=actions, generator=gen)
        return lifter.training_loss(x2d, y3d, actions=actions, generator=gen)

    def one_step():
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()

    for _ in range(warmup):
        one_step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        one_step()
        times.append(time.perf_counter() - t0)
    with eager_attention():
        flops = count_flops(lambda: loss_fn().backward())
    opt.zero_grad(set_to_none=True)
    t = median(times)
    return {"frames": frames, "clips_per_step": clips, "precision": precision, "step_s": t,
            "trainable_parameters": sum(p.numel() for p in params),
            "step_times_s": times, "clips_per_s": clips / t, "frames_per_s": clips * frames / t,
            "step_flops": flops, "tflops": flops / t / 1e12}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="finepose-small-h36m")
    ap.add_argument("--frames", default="9,27,81", help="clip lengths, comma-separated")
    ap.add_argument("--frames-per-step", type=int, default=1296,
                    help="supervised frames per step; clips per step = this / frames (at least 1)")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="spec override for every configuration, e.g. lifter.dim=256 (repeatable; values read as JSON)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            ap.error(f"--set takes KEY=VALUE; got {item!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    frames_list = [int(f) for f in args.frames.split(",") if f.strip()]
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    for p in precisions:
        if p not in ("fp32", "bf16"):
            ap.error(f"--precisions takes fp32 and bf16; got {p!r}")
    n = 256 if args.smoke else 2048
    peaks = {"fp32": matmul_peak(torch.float32, n=n, repeats=3), "bf16": matmul_peak(torch.bfloat16, n=n, repeats=3)}
    rows = []
    for frames in frames_list:
        clips = max(1, args.frames_per_step // frames)
        for p in precisions:
            r = step_rate(args.preset, frames, clips, p, args.repeats, args.warmup, overrides)
            r["fraction_of_peak"] = r["tflops"] / peaks[p]["best_tflops"]
            rows.append(r)
            print(f"{frames:4d} frames × {clips:3d} clips  {p:4s}  {r['step_s']:7.3f} s/step  "
                  f"{r['frames_per_s']:8.1f} frames/s  {r['clips_per_s']:7.2f} clips/s  "
                  f"{100 * r['fraction_of_peak']:5.1f} % of the {p} peak", flush=True)
    ratios = {}
    for frames in frames_list:
        by = {r["precision"]: r for r in rows if r["frames"] == frames}
        if "fp32" in by and "bf16" in by:
            ratios[str(frames)] = by["bf16"]["frames_per_s"] / by["fp32"]["frames_per_s"]
    res = {
        "benchmark": "training_throughput", "smoke": args.smoke, "preset": args.preset, "overrides": overrides,
        "threads": args.threads, "frames_per_step": args.frames_per_step, "machine": machine_info(),
        "peaks": {k: {"best_tflops": v["best_tflops"], "n": v["n"]} for k, v in peaks.items()},
        "bf16_over_fp32_matmul_peak": peaks["bf16"]["best_tflops"] / peaks["fp32"]["best_tflops"],
        "bf16_over_fp32_training": ratios, "rows": rows,
        "command": "python benchmarks/training_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(f"bf16 / fp32: matmul peak {res['bf16_over_fp32_matmul_peak']:.2f}×, training "
          + ", ".join(f"{k} frames {v:.2f}×" for k, v in ratios.items()))
    return save_result(res, args.out)


if __name__ == "__main__":
    main()
