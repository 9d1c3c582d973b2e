"""``posediff stream INPUT``: feed a keypoint file frame by frame to :class:`posediff.streaming.StreamingLifter`."""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ..weights import STREAMING_WEIGHTS
from .keypoint_args import add_keypoint_arguments, add_sampling_arguments

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``stream`` subcommand."""
    p = subparsers.add_parser(
        "stream",
        help="lift a keypoint file frame by frame, as a live source would deliver it",
        description="Read 2D keypoints of one person (any file `posediff lift` reads) and push them one frame at a "
                    "time into posediff.streaming.StreamingLifter, at video rate with --realtime. Prints the "
                    "compute rate (frames/s) and the latency of each output (from the arrival of its frame to "
                    "its pose: look-ahead plus compute), and writes the poses to an .npz.",
        epilog="examples: posediff stream kps.npz --format coco17 --image-size 1920 1080 --realtime | "
               "posediff stream kps.npz --format h36m-17 --coords normalized --lookahead 0 --out live.npz",
    )
    p.add_argument("input", metavar="INPUT", help="keypoint file or OpenPose JSON folder (one person)")
    p.add_argument("--weights", metavar="W", default=STREAMING_WEIGHTS,
                   help=f"posediff checkpoint or shipped model (default {STREAMING_WEIGHTS!r}: finepose-small-h36m, "
                   "9 frames, look-ahead 4 frames = 133 ms at 30 fps; 'h36m', the 81-frame model, waits 40 frames)")
    add_keypoint_arguments(p)
    add_sampling_arguments(p, default="realtime")
    p.add_argument("--lookahead", type=int, help="future frames each output waits for (default window // 2)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="sampling precision (default auto: the bf16 fast path where this CPU runs bf16 faster "
                        "than fp32, fp32 elsewhere)")
    p.add_argument("--fps", type=float, default=30.0, help="input frame rate (default 30)")
    p.add_argument("--realtime", action="store_true", help="deliver frames at --fps instead of as fast as possible")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="stream3d.npz", help="output .npz (default stream3d.npz)")
    p.set_defaults(func=run)
    return p


def _format_of(raw, given: str | None) -> str:
    """The layout of the file's keypoints by the rule of ``posediff lift`` (17 joints: COCO-17, with a warning)."""
    from ..data.formats import resolve_format

    name, assumed = resolve_format(raw.keypoints.shape[-2], given, getattr(raw, "format", None), where="INPUT")
    if assumed:
        warnings.warn(assumed, stacklevel=2)
    return name


def run(args: argparse.Namespace) -> int:
    """Stream the file; returns the exit code."""
    from ..data.formats import read_keypoints
    from ..errors import InputError
    from ..loading import load
    from ..streaming import StreamingLifter
    from ..inference.camera import parse_camera
    from .lift_cmd import parse_camera_arg, print_warnings

    if not Path(args.input).exists():
        raise InputError(f"INPUT not found: {args.input!r}")
    if Path(args.out).suffix.lower() != ".npz":
        raise InputError(f"--out must end in .npz; got {args.out!r}")
    if args.fps <= 0:
        raise InputError(f"--fps must be > 0; got {args.fps}")
    raw = read_keypoints(args.input)
    kps = np.asarray(raw.keypoints)
    if kps.ndim != 3:
        raise InputError(f"posediff stream takes one person (T, J, 2|3); got shape {tuple(kps.shape)}")
    image_size = tuple(args.image_size) if args.image_size is not None else getattr(raw, "image_size", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lifter = load(args.weights)
        lifter.fast_sampling(args.precision)
        stream = StreamingLifter(lifter, lookahead=args.lookahead, sampling=args.sampling,
                                 hypotheses=args.hypotheses, steps=args.steps,
                                 flip=args.flip, aggregator=args.aggregator,
                                 camera=parse_camera(parse_camera_arg(args.camera), image_size, args.camera_units),
                                 format=_format_of(raw, args.format), image_size=image_size, coords=args.coords,
                                 threshold=args.threshold, seed=args.seed).warm_up()
        n = kps.shape[0]
        arrival = np.zeros(n)
        done = np.zeros(n)
        poses = np.zeros((n, lifter.skeleton.num_joints, 3), np.float32)
        compute = 0.0
        t_start = time.perf_counter()
        for i in range(n):
            if args.realtime:
                wait = t_start + i / args.fps - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            arrival[i] = time.perf_counter()
            out = stream.push(kps[i])
            now = time.perf_counter()
            compute += now - arrival[i]
            for o in out:
                poses[o.frame], done[o.frame] = o.pose, now
        t0 = time.perf_counter()
        for o in stream.flush():
            poses[o.frame], done[o.frame] = o.pose, time.perf_counter()
        compute += time.perf_counter() - t0
    print_warnings([w for w in caught if not issubclass(w.category, DeprecationWarning)], "stream")
    # latency of a frame as a live source sees it: its pose is ready once the look-ahead frames have arrived
    # (at --fps) and the window is computed; the tail flushed at the end of the file is not counted
    steady = np.arange(n) < n - stream.lookahead
    if args.realtime:
        lat = (done - arrival)[steady]
    else:
        lat = (stream.lookahead / args.fps + (done - arrival[np.minimum(np.arange(n) + stream.lookahead, n - 1)]))[steady]
    np.savez_compressed(args.out, poses3d=poses, skeleton=lifter.skeleton.name, fps=args.fps,
                        lookahead=stream.lookahead, latency_s=lat)
    fps = n / compute if compute > 0 else float("inf")
    print(f"streamed {n} frame(s): compute {fps:.1f} frames/s ({'keeps up with' if fps >= args.fps else 'SLOWER than'}"
          f" {args.fps:g} fps input), look-ahead {stream.lookahead} frame(s), sampling {stream.sampling} "
          f"(H={stream.hypotheses}, M={stream.steps}, flip {'on' if stream.flip else 'off'}), {stream.aggregator_name}")
    if lat.size:
        print(f"latency per frame: median {1000 * np.median(lat):.0f} ms, max {1000 * lat.max():.0f} ms "
              f"({'measured at video rate' if args.realtime else 'look-ahead at --fps plus measured compute'}) "
              f"→ {args.out}")
    sys.stdout.flush()
    return 0
