#!/usr/bin/env python
"""Regenerate the demo assets in ``posediff/assets/`` deterministically.

Writes:

* ``demo_lifter.pt`` — a small ``finepose-tiny`` (narrower, see :data:`DEMO_OVERRIDES`) trained here on
  posediff's *synthetic* motion data set (``posediff.data.synthetic``), weights stored in fp16
  (cast back to fp32 on load) in the ordinary posediff checkpoint format, with a ``.sha256`` beside it.
* ``demo_sequence.npz`` — a held-out synthetic test sequence (a subject, body and cameras that training
  never saw): ``keypoints (T, 17, 3)`` h36m-17 pixels + confidence (2 px noise, some joints dropped to
  low confidence), ``image_size``, pixel ``camera`` intrinsics, ground truth ``x3d (T, 17, 3)`` (metres,
  root-relative), ``action``, ``format``, ``fps``.

Usage (from the repository root)::

    python scripts/make_demo_assets.py                # defaults: 1 thread, seed 0
    python scripts/make_demo_assets.py --iters 200    # a quick smoke run into --out

Determinism: all randomness is seeded (data, initialisation, clip order, diffusion noise) and the
training runs on the CPU with a fixed thread count, so the same command on the same PyTorch build
gives the same bytes. Wall time of the default run is printed at the end (see docs/lifting.md).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import posediff  # noqa: E402
from posediff.checkpoints import save_checkpoint  # noqa: E402
from posediff.data.clips import ClipSampler, TrainingClips  # noqa: E402
from posediff.data.synthetic import make_synthetic  # noqa: E402
from posediff.geometry.cameras import image_coordinates  # noqa: E402

DEMO_PRESET = "finepose-tiny"
DEMO_OVERRIDES: dict = {
    "meta.name": "finepose-demo",
    "meta.summary": "finepose-tiny at reduced width, trained by posediff on synthetic motion (demo only)",
    "lifter.dim": 64,
    "lifter.frames": 27,
    "backbone.depth": 2,
    "backbone.heads": 4,
    "conditioner.adapter_layers": 1,
    "conditioner.adapter_heads": 2,
    "conditioner.adapter_ff": 64,
    "conditioner.actions": ["walking", "reaching", "sitting", "turning"],   # the synthetic motions
    "conditioner.text_encoder.width": 16,
    "conditioner.text_encoder.layers": 1,
    "conditioner.text_encoder.heads": 2,
    "fusion[0].blocks[0].heads": 4,
    "sampler.hypotheses": 5,
    "sampler.steps": 5,
}
"""Overrides of the ``finepose-tiny`` preset that make the bundled model (spec travels in the checkpoint)."""

TRAIN = dict(subjects=6, cameras=4, frames=243, seed=11, noise_px=1.0)
TEST = dict(subjects=1, motions=("walking",), cameras=1, frames=150, seed=2024, noise_px=2.0)


def _pixel_camera(camera: np.ndarray, w: int, h: int) -> np.ndarray:
    """Normalised 9-vector → pixel intrinsics (inverse of ``normalize_intrinsics``)."""
    cam = np.asarray(camera, dtype=np.float64).copy()
    cam[:2] = cam[:2] * w / 2.0
    cam[2:4] = (cam[2:4] + np.array([1.0, h / w])) * w / 2.0
    return cam


def make_sequence(out: Path) -> dict:
    """Write the held-out test sequence; return a summary."""
    ds = make_synthetic(**TEST)
    seq = ds[0]
    w, h = seq.image_size
    pixels = np.asarray(image_coordinates(seq.x2d.astype(np.float64), w, h))
    rng = np.random.default_rng(7)
    conf = rng.uniform(0.75, 1.0, size=pixels.shape[:2])
    drop = rng.random(conf.shape) < 0.02                       # scattered misses
    drop[40:52, 13] = True                                      # left wrist occluded for 12 frames
    drop[:, 0] = False                                          # keep the pelvis (root) observed
    conf[drop] = rng.uniform(0.0, 0.2, size=int(drop.sum()))
    keypoints = np.concatenate([pixels, conf[..., None]], -1).astype(np.float32)
    path = out / "demo_sequence.npz"
    np.savez_compressed(
        path,
        keypoints=keypoints,
        format=np.array("h36m-17"),
        image_size=np.array([w, h], dtype=np.int64),
        camera=_pixel_camera(seq.camera, w, h).astype(np.float32),
        x3d=seq.x3d.astype(np.float32),
        action=np.array(seq.action),
        fps=np.array(seq.fps, dtype=np.float32),
        subject=np.array(seq.subject),
    )
    return {"frames": seq.num_frames, "dropped_joints": int(drop.sum()), "path": str(path)}


def train(iters: int, batch: int, lr: float, seed: int, log_every: int) -> tuple[torch.nn.Module, dict]:
    """Train the demo model with the official x0 objective (AdamW, cosine lr), deterministically."""
    torch.manual_seed(seed)
    lifter = posediff.build(DEMO_PRESET, overrides=DEMO_OVERRIDES)
    F = lifter.frames
    data = make_synthetic(**TRAIN)
    clips = TrainingClips(data, frames=F, flip=True, random_offset=True, seed=seed)
    sampler = ClipSampler(len(clips), seed=seed)
    params = [p for p in lifter.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    noise = torch.Generator().manual_seed(seed + 1)
    drop_rng = np.random.default_rng(seed + 2)
    lifter.train()
    epoch, order, pos = 0, None, 0
    t0 = time.perf_counter()
    losses = []
    for it in range(iters):
        if order is None or pos + batch > len(order):
            clips.set_epoch(epoch)
            sampler.set_epoch(epoch)
            order = sampler.order()
            pos = 0
            epoch += 1
        items = [clips[int(i)] for i in order[pos:pos + batch]]
        pos += batch
        x2d = torch.stack([b["x2d"] for b in items])
        x3d = torch.stack([b["x3d"] for b in items])
        # half the clips see the neutral prompt, so that lifting without an action label works
        actions = [b["action"] if drop_rng.random() < 0.5 else None for b in items]
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * it / max(iters, 1)))
        loss = lifter.training_loss(x2d, x3d, actions=actions, generator=noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(loss.item())
        if log_every and (it + 1) % log_every == 0:
            print(f"  iter {it + 1:5d}/{iters}  loss {np.mean(losses[-log_every:]) * 1000:7.1f} mm  "
                  f"{time.perf_counter() - t0:6.0f} s", flush=True)
    lifter.eval()
    info = {"iters": iters, "batch": batch, "lr": lr, "seed": seed, "epochs_started": epoch,
            "final_loss_mm": round(float(np.mean(losses[-50:])) * 1000, 2), "train_data": dict(TRAIN)}
    print(f"  trained in {time.perf_counter() - t0:.0f} s", flush=True)
    return lifter, info


def save_fp16(lifter: torch.nn.Module, path: Path, extra: dict) -> Path:
    """Save in the posediff checkpoint format with floating tensors stored as fp16."""
    state = {k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach())
             for k, v in lifter.state_dict().items()}
    return save_checkpoint({"format": "posediff", "version": 1, "spec": lifter.spec, "state_dict": state,
                            "extra": extra}, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "posediff" / "assets"), help="output folder")
    ap.add_argument("--iters", type=int, default=1500, help="training iterations (default 1500)")
    ap.add_argument("--batch", type=int, default=16, help="clips per iteration (default 16)")
    ap.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (fixed for determinism)")
    ap.add_argument("--log-every", type=int, default=100)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    seq_info = make_sequence(out)
    print(f"sequence: {seq_info}")
    lifter, info = train(args.iters, args.batch, args.lr, args.seed, args.log_every)
    ckpt = save_fp16(lifter, out / "demo_lifter.pt", {
        "demo": True, "training": info, "preset": DEMO_PRESET, "overrides": DEMO_OVERRIDES,
        "note": "trained on posediff's synthetic motion data; not for real use",
        "torch": str(torch.__version__),
    })
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    print(json.dumps({"training": info, "sizes_bytes": sizes, "total_mb": round(sum(sizes.values()) / 2**20, 2)},
                     indent=2))
    print(f"wrote {ckpt} and {seq_info['path']} in {time.perf_counter() - t0:.0f} s "
          f"({args.threads} thread(s), torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
