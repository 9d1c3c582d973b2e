#!/usr/bin/env python
"""Sweep the cache-blocking sizes behind ``CACHE_BLOCK_BYTES`` on this machine.

Times finepose-h36m (untrained preset weights; timing does not depend on them) with:

* sampling: one DDIM step of H hypotheses (2H rows with flip) for several rows-per-call values
  (``lifter.fast_sampling("bf16", block_rows=N)``; 0 = all rows in one call);
* training: one 4-clip bf16-autocast step split into micro-batches of 1, 2 and 4 clips.

Repeats are interleaved (every setting once per repeat) and the best time per setting is reported.
Usage::

    .venv/bin/python benchmarks/sweep_blocking.py                 # H=8, 2 repeats (~8 min on 2 cores)
    .venv/bin/python benchmarks/sweep_blocking.py --hypotheses 4 --repeats 1 --out /tmp/sweep.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402


def interleaved(fn, settings: list[int], repeats: int, label) -> dict[str, list[float]]:
    """Time ``fn(setting)`` for every setting once per repeat (after one untimed warm-up call)."""
    fn(settings[0])
    times: dict[str, list[float]] = {}
    for _ in range(repeats):
        for value in settings:
            t = time.perf_counter()
            fn(value)
            times.setdefault(str(value), []).append(time.perf_counter() - t)
            print(f"{label(value)}: {times[str(value)][-1]:.2f} s", flush=True)
    return times


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hypotheses", type=int, default=8)
    ap.add_argument("--rows", type=int, nargs="*", default=[2, 3, 4, 0])
    ap.add_argument("--micro", type=int, nargs="*", default=[1, 2, 4])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import posediff

        lifter = posediff.build("finepose-h36m").eval()
    x2d, y3d = bench.synthetic_clips(4, lifter.frames, bench.SEED)
    res: dict = {"hypotheses": args.hypotheses, "load_average": bench.load_average()}

    def sample(rows: int) -> None:
        lifter.fast_sampling("bf16", block_rows=rows)
        lifter.sample(x2d[:1], ["Walking"], generator=bench.gen(), hypotheses=args.hypotheses, steps=1)

    res["rows"] = interleaved(sample, args.rows, args.repeats, lambda r: f"sampling, {r or 'all'} rows per call")

    lifter.train()
    opt = torch.optim.AdamW([p for p in lifter.parameters() if p.requires_grad], lr=1e-5, fused=True)
    actions = (bench.ACTIONS * 4)[:4]

    def step(micro: int) -> None:
        bench.micro_batched_step(lifter, opt, x2d, y3d, actions, micro, bench.gen())

    res["micro"] = interleaved(step, args.micro, args.repeats, lambda m: f"training, {m} clip(s) per pass")
    res["best"] = {kind: {k: min(v) for k, v in res[kind].items()} for kind in ("rows", "micro")}
    res["cache_rows"] = {"bf16": lifter.cache_rows(torch.bfloat16), "fp32": lifter.cache_rows(torch.float32)}
    print(json.dumps(res["best"]), "cache_rows", res["cache_rows"])
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
