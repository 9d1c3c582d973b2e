"""Short training probes behind the CPU recipe's choices (clip length, clips per step, depth, lr, positional init).

Each probe trains one configuration for a budget of *process CPU-minutes* on Human3.6M S1/S5/S6/S7
(ground-truth 2D, random clip offsets, flips) and every ``evalevery`` steps measures MPJPE on 300 fixed,
evenly spread held-out S8 windows with one sampling step from pure noise (H = 1, M = 1; ``--mode diff``, the
diffusion objective posediff trains) or with the backbone as a deterministic regressor (``--mode det``: noisy
input zeroed, t = T−1; used to tell the backbone's optimisation from the diffusion objective). bf16 autocast.
It prints one tuple per evaluation, ``(step, cpu_minutes, training_loss_m, s8_mpjpe_mm)``, and with ``--out``
appends the run to a JSON file::

    python benchmarks/recipe_probe.py '{"frames": 9, "B": 64, "minutes": 3, "posinit": 0.5, "warm": 30}' \\
        --data $POSEDIFF_SHARED/data/h36m --threads 1 --out benchmarks/results/recipe_sweep.json

Probes run two or three at a time on 2 shared cores: compare them by CPU-minutes, not wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

import posediff
from posediff.data.clips import TrainingClips, sequence_windows
from posediff.training.datasets import load_dataset, to_skeleton

DEFAULTS = dict(amp=True, posinit=0.0, frames=27, B=64, lr=1e-3, preset="d3dp-tiny", ov={}, minutes=3.0,
                mode="diff", wd=0.1, warm=0, evalevery=30)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", help=f"JSON object overriding {DEFAULTS}")
    ap.add_argument("--data", default=os.path.join(os.environ.get("POSEDIFF_SHARED", "../shared"), "data", "h36m"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = dict(DEFAULTS)
    cfg.update(json.loads(args.config))
    torch.manual_seed(0)
    np.random.seed(0)
    sel = f"h36m:{args.data}"
    train_ds = to_skeleton(load_dataset(sel, ["S1", "S5", "S6", "S7"], role="train"), "h36m-17")
    val_ds = to_skeleton(load_dataset(sel, ["S8"], role="val"), "h36m-17")
    frames = cfg["frames"]
    overrides = dict(cfg["ov"])
    overrides["lifter.frames"] = frames
    lifter = posediff.build(cfg["preset"], overrides=overrides)
    clips = TrainingClips(train_ds, frames=frames, flip=True, random_offset=True, seed=0)
    clips.set_epoch(0)
    rows = []
    for s in val_ds:
        w = sequence_windows(s, frames)
        rows += [(w["x2d"][i], w["x3d"][i]) for i in range(w["x2d"].shape[0])]
    idx = np.linspace(0, len(rows) - 1, 300).round().astype(int)
    vx = torch.stack([rows[i][0] for i in idx])
    vy = torch.stack([rows[i][1] for i in idx])
    vy[..., 0, :] = 0
    if cfg["posinit"]:
        with torch.no_grad():
            lifter.backbone.spatial_pos.normal_(0, cfg["posinit"])
            lifter.backbone.temporal_pos.normal_(0, cfg["posinit"])
    opt = torch.optim.AdamW([p for p in lifter.parameters() if p.requires_grad], lr=cfg["lr"],
                            weight_decay=cfg["wd"])
    gen = torch.Generator().manual_seed(0)
    T = lifter.sampler.schedule.timesteps

    def evaluate() -> float:
        lifter.eval()
        with torch.no_grad():
            if cfg["mode"] == "diff":
                h = lifter.sample(vx, generator=torch.Generator().manual_seed(0), hypotheses=1, steps=1)[:, -1, 0]
            else:
                h = lifter.run_denoiser(vx, torch.zeros(vx.shape[:3] + (3,)), torch.full((vx.shape[0],), T - 1),
                                         lifter.condition(None, vx.shape[0]))
        lifter.train()
        return 1000 * torch.linalg.vector_norm(h - vy, dim=-1).mean().item()

    n = len(clips)
    perm = np.random.permutation(n)
    pos = step = 0
    t0 = time.process_time()
    curve = []
    lifter.train()
    while time.process_time() - t0 < cfg["minutes"] * 60 * torch.get_num_threads():
        b = perm[pos:pos + cfg["B"]]
        pos += cfg["B"]
        if pos >= n:
            perm, pos = np.random.permutation(n), 0
        items = [clips[int(i)] for i in b]
        x = torch.stack([it["x2d"] for it in items])
        y = torch.stack([it["x3d"] for it in items])
        y[..., 0, :] = 0
        if cfg["warm"]:
            for group in opt.param_groups:
                group["lr"] = cfg["lr"] * min(1, (step + 1) / cfg["warm"])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["amp"]):
            if cfg["mode"] == "diff":
                loss = lifter.training_loss(x, y, generator=gen)
            else:
                out = lifter.run_denoiser(x, torch.zeros_like(y), torch.full((x.shape[0],), T - 1),
                                           lifter.condition(None, x.shape[0]))
                loss = torch.linalg.vector_norm(out.float() - y, dim=-1).mean()
        opt.zero_grad()
        loss.float().backward()
        opt.step()
        step += 1
        if step % cfg["evalevery"] == 0:
            cpu = (time.process_time() - t0) / 60
            curve.append((step, round(cpu, 2), round(loss.item(), 4), round(evaluate(), 1)))
            print(curve[-1], flush=True)
    print("FINAL", json.dumps(cfg), curve[-1] if curve else None)
    if args.out:
        data = json.loads(args.out.read_text()) if args.out.is_file() else {"runs": []}
        data["runs"].append({"config": cfg, "threads": args.threads, "torch": str(torch.__version__),
                             "curve": [dict(zip(("step", "cpu_minutes", "loss_m", "s8_mpjpe_mm"), c)) for c in curve]})
        args.out.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
