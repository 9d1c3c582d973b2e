"""What a user should expect on their own keypoints: lift held-out S8 given as a 2D detector gives it.

For every S8 sequence of the first camera (or ``--cameras``), a clip of ``--frames`` frames is turned into
COCO-17 pixel keypoints with Gaussian noise and dropped joints (:func:`posediff.data.simulate.detector_like_keypoints`)
and lifted with :func:`posediff.lift` exactly as a user would (format ``coco17``, no camera, the model's
default aggregator, windows blended). MPJPE and P-MPJPE after root alignment against the motion-capture ground
truth, per action and on average (unweighted over actions), and how steady the output is: each bone's
coefficient of variation of length over the clip, the acceleration error against the ground truth's own
acceleration, and both MPJPE and acceleration error again with every bone held at its median length
(:func:`posediff.geometry.bones.hold_bone_lengths`)::

    python scripts/detector_like_eval.py --weights h36m --data ../shared/data/h36m --noise-px 0 3 6 \\
        --drop 0.03 --frames 300 --out benchmarks/results/eval/finepose-small-h36m-detector-like.json
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

import posediff
from posediff import metrics as M
from posediff.data.simulate import detector_like_keypoints
from posediff.geometry.bones import bone_length_cv, hold_bone_lengths
from posediff.training.datasets import load_dataset


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="h36m")
    ap.add_argument("--data", required=True, help="Human3.6M folder (VideoPose3D layout)")
    ap.add_argument("--noise-px", type=float, nargs="+", default=[3.0])
    ap.add_argument("--drop", type=float, default=0.03)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--cameras", type=int, default=1, help="cameras per sequence (first N)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32",
                    help="sampling precision (bf16: the fast path, see docs/performance.md; auto: bf16 where this CPU "
                         "runs it faster; the one used is recorded)")
    ap.add_argument("--sampling", default=None,
                    help="named sampling configuration of posediff.lift (default: lift's default, recorded)")
    ap.add_argument("--smooth", type=float, nargs="+", default=[0.0], metavar="FRAMES",
                    help="also score the output after Gaussian temporal smoothing of this many frames (standard "
                         "deviation; posediff.lift(smooth=...)); 0 = as lifted")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from posediff.loading import load

    model = load(args.weights, overrides={"lifter.precision": args.precision})
    ds = load_dataset(f"h36m:{args.data}", ["S8"], role="val")
    by_seq = defaultdict(list)
    for s in ds:
        by_seq[s.action].append(s)
    t0 = time.perf_counter()
    rows = []
    for noise, smooth in [(n, sm) for n in args.noise_px for sm in args.smooth]:
        per_action = defaultdict(list)
        for k, (action, seqs) in enumerate(sorted(by_seq.items())):
            for c, seq in enumerate(sorted(seqs, key=lambda s: s.camera_name)[: args.cameras]):
                n = min(args.frames, seq.num_frames)
                kp = detector_like_keypoints(seq, noise_px=noise, drop=args.drop, seed=args.seed + 100 * k + c,
                                             frames=n)
                res = posediff.lift(kp, lifter=model, format="coco17", image_size=seq.image_size, seed=args.seed,
                                    sampling=args.sampling, smooth=smooth)
                pred = torch.as_tensor(res.poses3d, dtype=torch.float64)
                gt = torch.as_tensor(seq.x3d[:n], dtype=torch.float64)
                pred = pred - pred[:, :1]
                held = torch.as_tensor(hold_bone_lengths(pred.numpy()))
                # steadiness: each bone's coefficient of variation over the clip (mean over bones, %), and the
                # acceleration error against the ground truth's own acceleration (mm/frame²)
                per_action[seq.base_action].append(
                    (n, 1000 * float(M.mpjpe(pred, gt)), 1000 * float(M.p_mpjpe(pred, gt)),
                     100 * float(bone_length_cv(pred.numpy()).mean()), 1000 * float(M.acceleration_error(pred, gt)),
                     1000 * float(M.mpjpe(held, gt)), 1000 * float(M.acceleration_error(held, gt))))
        keys = ("mpjpe_mm", "p_mpjpe_mm", "bone_cv_pct", "accel_mm", "held_mpjpe_mm", "held_accel_mm")
        table = {a: {"frames": sum(v[0] for v in vals),
                     **{key: float(np.average([v[i + 1] for v in vals], weights=[v[0] for v in vals]))
                        for i, key in enumerate(keys)}}
                 for a, vals in sorted(per_action.items())}
        rows.append({"noise_px": noise, "drop": args.drop, "smooth_frames": smooth, "aggregator": res.aggregator_used,
                     "sampling": res.metadata.get("sampling"), "hypotheses": res.metadata.get("hypotheses"),
                     "steps": res.metadata.get("steps"), "flip": res.metadata.get("flip"),
                     **{key: float(np.mean([t[key] for t in table.values()])) for key in keys},
                     "per_action": table})
        r = rows[-1]
        print(f"noise {noise:g} px, drop {args.drop:g}, smooth {smooth:g}: MPJPE {r['mpjpe_mm']:.1f} mm, P-MPJPE {r['p_mpjpe_mm']:.1f} mm "
              f"({res.aggregator_used}); bone length CV {r['bone_cv_pct']:.1f} %, accel error {r['accel_mm']:.2f} "
              f"mm/frame²; bones held: MPJPE {r['held_mpjpe_mm']:.1f} mm, accel {r['held_accel_mm']:.2f}", flush=True)
    out = {"weights": args.weights, "precision": model.effective_precision, "precision_asked": args.precision, "data": "S8 (held out), $POSEDIFF_SHARED/data/h36m",
           "clips": f"first {args.frames} frames of every S8 sequence, first {args.cameras} camera(s)",
           "input": "COCO-17 pixels from the ground-truth projection, Gaussian noise, dropped joints "
                    "(confidence 0), no camera; posediff.lift defaults", "seed": args.seed,
           "results": rows, "seconds": round(time.perf_counter() - t0, 1), "torch": str(torch.__version__)}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
