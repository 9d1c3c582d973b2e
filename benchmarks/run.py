#!/usr/bin/env python
"""posediff benchmarks: FinePOSE sampling and training, posediff's fast path vs the official execution pattern.

One run, one machine, one process: matmul peaks, sampling throughput and peak memory, training step time,
FLOP efficiency, and the accuracy cost of the fast path on real MPI-INF-3DHP TS5/TS6 frames. Writes
``<out>/latest.json`` and ``<out>/latest.md``. See ``docs/performance.md`` for what each number means.

Usage::

    .venv/bin/python benchmarks/run.py                 # full benchmark (tens of minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --levers        # plus the per-lever ablation
    .venv/bin/python benchmarks/run.py --smoke --out /tmp/bench   # tiny sizes, correctness only (CI)

Paths compared (same weights, same noise draws, same sampler arithmetic):

* reference: the official execution pattern (``benchmarks/reference.py``): fp32, ``no_grad``, prompt branch
  (CLIP tower + text adapter) recomputed at every denoiser call, flip branch as a separate denoiser call,
  explicit softmax(QKᵀ)V attention, hypotheses batched per branch like the official.
* fast: ``lifter.fast_sampling("bf16", compile=...)`` then ``lifter.sample``: prompt features cached,
  H hypotheses + H flipped copies in one denoiser batch, fused SDPA, bf16 weights cast once (input stage,
  head, prompt branch and sampler arithmetic fp32), inference mode, optional ``torch.compile``.
"""
from __future__ import annotations

import argparse
import copy
import json
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import posediff  # noqa: E402
from posediff.geometry.skeletons import convert_joints  # noqa: E402

from measure import (PeakMemory, count_flops, load_average, machine_info, matmul_peak, median,  # noqa: E402
                     select_device, shared_dir, timed)
from reference import Variant, official_pattern, reference_sample, variant_sample  # noqa: E402

ACTIONS = ["Walking", "Eating", "Phoning", "SittingDown"]
SEED = 1234
DEVICE = torch.device("cpu")
"""Where the models sample and train (``--device``); noise is drawn on the CPU, so both paths and both devices
get the same draws."""


# ----------------------------------------------------------------------------------------------- setup
def find_checkpoint(preset: str) -> Optional[Path]:
    """A trained checkpoint for ``preset`` under ``<repo>/runs`` (newest ``best.pt``), if any."""
    runs = REPO / "runs"
    if not runs.is_dir():
        return None
    found = []
    for ckpt in runs.glob("*/checkpoints/best.pt"):
        spec = ckpt.parent.parent / "spec.toml"
        name = ""
        if spec.is_file():
            for line in spec.read_text().splitlines():
                if line.strip().startswith("name") and "=" in line:
                    name = line.split("=", 1)[1].strip().strip('"')
                    break
        if name == preset:
            found.append(ckpt)
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _run_summary(ckpt: Path) -> str:
    """`` (N steps, M min)`` from the run's summary.json, if there is one."""
    summary = ckpt.parent.parent / "summary.json"
    try:
        d = json.loads(summary.read_text())
        best = f" at step {d['best_step']}" if d.get("best_step") else ""
        return (f" (best validation checkpoint{best} of a {d['step']}-step run of 4-clip steps, "
                f"{d['total_wall_s'] / 60:.0f} min of CPU training)")
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def build_model(name: str, smoke: bool) -> tuple[Any, str]:
    """The lifter for a benchmark row (on :data:`DEVICE`) and a description of its weights."""
    lifter, weights = _build_model(name, smoke)
    return lifter.to(DEVICE), weights


