"""Lift a 2D keypoint file to 3D with ``posediff.lift`` and save the result.

    python examples/lift_keypoints.py my_keypoints.npy --format coco17 --image-size 1920 1080
    python examples/lift_keypoints.py --quick            # writes a small synthetic keypoint file first

The input is any file ``posediff.lift`` reads (``.npy``/``.npz`` of shape ``(N, J, 2|3)``, OpenPose
JSON, COCO results, CSV). Without a file, the script writes one: a synthetic walking sequence
projected to 1000×1000 pixels with a confidence channel and a few joints knocked out, so the
missing-joint handling is exercised too.

Weights: ``--weights`` (a posediff checkpoint, or ``demo`` for the bundled small model). Without it the
bundled demo model is used when present, else an untrained ``finepose-tiny`` (poses meaningless).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

import posediff
from posediff.data import make_synthetic
from posediff.errors import CheckpointError
from posediff.geometry.cameras import image_coordinates
from posediff.inference import demo_checkpoint_path, load_result


def write_synthetic_keypoints(path: Path, frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Write ``(frames, 17, 3)`` H36M-order pixels + confidence to ``path``; return (3D truth, intrinsics)."""
    seq = make_synthetic(subjects=1, motions=["walking"], cameras=1, frames=frames, seed=seed)[0]
    w, h = seq.image_size or (1000, 1000)
    xy = np.asarray(image_coordinates(seq.x2d, w, h), dtype=np.float32)          # (N, 17, 2) pixels
    conf = np.ones(xy.shape[:2] + (1,), dtype=np.float32)
    rng = np.random.default_rng(seed)
    drop = rng.random(conf.shape[:2]) < 0.05                                        # 5 % of joints undetected
    drop[:, 0] = False
    conf[drop] = 0.0
    np.save(path, np.concatenate((xy, conf), axis=-1))
    return seq.x3d, seq.camera


def main(argv: list[str] | None = None) -> int:
    """Run the example; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keypoints", nargs="?", help="keypoint file (default: write a synthetic one)")
    parser.add_argument("--format", default=None, help="joint layout, e.g. coco17, h36m-17, openpose-25")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("W", "H"), default=None)
    parser.add_argument("--weights", default="", help="posediff checkpoint or 'demo'")
    parser.add_argument("--out", default="", help="output .npz (default: next to the input, *_3d.npz)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="short sequence, H=2, M=2, for CI")
    args = parser.parse_args(argv)
    if args.quick:
        torch.set_num_threads(1)

    tmp = tempfile.TemporaryDirectory()
    truth = camera = None
    if args.keypoints:
        path = Path(args.keypoints)
        fmt, image_size = args.format, tuple(args.image_size) if args.image_size else None
    else:
        path = Path(tmp.name) / "synthetic_walk_h36m.npy"
        truth, camera = write_synthetic_keypoints(path, frames=40 if args.quick else 300, seed=args.seed)
        fmt, image_size = "h36m-17", (1000, 1000)
        print(f"wrote {path}: {np.load(path).shape} pixels + confidence, H36M joint order")

    kwargs: dict = {}
    if args.weights:
        kwargs["weights"] = args.weights
    else:
        try:
            demo_checkpoint_path()
            kwargs["weights"] = "demo"
        except CheckpointError:
            print("the bundled demo model is missing: using an UNTRAINED finepose-tiny (poses are meaningless)")
            kwargs["lifter"] = posediff.build("finepose-tiny")
    if args.quick:
        kwargs.update(hypotheses=2, steps=2)

    result = posediff.lift(path, format=fmt, image_size=image_size, camera=camera, seed=args.seed, **kwargs)
    print(result)
    print(f"poses3d {result.poses3d.shape} metres (root-relative), aggregator: {result.aggregator_used}, "
          f"{int((~result.joint_mask).sum())} joints filled by interpolation")
    if truth is not None:
        err = 1000 * np.linalg.norm(result.poses3d - truth, axis=-1).mean()
        print(f"MPJPE against the synthetic ground truth: {err:.0f} mm")
    out = Path(args.out) if args.out else (Path(tmp.name) if not args.keypoints else path.parent) / (path.stem + "_3d.npz")
    result.save(out)
    back = load_result(out)
    assert back.poses3d.shape == result.poses3d.shape
    print(f"saved {out}" + ("" if args.out or args.keypoints else " (temporary; pass --out to keep it)"))
    tmp.cleanup()
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