def _build_model(name: str, smoke: bool) -> tuple[Any, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ckpt = None if smoke else find_checkpoint(name)
        if ckpt is not None:
            from posediff.loading import load

            return load(ckpt), f"trained checkpoint {ckpt.relative_to(REPO)}{_run_summary(ckpt)}"
        if name == "finepose-tiny":
            return posediff.build("finepose-tiny"), "preset initialisation (untrained)"
        if smoke:
            raise SystemExit("--smoke runs finepose-tiny only")
        return posediff.build(name), (
            "preset initialisation: UNTRAINED (no finepose-h36m weights exist; CLIP text tower random, seeded). "
            "Output deltas measure numerical drift of the fast path, not accuracy of a trained model.")


def windows_3dhp(frames: int, limit: Optional[int]) -> Optional[dict]:
    """Non-overlapping ``frames``-long windows of 3DHP TS5/TS6 in the h36m-17 joint order."""
    root = shared_dir()
    if root is None or not (root / "data" / "mpi_inf_3dhp_test").is_dir():
        return None
    from posediff.data.mpi_inf_3dhp import load_3dhp_test_dir

    ds = load_3dhp_test_dir(root / "data" / "mpi_inf_3dhp_test", ["TS5", "TS6"])
    x2d, x3d, valid, cams, names = [], [], [], [], []
    per_seq = None if limit is None else max(1, limit // 2)
    for seq in ds:
        n = seq.x2d.shape[0] // frames
        for i in range(n if per_seq is None else min(n, per_seq)):
            sl = slice(i * frames, (i + 1) * frames)
            x2d.append(convert_joints(seq.x2d[sl], seq.skeleton, "h36m-17"))
            x3d.append(convert_joints(seq.x3d[sl], seq.skeleton, "h36m-17"))
            valid.append(seq.valid[sl] if seq.valid is not None else np.ones(frames, bool))
            cams.append(seq.camera)
            names.append(f"{seq.subject}[{sl.start}:{sl.stop}]")
    if not x2d:
        return None
    return {"x2d": torch.tensor(np.stack(x2d), dtype=torch.float32),
            "x3d": torch.tensor(np.stack(x3d), dtype=torch.float32),
            "valid": torch.tensor(np.stack(valid)), "camera": torch.tensor(np.stack(cams), dtype=torch.float32),
            "names": names}


def synthetic_clips(b: int, frames: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random but plausible-scale inputs (normalised 2D, metres) for timing only."""
    g = torch.Generator().manual_seed(seed)
    x2d = torch.randn(b, frames, 17, 2, generator=g) * 0.3
    y3d = torch.randn(b, frames, 17, 3, generator=g) * 0.25
    y3d[..., 0, :] = 0
    return x2d, y3d


def gen(seed: int = SEED) -> torch.Generator:
    """A fresh CPU generator (identical draws for both paths)."""
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------------------------- sampling
def fast_sample(lifter, x2d, actions, *, compile: bool, hypotheses=None, steps=None, seed=SEED):
    """posediff's fast path through the public API."""
    lifter.fast_sampling("bf16", compile=compile)
    return lifter.sample(x2d, actions, generator=gen(seed), hypotheses=hypotheses, steps=steps)


def ref_sample(lifter, x2d, actions, *, hypotheses=None, steps=None, seed=SEED):
    """The official execution pattern."""
    return reference_sample(lifter, x2d, actions, generator=gen(seed), hypotheses=hypotheses, steps=steps)


def flops_per_clip(lifter, x2d, actions, h: int, m: int, flip: bool) -> dict:
    """FLOPs of the reference and the fast path per clip (counted with explicit attention matmuls).

    One denoiser row (one hypothesis) and the prompt branch are counted separately:
    reference = M·(2H·row + 2·prompt) with flip (M·(H·row + prompt) without), fast = M·(2H·row)
    (prompt computed once per distinct prompt and cached; not charged per clip).
    """
    b = x2d.shape[0]
    with official_pattern(lifter), torch.no_grad():
        labels = lifter.check_actions(actions, b)
        prompt = count_flops(lambda: lifter.conditioner(labels, b))
        cond = lifter.conditioner(labels, b)
        y = torch.zeros(b, *x2d.shape[1:3], 3)
        t = torch.full((b,), 500, dtype=torch.long)
        one = count_flops(lambda: lifter.backbone(x2d, y, t, cond, lifter.site_map))
        two = count_flops(lambda: lifter.backbone(x2d.repeat(2, 1, 1, 1), y.repeat(2, 1, 1, 1),
                                                  t.repeat(2), cond, lifter.site_map))
    row = (two - one) / b           # per hypothesis row
    per_call_fixed = one - row * b  # K/V of the prompt tokens, timestep MLP: per call, not per row
    copies = 2 if flip else 1
    ref = m * copies * (h * b * row + per_call_fixed + prompt)
    fast = m * (copies * h * b * row + per_call_fixed)
    return {"row_gflops": row / 1e9, "prompt_gflops": prompt / 1e9, "per_call_fixed_gflops": per_call_fixed / 1e9,
            "reference_tflops_per_clip": ref / b / 1e12, "fast_tflops_per_clip": fast / b / 1e12}


def bench_sampling(name: str, lifter, args, machine: dict, log) -> dict:
    """Throughput, peak memory, FLOP efficiency and accuracy of both paths for one model."""
    spec = lifter.spec["sampler"]
    h, m, flip = int(spec["hypotheses"]), int(spec["steps"]), bool(spec["flip"])
    frames = lifter.frames
    timed_steps = None if args.full else args.timed_steps
    steps_run = m if timed_steps is None else timed_steps
    x2d, _ = synthetic_clips(args.batch, frames, SEED)
    data = windows_3dhp(frames, None)
    if data is not None:  # time on real frames when available (the cost does not depend on the values)
        x2d = data["x2d"][: args.batch]
    x2d = x2d.to(DEVICE)
    actions = ACTIONS[: args.batch] if args.batch <= len(ACTIONS) else None
    compile_ = args.compile == "on"
    res: dict[str, Any] = {"frames": frames, "hypotheses": h, "steps": m, "flip": flip, "batch": args.batch,
                           "timed_steps_per_run": steps_run, "repeats": args.repeats, "compile": compile_,
                           "max_rows": lifter.max_rows}
    res["timing_note"] = ("full runs (all M steps) timed" if timed_steps is None else
                          f"each timed run is {steps_run} complete DDIM step(s) (all denoiser calls of the step "
                          f"+ sampler update; every step costs the same); per-clip time = M x per-step time")

    if not args.smoke:
        log(f"[{name}] warm-up (fast path builds its bf16 copy{', compiles' if compile_ else ''}; caches prompts)")
        t0 = time.perf_counter()
        fast_sample(lifter, x2d, actions, compile=compile_, steps=timed_steps)
        res["fast_warmup_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref_sample(lifter, x2d, actions, steps=timed_steps)
        res["reference_warmup_s"] = time.perf_counter() - t0

    ref_t: list[float] = []
    fast_t: list[float] = []
    ref_mem = fast_mem = None
    for r in range(args.repeats):  # interleaved, so load drift hits both paths alike
        with PeakMemory(DEVICE) as pm, timed(ref_t, DEVICE):
            ref_sample(lifter, x2d, actions, steps=timed_steps)
        ref_mem = pm if ref_mem is None or (pm.peak_mb or 0) > (ref_mem.peak_mb or 0) else ref_mem
        with PeakMemory(DEVICE) as pm, timed(fast_t, DEVICE):
            fast_sample(lifter, x2d, actions, compile=compile_, steps=timed_steps)
        fast_mem = pm if fast_mem is None or (pm.peak_mb or 0) > (fast_mem.peak_mb or 0) else fast_mem
        log(f"[{name}] repeat {r + 1}/{args.repeats}: reference {ref_t[-1]:.2f}s fast {fast_t[-1]:.2f}s "
            f"({steps_run} step(s)); load {load_average()}")
    chunked = []
    for max_rows in ([] if args.smoke else args.chunk_rows):  # bounded memory: hypotheses in chunks
        saved = lifter.max_rows
        lifter.max_rows = max_rows
        try:
            fast_sample(lifter, x2d, actions, compile=compile_, steps=timed_steps)  # warm-up at this shape
            ts: list[float] = []
            peak = 0.0
            for _ in range(args.repeats):
                with PeakMemory(DEVICE) as pm, timed(ts, DEVICE):
                    fast_sample(lifter, x2d, actions, compile=compile_, steps=timed_steps)
                peak = max(peak, pm.peak_mb or 0.0)
        finally:
            lifter.max_rows = saved
        chunked.append({"max_rows": max_rows, "step_s": median(ts) / steps_run, "runs_s": ts, "peak_mem_mb": peak,
                        "fps": frames / (median(ts) / steps_run * m / args.batch)})
        log(f"[{name}] fast path with max_rows={max_rows}: {median(ts) / steps_run:.2f}s/step, peak {peak:.0f} MB")
    res["chunked"] = chunked
    clip_frames = frames * args.batch
    ref_clip = median(ref_t) / steps_run * m / args.batch
    fast_clip = median(fast_t) / steps_run * m / args.batch
    res.update({
        "reference_run_s": ref_t, "fast_run_s": fast_t,
        "reference_step_s": median(ref_t) / steps_run, "fast_step_s": median(fast_t) / steps_run,
        "reference_clip_s": ref_clip, "fast_clip_s": fast_clip,
        "reference_fps": frames / ref_clip, "fast_fps": frames / fast_clip,
        "ratio": ref_clip / fast_clip,
        "ratio_of_best_runs": min(ref_t) / min(fast_t),
        "peak_mem_mb": fast_mem.peak_mb, "peak_mem_delta_mb": fast_mem.delta_mb,
        "reference_peak_mem_mb": ref_mem.peak_mb, "reference_peak_mem_delta_mb": ref_mem.delta_mb,
        "output_frames_per_run": clip_frames,
    })
    if not args.smoke:
        log(f"[{name}] counting FLOPs")
        fl = flops_per_clip(lifter, x2d[:1], actions[:1] if actions else None, h, m, flip)
        fl["reference_tflops_achieved"] = fl["reference_tflops_per_clip"] / ref_clip
        fl["fast_tflops_achieved"] = fl["fast_tflops_per_clip"] / fast_clip
        fl["reference_fraction_of_fp32_peak"] = fl["reference_tflops_achieved"] / machine["fp32_tflops"]
        fl["fast_fraction_of_bf16_peak"] = fl["fast_tflops_achieved"] / machine["bf16_tflops"]
        # roofline bound: the ratio if the fast path ran every FLOP at the measured bf16 matmul peak
        fl["ratio_bound_at_bf16_peak"] = ref_clip / (fl["fast_tflops_per_clip"] / machine["bf16_tflops"])
        res["flops"] = fl
    res["accuracy"] = bench_accuracy(name, lifter, args, data, log)
    acc = res["accuracy"]
    res["max_abs_diff_m"] = acc.get("max_abs_diff_m")
    res["mpjpe_delta_mm"] = acc.get("mpjpe_delta_mm")
    return res


def _mpjpe_mm(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> float:
    err = torch.linalg.vector_norm(pred - gt, dim=-1).mean(-1)  # (B, T)
    return float(err[valid].mean() * 1000)


def bench_accuracy(name: str, lifter, args, data: Optional[dict], log) -> dict:
    """Max |fast − reference| over every output, and the MPJPE change on real 3DHP frames."""
    spec = lifter.spec["sampler"]
    h = args.acc_hypotheses if (args.acc_hypotheses and name != "finepose-tiny") else int(spec["hypotheses"])
    limit = args.acc_windows if name != "finepose-tiny" else None
    if args.smoke:
        h, limit = 2, 2
    if data is None:
        x2d, gt = synthetic_clips(2, lifter.frames, SEED + 1)
        data = {"x2d": x2d, "x3d": gt, "valid": torch.ones(2, lifter.frames, dtype=torch.bool), "camera": None,
                "names": ["synthetic"] * 2}
        source = "synthetic (3DHP test data not found)"
    else:
        source = "MPI-INF-3DHP TS5/TS6 (annot_data.mat), joints converted 3dhp-17 -> h36m-17"
    if limit is not None:
        data = {k: v[:limit] for k, v in data.items()}
    x2d = data["x2d"]
    log(f"[{name}] accuracy: {x2d.shape[0]} window(s), H={h}, M={spec['steps']}")
    steps = 1 if args.smoke else None
    x_dev = x2d.to(DEVICE)
    ref = ref_sample(lifter, x_dev, None, hypotheses=h, steps=steps, seed=SEED + 7).cpu()
    fast = fast_sample(lifter, x_dev, None, compile=args.compile == "on", hypotheses=h, steps=steps,
                       seed=SEED + 7).cpu()
    out: dict[str, Any] = {"data": source, "windows": data["names"], "hypotheses": h,
                           "steps": int(spec["steps"]) if steps is None else steps,
                           "max_abs_diff_m": float((fast - ref).abs().max()),
                           "mean_abs_diff_m": float((fast - ref).abs().mean())}
    gt, valid = data["x3d"], data["valid"]
    out["mpjpe_reference_mean_mm"] = _mpjpe_mm(ref[:, -1].mean(1), gt, valid)
    out["mpjpe_fast_mean_mm"] = _mpjpe_mm(fast[:, -1].mean(1), gt, valid)
    out["mpjpe_delta_mean_mm"] = out["mpjpe_fast_mean_mm"] - out["mpjpe_reference_mean_mm"]
    agg = lifter.spec["aggregator"]["name"]
    aggregator = copy.deepcopy(lifter.aggregator).cpu()  # scores on the CPU in the sampled precision
    kwargs = {"x2d": x2d}
    if data.get("camera") is not None:
        kwargs["camera"] = data["camera"]
    try:
        with torch.no_grad():
            a_ref = aggregator(ref[:, -1], **kwargs)
            a_fast = aggregator(fast[:, -1], **kwargs)
        a_ref[..., 0, :] = 0
        a_fast[..., 0, :] = 0
        out["aggregator"] = agg
        out["mpjpe_reference_mm"] = _mpjpe_mm(a_ref, gt, valid)
        out["mpjpe_fast_mm"] = _mpjpe_mm(a_fast, gt, valid)
    except Exception as exc:  # noqa: BLE001 - an aggregator that needs more than 2D + camera
        out["aggregator"] = f"mean (the preset's {agg!r} failed: {exc})"
        out["mpjpe_reference_mm"] = out["mpjpe_reference_mean_mm"]
        out["mpjpe_fast_mm"] = out["mpjpe_fast_mean_mm"]
    out["mpjpe_delta_mm"] = out["mpjpe_fast_mm"] - out["mpjpe_reference_mm"]
    # noise floor: the same (fast) path with other noise draws; a |delta| below this spread is sampling noise
    other = fast_sample(lifter, x_dev, None, compile=args.compile == "on", hypotheses=h, steps=steps,
                        seed=SEED + 8).cpu()
    try:
        with torch.no_grad():
            a_other = aggregator(other[:, -1], **kwargs)
        a_other[..., 0, :] = 0
        out["mpjpe_fast_other_seed_mm"] = _mpjpe_mm(a_other, gt, valid)
    except Exception:  # noqa: BLE001 - same fallback as above
        out["mpjpe_fast_other_seed_mm"] = _mpjpe_mm(other[:, -1].mean(1), gt, valid)
    out["mpjpe_seed_spread_mm"] = abs(out["mpjpe_fast_other_seed_mm"] - out["mpjpe_fast_mm"])
    out["note"] = ("same weights, same noise draws (same generator seed), last DDIM step; MPJPE root-relative "
                   "over valid frames")
    return out


# ----------------------------------------------------------------------------------------------- training
def micro_batched_step(model, opt, x2d: torch.Tensor, y3d: torch.Tensor, actions: list, micro: int,
                       generator: torch.Generator) -> float:
    """One bf16-autocast optimizer step over ``len(x2d)`` clips in micro-batches of ``micro`` clips,
    gradients accumulated with clip-count weights (the loss of one pass over all clips); returns the loss."""
    b = x2d.shape[0]
    total = 0.0
    for i in range(0, b, micro):
        sl = slice(i, min(b, i + micro))
        with torch.autocast(x2d.device.type, dtype=torch.bfloat16):
            loss = model.training_loss(x2d[sl], y3d[sl], actions[sl], generator=generator)
        weight = (sl.stop - sl.start) / b
        (loss * weight).backward()
        total += float(loss.detach()) * weight
    opt.step()
    opt.zero_grad(set_to_none=True)
    return total


def bench_training(name: str, args, log) -> dict:
    """One optimisation step (4 clips, forward + backward + AdamW), reference vs fast, medians of repeats."""
    lifter, weights = build_model(name, args.smoke)
    frames = lifter.frames
    b = 2 if args.smoke else args.train_clips
    x2d, y3d = synthetic_clips(b, frames, SEED + 3)
    x2d, y3d = x2d.to(DEVICE), y3d.to(DEVICE)
    actions = (ACTIONS * 4)[:b]
    ref_model = lifter.train()
    fast_model = copy.deepcopy(lifter).train()
    # Official: torch.optim.AdamW with defaults on CPU (for-loop implementation), weight decay 0.1
    ref_opt = torch.optim.AdamW([p for p in ref_model.parameters() if p.requires_grad], lr=1e-5, weight_decay=0.1)
    fast_opt = torch.optim.AdamW([p for p in fast_model.parameters() if p.requires_grad], lr=1e-5,
                                 weight_decay=0.1, fused=True)

    def ref_step(seed: int) -> float:
        with official_pattern(ref_model):
            loss = ref_model.training_loss(x2d, y3d, actions, generator=gen(seed))
            loss.backward()
        ref_opt.step()
        ref_opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    # posediff train's micro_batch=auto on CPU: cache-sized micro-batches, gradients accumulated
    micro = max(1, fast_model.cache_rows(torch.float32)) if DEVICE.type == "cpu" else b  # CUDA: one pass

    def fast_step(seed: int) -> float:
        return micro_batched_step(fast_model, fast_opt, x2d, y3d, actions, micro, gen(seed))

    l_ref = l_fast = None
    if not args.smoke:
        log(f"[{name}] training warm-up")
        l_ref, l_fast = ref_step(SEED), fast_step(SEED)
    ref_t: list[float] = []
    fast_t: list[float] = []
    ref_mem = fast_mem = None
    for r in range(args.repeats if not args.smoke else 1):
        with PeakMemory(DEVICE) as pm, timed(ref_t, DEVICE):
            ref_step(SEED + r + 1)
        ref_mem = pm
        with PeakMemory(DEVICE) as pm2, timed(fast_t, DEVICE):
            fast_step(SEED + r + 1)
        fast_mem = pm2
        log(f"[{name}] train repeat {r + 1}: reference {ref_t[-1]:.2f}s fast {fast_t[-1]:.2f}s; load {load_average()}")
    return {"clips": b, "frames": frames, "weights": weights,
            "reference_step_s": median(ref_t), "fast_step_s": median(fast_t),
            "ratio": median(ref_t) / median(fast_t), "reference_runs_s": ref_t, "fast_runs_s": fast_t,
            "ratio_of_best_runs": min(ref_t) / min(fast_t),
            "first_loss_reference": l_ref, "first_loss_fast": l_fast,
            "reference_peak_mem_mb": ref_mem.peak_mb if ref_mem else None,
            "fast_peak_mem_mb": fast_mem.peak_mb if fast_mem else None,
            "reference": "fp32, eager attention, prompt branch every step, AdamW (for-loop)",
            "micro_batch": micro,
            "device": str(DEVICE),
            "fast": f"bf16 autocast forward, explicit bf16 attention (faster than the CPU flash kernel's backward), "
                    f"micro-batches of {micro} clip(s) with gradient accumulation (posediff train's "
                    f"micro_batch=auto: cache-sized on the CPU, one pass on CUDA), AdamW(fused=True)"}


# ----------------------------------------------------------------------------------------------- levers
def bench_levers(name: str, lifter, args, log) -> list[dict]:
    """Cumulative ablation: each lever switched on in turn, one DDIM step per timed run.

    The variants are timed round-robin (every repeat times each variant once), so a load change on a
    shared machine hits all of them alike; medians are reported.
    """
    h = args.levers_hypotheses or int(lifter.spec["sampler"]["hypotheses"])
    x2d = windows_3dhp(lifter.frames, 1)
    x2d = (x2d["x2d"][:1] if x2d is not None else synthetic_clips(1, lifter.frames, SEED)[0]).to(DEVICE)
    actions = ACTIONS[:1]
    variants = [
        Variant("official pattern (reference)", cache=False, batch_flip=False, sdpa=False, precision="fp32",
                inference_mode=False),
        Variant("+ prompt features cached", cache=True, batch_flip=False, sdpa=False, precision="fp32",
                inference_mode=False),
        Variant("+ hypotheses and flip in one batch", cache=True, batch_flip=True, sdpa=False, precision="fp32",
                inference_mode=False),
        Variant("+ fused SDPA attention", cache=True, batch_flip=True, sdpa=True, precision="fp32",
                inference_mode=False),
        Variant("+ inference mode", cache=True, batch_flip=True, sdpa=True, precision="fp32"),
        Variant("+ bf16 autocast", cache=True, batch_flip=True, sdpa=True, precision="autocast"),
        Variant("bf16 weights cast once (instead of autocast)", precision="bf16", fuse=False),
        Variant("+ fused oneDNN epilogues (bias, GELU, residual add)", precision="bf16"),
        Variant(f"+ cache blocking ({lifter.cache_rows(torch.bfloat16)} rows per call) = fast path",
                precision="bf16", block_rows="auto"),
    ]
    if args.compile in ("on", "levers"):
        variants.append(Variant("fast path with torch.compile (inductor, freezing) instead of the fused kernels",
                                precision="bf16", compile=True, block_rows="auto"))
    runs: list[tuple[str, Variant]] = [(v.name, v) for v in variants]

    def run_one(item: Variant) -> torch.Tensor:
        return variant_sample(lifter, x2d, actions, variant=item, generator=gen(), hypotheses=h, steps=1)

    warm: dict[str, float] = {}
    for label, item in runs:  # builds the weight-cast copies, compiles; fp32 variants need no warm-up
        if item.precision == "bf16":
            t0 = time.perf_counter()
            run_one(item)
            warm[label] = time.perf_counter() - t0
    times: dict[str, list[float]] = {label: [] for label, _ in runs}
    peaks: dict[str, float] = {}
    outs: dict[str, torch.Tensor] = {}
    for r in range(args.levers_repeats):
        for label, item in runs:
            with PeakMemory(DEVICE) as pm, timed(times[label], DEVICE):
                outs[label] = run_one(item)
            peaks[label] = max(peaks.get(label, 0.0), pm.peak_mb or 0.0)
        log(f"[{name}] levers repeat {r + 1}/{args.levers_repeats}: "
            + ", ".join(f"{t[-1]:.1f}" for t in times.values()) + f" s; load {load_average()}")
    ref_out = outs[runs[0][0]]
    rows = []
    for i, (label, item) in enumerate(runs):
        row = {"lever": label, "step_s": median(times[label]), "runs_s": times[label], "peak_mem_mb": peaks[label],
               "max_abs_diff_m": float((outs[label] - ref_out).abs().max()),
               "variant": item.__dict__}
        if label in warm:
            row["warmup_s"] = warm[label]
        rows.append(row)
    base = rows[0]["step_s"]
    for i, row in enumerate(rows):
        row["speedup_vs_reference"] = base / row["step_s"]
        row["speedup_vs_previous"] = rows[i - 1]["step_s"] / row["step_s"] if i else 1.0
    return rows


# ----------------------------------------------------------------------------------------------- report
def fmt(x: Any, nd: int = 2) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if x != 0 and (abs(x) < 10 ** -nd or abs(x) >= 1e5):
            return f"{x:.2e}"
        return f"{x:.{nd}f}"
    return str(x)


def markdown(res: dict) -> str:
    """The results as Markdown tables."""
    mc = res["machine"]
    lines = [f"# posediff benchmark results{' (SMOKE: tiny sizes, not a measurement)' if res['smoke'] else ''}", "",
             f"Command: `{res['command']}`  ", f"Date: {res['date']}  ",
             f"Machine: {mc['cpu']}, {mc['logical_cpus']} logical CPUs, torch {mc['torch']} with "
             f"{mc['torch_threads']} threads; AVX512-BF16 {mc['avx512_bf16']}, AMX {mc['amx_bf16']}; "
             f"oneDNN: {mc['onednn_isa']}  ",
             f"Device: {mc.get('device_name', mc.get('device', 'cpu'))} ({res.get('device', 'cpu')})"
             + "".join(f"; {n}" for n in res.get("device_notes", [])) + "  ",
             f"Load average (1/5/15 min) at start {res['load_average']['start']}, end {res['load_average']['end']}  ",
             f"Matmul peak ({mc['matmul_n']}×{mc['matmul_n']}): fp32 **{fmt(mc['fp32_tflops'], 3)} TFLOP/s**, "
             f"bf16 **{fmt(mc['bf16_tflops'], 3)} TFLOP/s** (best of {mc['matmul_repeats']}; ratio "
             f"{fmt(mc['bf16_tflops'] / mc['fp32_tflops'])}×)", "", "## Sampling", "",
             "| model | H×M, flip | reference fps | fast fps | ratio | ref s/clip | fast s/clip | fast peak MB | "
             "ref peak MB | max abs diff (m) | MPJPE ref → fast (mm) | Δ MPJPE (mm) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in res["sampling"].items():
        acc = s.get("accuracy", {})
        lines.append(
            f"| {name} | {s['hypotheses']}×{s['steps']}, {'yes' if s['flip'] else 'no'} | {fmt(s['reference_fps'], 3)} | "
            f"{fmt(s['fast_fps'], 3)} | **{fmt(s['ratio'])}×** | {fmt(s['reference_clip_s'], 1)} | "
            f"{fmt(s['fast_clip_s'], 1)} | {fmt(s['peak_mem_mb'], 0)} | {fmt(s['reference_peak_mem_mb'], 0)} | "
            f"{fmt(s['max_abs_diff_m'], 4)} | {fmt(acc.get('mpjpe_reference_mm'), 2)} → "
            f"{fmt(acc.get('mpjpe_fast_mm'), 2)} | {fmt(s['mpjpe_delta_mm'], 3)} |")
    lines.append("")
    for name, s in res["sampling"].items():
        lines.append(f"- **{name}**: weights: {s['weights']}. {s['timing_note']}. Runs (s): reference "
                     f"{[round(x, 2) for x in s['reference_run_s']]}, fast {[round(x, 2) for x in s['fast_run_s']]}; "
                     f"medians used (ratio of the best runs {fmt(s['ratio_of_best_runs'])}×). Accuracy: {s['accuracy']['data']}, {len(s['accuracy']['windows'])} window(s), "
                     f"H={s['accuracy']['hypotheses']}, M={s['accuracy']['steps']}, aggregator "
                     f"{s['accuracy'].get('aggregator')}; Δ MPJPE of the hypothesis mean "
                     f"{fmt(s['accuracy']['mpjpe_delta_mean_mm'], 3)} mm; noise floor (same fast path, other "
                     f"noise draws): {fmt(s['accuracy'].get('mpjpe_seed_spread_mm'), 3)} mm.")
        for c in s.get("chunked", []):
            lines.append(f"  Fast path with hypotheses in chunks of max_rows={c['max_rows']} denoiser rows: "
                         f"{fmt(c['fps'], 3)} fps, peak {fmt(c['peak_mem_mb'], 0)} MB.")
        fl = s.get("flops")
        if fl:
            lines.append(f"  FLOPs per clip: reference {fmt(fl['reference_tflops_per_clip'], 1)} TFLOP, fast "
                         f"{fmt(fl['fast_tflops_per_clip'], 1)} TFLOP (one hypothesis row "
                         f"{fmt(fl['row_gflops'], 1)} GFLOP, prompt branch {fmt(fl['prompt_gflops'], 2)} GFLOP). "
                         f"Achieved: reference {fmt(fl['reference_tflops_achieved'], 3)} TFLOP/s "
                         f"({fmt(100 * fl['reference_fraction_of_fp32_peak'], 0)}% of fp32 peak), fast "
                         f"{fmt(fl['fast_tflops_achieved'], 3)} TFLOP/s "
                         f"({fmt(100 * fl['fast_fraction_of_bf16_peak'], 0)}% of bf16 peak). Even at 100% of the "
                         f"bf16 peak the fast path could be at most {fmt(fl['ratio_bound_at_bf16_peak'])}× faster "
                         f"than this reference on this machine.")
    if res.get("training"):
        lines += ["", "## Training step (forward + backward + AdamW)", "",
                  "| model | clips × frames | reference s/step | fast s/step | ratio | ref peak MB | fast peak MB |",
                  "|---|---|---|---|---|---|---|"]
        for name, t in res["training"].items():
            lines.append(f"| {name} | {t['clips']} × {t['frames']} | {fmt(t['reference_step_s'])} | "
                         f"{fmt(t['fast_step_s'])} | **{fmt(t['ratio'])}×** | {fmt(t['reference_peak_mem_mb'], 0)} | "
                         f"{fmt(t['fast_peak_mem_mb'], 0)} |")
        lines += ["", "Reference: " + next(iter(res["training"].values()))["reference"] + ". Fast: "
                  + next(iter(res["training"].values()))["fast"] + ". Runs (s):"]
        for name, t in res["training"].items():
            lines.append(f"- {name}: reference {[round(x, 2) for x in t['reference_runs_s']]}, fast "
                         f"{[round(x, 2) for x in t['fast_runs_s']]} (ratio of the best runs "
                         f"{fmt(t['ratio_of_best_runs'])}×); fast micro-batch {t.get('micro_batch', '–')} "
                         f"clip(s); weights: {t['weights']}")
    if res.get("levers"):
        for name, rows in res["levers"].items():
            lines += ["", f"## Levers ({name}, one DDIM step, H={res['levers_hypotheses'][name]}, cumulative, "
                      "timed round-robin, medians)", "",
                      "| lever | s/step | × vs reference | × vs previous row | peak MB | max abs diff vs reference (m) |",
                      "|---|---|---|---|---|---|"]
            for r in rows:
                lines.append(f"| {r['lever']} | {fmt(r['step_s'])} | {fmt(r['speedup_vs_reference'])} | "
                             f"{fmt(r.get('speedup_vs_previous'))} | {fmt(r['peak_mem_mb'], 0)} | "
                             f"{fmt(r.get('max_abs_diff_m'), 4)} |")
    tg = res.get("targets")
    if tg:
        lines += ["", "## Targets", ""] + [f"- {k}: {'met' if v['met'] else 'NOT met'} ({v['detail']})"
                                           for k, v in tg.items()]
    return "\n".join(lines) + "\n"


def targets(res: dict) -> dict:
    """The issue's targets, evaluated on this run."""
    out = {}
    s = res["sampling"].get("finepose-h36m")
    if s:
        out["sampling >= 8x (finepose-h36m)"] = {"met": s["ratio"] >= 8, "detail": f"{s['ratio']:.2f}x"}
        d = s.get("mpjpe_delta_mm")
        spread = s.get("accuracy", {}).get("mpjpe_seed_spread_mm")
        out["MPJPE change <= 0.5 mm"] = {
            "met": d is not None and abs(d) <= 0.5,
            "detail": f"{d:+.3f} mm (finepose-h36m, "
                      + (f"trained weights, far from converged: {s['accuracy']['mpjpe_reference_mm']:.0f} mm MPJPE"
                         if s.get("weights", "").startswith("trained") and s.get("accuracy", {}).get("mpjpe_reference_mm")
                         else "untrained weights")
                      + "; noise floor from other noise draws "
                      f"{spread if spread is None else round(spread, 3)} mm)"}
    t = res.get("training", {}).get("finepose-h36m")
    if t:
        out["training step >= 3x (finepose-h36m)"] = {"met": t["ratio"] >= 3, "detail": f"{t['ratio']:.2f}x"}
    tiny = res["sampling"].get("finepose-tiny")
    if tiny and tiny.get("mpjpe_delta_mm") is not None:
        trained = "trained" if tiny.get("weights", "").startswith("trained") else "untrained"
        spread = tiny.get("accuracy", {}).get("mpjpe_seed_spread_mm")
        out[f"MPJPE change <= 0.5 mm (finepose-tiny, {trained})"] = {
            "met": abs(tiny["mpjpe_delta_mm"]) <= 0.5,
            "detail": f"{tiny['mpjpe_delta_mm']:+.3f} mm (noise floor {spread if spread is None else round(spread, 3)} mm)"}
    return out


# ----------------------------------------------------------------------------------------------- docs
TEMPLATE = HERE / "performance_template.md"
DOCS_PAGE = REPO / "docs" / "performance.md"


def _num(x: Any, nd: int = 2, signed: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:+.{nd}f}" if signed else f"{x:.{nd}f}"


def docs_values(res: dict) -> dict[str, str]:
    """Every ``__NAME__`` placeholder of ``performance_template.md``, filled from one results dict."""
    mc = res["machine"]
    h36 = res["sampling"].get("finepose-h36m", {})
    tiny = res["sampling"].get("finepose-tiny", {})
    th36 = res.get("training", {}).get("finepose-h36m", {})
    fl = h36.get("flops", {})
    acc, tacc = h36.get("accuracy", {}), tiny.get("accuracy", {})
    chunk = (h36.get("chunked") or [{}])[0]
    tg = {k: {**v, "detail": f"{v['detail']}; {mc['cpu']}, {res.get('date', '')[:10]}"}
          for k, v in res.get("targets", {}).items()}
    sa, st = res.get("speed_accuracy") or {}, res.get("streaming") or {}
    if sa.get("best_equal_accuracy", {}).get("config"):
        b, cpu = sa["best_equal_accuracy"], sa["machine"]["cpu"]
        c = b["config"]
        tg["equal-accuracy speed-up >= 10x (finepose-small-h36m)"] = {
            "met": b["ratio"] >= 10,
            "detail": f"{b['ratio']:.0f}x at {b['mpjpe_delta_mm']:+.2f} mm: {c['sampler']}, H={c['hypotheses']}, "
                      f"M={c['steps']}, flip {'on' if c['flip'] else 'off'}, {c['aggregator']}; {cpu}"}
    if st.get("runs"):
        tg["streaming >= 30 frames/s within 2 mm of offline"] = {
            "met": st["fps"] >= 30 and abs(st["mpjpe_delta_mm"]) <= 2,
            "detail": f"{st['fps']:.0f} frames/s, {st['mpjpe_delta_mm']:+.2f} mm, latency {st['latency_frames']:.1f} "
                      f"frames ({st['headline']})"}
    met = sum(1 for v in tg.values() if v["met"])
    text = [f"    - {k}: **{'met' if v['met'] else 'NOT met'}** ({v['detail']})" for k, v in tg.items()]
    if h36 and h36.get("ratio", 0) < 8 and fl:
        text += ["", f"    The sampling gap does not come from a missing lever. The CPU has no AMX: its bf16 "
                 f"matmul peak is only **{mc['bf16_tflops'] / mc['fp32_tflops']:.2f}×** its fp32 peak, and the "
                 f"official pattern already runs its matmuls at "
                 f"{100 * fl['reference_fraction_of_fp32_peak']:.0f}% of the fp32 peak, so even a fast path "
                 f"running every FLOP at 100% of the bf16 peak could be at most "
                 f"**{fl['ratio_bound_at_bf16_peak']:.2f}×** faster ([why](#why-not-8-on-this-machine)). "
                 + (f"finepose-h36m has no trained weights, so its MPJPE change measures the drift of "
                    f"untrained outputs ({_num(acc.get('mpjpe_reference_mm'), 0)} mm MPJPE)."
                    if not h36.get("weights", "").startswith("trained") else
                    f"The finepose-h36m weights are a {h36['weights']}, far from converged (MPJPE "
                    f"{_num(acc.get('mpjpe_reference_mm'), 0)} mm on these frames), so its MPJPE change says "
                    f"little about a fully trained model.")]
    levers = []
    for rows in res.get("levers", {}).values():
        for r in rows:
            levers.append(f"* **{r['lever']}**: {fmt(r['step_s'])} s per step, "
                          f"{fmt(r['speedup_vs_reference'])}× the reference, {fmt(r.get('speedup_vs_previous'))}× "
                          f"the previous row, peak {fmt(r['peak_mem_mb'], 0)} MB, max abs diff "
                          f"{fmt(r.get('max_abs_diff_m'), 4)} m.")
    tables = markdown(res).split("\n")[1:]  # drop the title
    tables = "\n".join(("#" + line) if line.startswith("## ") else line for line in tables).strip()
    ref_mm = acc.get("mpjpe_reference_mm")
    d = h36.get("mpjpe_delta_mm")
    from speed_accuracy import markdown as speed_accuracy_markdown

    return {
        "SPEED_ACCURACY": speed_accuracy_markdown(res.get("speed_accuracy") or {}, res.get("streaming")),
        "OTHER_MACHINES": other_machines(),
        "TARGETS_HEADLINE": f"{met} of {len(tg)} met",
        "TARGETS_TEXT": "\n".join(text),
        "TABLES": tables,
        "LEVERS": "\n".join(levers) or "(the lever table was not part of this run)",
        "RATIO": _num(h36.get("ratio")), "TRATIO": _num(th36.get("ratio")),
        "TREF": _num(th36.get("reference_step_s"), 1), "TFAST": _num(th36.get("fast_step_s"), 1),
        "PEAKR": _num(mc["bf16_tflops"] / mc["fp32_tflops"]),
        "FP32": _num(mc["fp32_tflops"], 3), "BF16": _num(mc["bf16_tflops"], 3),
        "REFEFF": _num(100 * fl["reference_fraction_of_fp32_peak"], 0) if fl else "–",
        "FASTEFF": _num(100 * fl["fast_fraction_of_bf16_peak"], 0) if fl else "–",
        "BOUND": _num(fl.get("ratio_bound_at_bf16_peak")),
        "TINYDELTA": _num(tiny.get("mpjpe_delta_mm"), 2, signed=True),
        "TINYMAX": _num(tiny.get("max_abs_diff_m"), 4),
        "TINYMEAN": _num(tacc.get("mpjpe_delta_mean_mm"), 2, signed=True),
        "TINYSPREAD": _num(tacc.get("mpjpe_seed_spread_mm"), 2),
        "H36DELTA": _num(d, 2, signed=True), "H36MAX": _num(h36.get("max_abs_diff_m"), 4),
        "H36REL": _num(100 * abs(d) / ref_mm, 2) if d is not None and ref_mm else "–",
        "H36SPREAD": _num(acc.get("mpjpe_seed_spread_mm"), 2),
        "FASTMEM": _num(h36.get("peak_mem_mb"), 0), "REFMEM": _num(h36.get("reference_peak_mem_mb"), 0),
        "CHUNKMEM": _num(chunk.get("peak_mem_mb"), 0), "CHUNKFPS": _num(chunk.get("fps"), 3),
        "CHUNKROWS": str(chunk.get("max_rows", "–")), "FASTFPS": _num(h36.get("fast_fps"), 3),
        "H36WEIGHTS": (h36.get("weights", "–").rstrip(".") + "."),
        "H36REFMM": _num(ref_mm, 1),
        "REFMIN": _num(h36["reference_clip_s"] / 60, 0) if h36.get("reference_clip_s") else "–",
    }


MACHINES = HERE / "results" / "machines"
"""Runs of this benchmark on other machines (``--out benchmarks/results/machines/<name>``), one folder each."""


def _repo_relative(path: Path) -> str:
    """``path`` relative to the repository when inside it, else its name (never a machine path)."""
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def other_machines(folder: Path = MACHINES) -> str:
    """The kernel measurement of every run under ``folder`` as one table (finepose-h36m, fast path vs the
    official pattern, FLOP efficiency against the same run's matmul peaks)."""
    rows = []
    for path in sorted(folder.glob("*/latest.json")):
        r = json.loads(path.read_text())
        mc, s = r["machine"], r.get("sampling", {}).get("finepose-h36m")
        if not s or r.get("smoke"):
            continue
        fl = s.get("flops", {})
        bound = fl.get("ratio_bound_at_bf16_peak")
        amx = "AMX" if mc.get("amx_bf16") else ("AVX512-BF16, no AMX" if mc.get("avx512_bf16") else "no bf16 units")
        rows.append(
            f"| {mc['cpu']} ({amx}), {r['date'][:10]} | {mc['torch_threads']} | {_num(mc['fp32_tflops'], 3)} / "
            f"{_num(mc['bf16_tflops'], 3)} (×{_num(mc['bf16_tflops'] / mc['fp32_tflops'])}) | "
            f"{_num(s['reference_clip_s'] / 60, 1)} | {_num(s['fast_clip_s'] / 60, 1)} | **{_num(s['ratio'])}×** | "
            f"{_num(100 * fl['reference_fraction_of_fp32_peak'], 0) if fl else '–'}% / "
            f"{_num(100 * fl['fast_fraction_of_bf16_peak'], 0) if fl else '–'}% | {_num(bound)}× | "
            f"{_num(100 * s['ratio'] / bound, 0) if bound else '–'}% | `{_repo_relative(path.parent)}` |")
    if not rows:
        return "No run on another machine has been recorded."
    return ("finepose-h36m, one DDIM step timed and scaled to a clip (H = 20, M = 10, flip), the official execution "
            "pattern against the fast path, matmul peaks measured in the same run (each row is one "
            "`benchmarks/run.py --out benchmarks/results/machines/NAME` run; its command is in the folder's "
            "`latest.json`). *Bound* is the speed-up if the fast path ran every FLOP at the bf16 matmul peak; "
            "*of bound* is how much of it the fast path reaches.\n\n"
            "| machine | threads | fp32 / bf16 matmul peak (TFLOP/s) | reference min/clip | fast min/clip | speed-up | "
            "reference % of fp32 peak / fast % of bf16 peak | bound | of bound | results |\n"
            "|---|---:|---|---:|---:|---:|---|---:|---:|---|\n" + "\n".join(rows))


def render_docs(res: dict, template: Path = TEMPLATE) -> str:
    """``docs/performance.md``: the template with every placeholder filled; unknown ones raise."""
    import re

    values = docs_values(res)
    text = template.read_text()
    missing = sorted(set(re.findall(r"__([A-Z0-9]+(?:_[A-Z0-9]+)*)__", text)) - set(values))
    if missing:
        raise KeyError(f"{template}: placeholders without a value: {missing}")
    return re.sub(r"__([A-Z0-9]+(?:_[A-Z0-9]+)*)__", lambda m: values[m.group(1)], text)


# ----------------------------------------------------------------------------------------------- main
def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, correctness only (CI)")
    ap.add_argument("--device", default="cpu",
                    help="cpu (default), cuda, cuda:N or auto (CUDA when available, else the CPU, noted)")
    ap.add_argument("--out", default=str(HERE / "results"), help="output folder (latest.json, latest.md)")
    ap.add_argument("--models", default="finepose-h36m,finepose-tiny")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats per path (median reported)")
    ap.add_argument("--timed-steps", type=int, default=1, help="DDIM steps per timed run (scaled to M)")
    ap.add_argument("--full", action="store_true", help="time complete M-step runs instead of scaling")
    ap.add_argument("--batch", type=int, default=1, help="clips per sampling call")
    ap.add_argument("--compile", choices=["off", "on", "levers"], default="off",
                    help="torch.compile in the fast path ('levers': only in the lever table)")
    ap.add_argument("--acc-hypotheses", type=int, default=2, help="H for the finepose-h36m accuracy run")
    ap.add_argument("--acc-windows", type=int, default=2, help="3DHP windows for the finepose-h36m accuracy run")
    ap.add_argument("--train-clips", type=int, default=4)
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--levers", action="store_true", help="per-lever ablation on finepose-h36m")
    ap.add_argument("--levers-model", default="finepose-h36m")
    ap.add_argument("--levers-hypotheses", type=int, default=4,
                    help="H of the lever ablation (smaller than the preset's so that every variant can be repeated)")
    ap.add_argument("--levers-repeats", type=int, default=3)
    ap.add_argument("--chunk-rows", type=int, nargs="*", default=[],
                    help="also time the fast path with these lifter max_rows (peak-memory bound)")
    ap.add_argument("--matmul-n", type=int, default=4096)
    ap.add_argument("--docs", default=None,
                    help="also write the performance page here (default: docs/performance.md for a full run "
                         "into benchmarks/results; never for --smoke)")
    ap.add_argument("--render-docs", metavar="JSON", default=None,
                    help="only re-render the performance page from an existing latest.json, then exit")
    return ap.parse_args(argv)


def _portable(settings: dict) -> dict:
    """The settings as recorded: an ``out`` folder inside the repository relative to it (no machine paths)."""
    out = dict(settings)
    if out.get("out"):
        path = Path(out["out"]).resolve()
        if path.is_relative_to(REPO):
            out["out"] = str(path.relative_to(REPO))
    return out


def main(argv=None) -> dict:
    args = parse(argv)
    if args.render_docs:
        res = json.loads(Path(args.render_docs).read_text())
        dest = Path(args.docs) if args.docs else DOCS_PAGE
        dest.write_text(render_docs(res))
        print(f"wrote {dest}")
        return res
    if args.smoke:
        args.models, args.repeats, args.matmul_n, args.levers = "finepose-tiny", 1, 256, False
    global DEVICE
    DEVICE, device_notes = select_device(args.device, "benchmarks/run.py")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:7.1f}s] {msg}", flush=True)

    cmd = " ".join([".venv/bin/python", "benchmarks/run.py"] + [shlex.quote(a) for a in (argv or sys.argv[1:])])
    res: dict[str, Any] = {"command": cmd, "smoke": args.smoke, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                           "load_average": {"start": load_average()}, "settings": _portable(vars(args))}
    res["device"], res["device_notes"] = str(DEVICE), device_notes
    mc = machine_info()
    mc["device"] = str(DEVICE)
    if DEVICE.type == "cuda":
        mc["device_name"] = torch.cuda.get_device_name(DEVICE)
    log(f"machine: {mc}")
    reps = 2 if args.smoke else 5
    fp32 = matmul_peak(torch.float32, args.matmul_n, reps, DEVICE)
    bf16 = matmul_peak(torch.bfloat16, args.matmul_n, reps, DEVICE)
    mc.update({"matmul_n": args.matmul_n, "matmul_repeats": reps, "fp32_tflops": fp32["best_tflops"],
               "bf16_tflops": bf16["best_tflops"], "fp32_tflops_median": fp32["median_tflops"],
               "bf16_tflops_median": bf16["median_tflops"]})
    res["machine"] = mc
    log(f"matmul peak fp32 {fp32['best_tflops']:.3f} bf16 {bf16['best_tflops']:.3f} TFLOP/s")

    res["sampling"], res["training"], res["levers"], res["levers_hypotheses"] = {}, {}, {}, {}
    models = [m for m in args.models.split(",") if m]
    for name in models:
        lifter, weights = build_model(name, args.smoke)
        if args.smoke:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lifter = posediff.build(lifter.spec, overrides={"sampler.hypotheses": 2, "sampler.steps": 2})
        s = bench_sampling(name, lifter, args, mc, log)
        s["weights"] = weights
        res["sampling"][name] = s
        log(f"[{name}] sampling ratio {s['ratio']:.2f}x, max abs diff {s['max_abs_diff_m']:.2e} m, "
            f"dMPJPE {s['mpjpe_delta_mm']:+.3f} mm")
        if args.levers and name == args.levers_model:
            res["levers"][name] = bench_levers(name, lifter, args, log)
            res["levers_hypotheses"][name] = args.levers_hypotheses
        del lifter
    if not args.skip_training:
        for name in models:
            res["training"][name] = bench_training(name, args, log)
            log(f"[{name}] training ratio {res['training'][name]['ratio']:.2f}x")
    res["load_average"]["end"] = load_average()
    res["targets"] = targets(res)
    res["wall_s"] = time.perf_counter() - t_start
    (out_dir / "latest.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    (out_dir / "latest.md").write_text(markdown(res))
    log(f"wrote {out_dir / 'latest.json'} and {out_dir / 'latest.md'}")
    docs = Path(args.docs) if args.docs else (
        DOCS_PAGE if not args.smoke and out_dir.resolve() == (HERE / "results").resolve() else None)
    if docs is not None:
        docs.write_text(render_docs(res))
        log(f"wrote {docs}")
    return res


if __name__ == "__main__":
    main()
