"""``posediff render RESULT --out anim.gif``: animations and figures of lifted poses."""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

__all__ = ["add_parser", "run", "load_poses"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``render`` subcommand."""
    p = subparsers.add_parser(
        "render",
        help="draw lifted poses: animation, frame grid, hypothesis spread",
        description="Render a lift result (.npz written by `posediff lift` or LiftResult.save), or any .npz "
                    "holding 'poses3d' or 'x3d' (T, J, 3) (optional 'x2d'), as an animation (.gif; .mp4 when "
                    "ffmpeg is installed), a static frame grid (.png) and, for results with hypotheses, the "
                    "hypothesis spread of one frame (.png).",
        epilog="examples: posediff render pose3d.npz --out pose3d.gif | posediff render pose3d.npz "
               "--grid frames.png --no-animation | posediff render pose3d.npz --spread spread.png --frame 40",
    )
    p.add_argument("result", metavar="RESULT", help="lift result or poses .npz")
    p.add_argument("--out", metavar="ANIM", help="animation file (.gif or .mp4); default RESULT with .gif")
    p.add_argument("--no-animation", action="store_true", help="do not write the animation")
    p.add_argument("--grid", metavar="PNG", help="also write a static grid of frames")
    p.add_argument("--spread", metavar="PNG", help="also write the hypothesis spread (needs hypotheses)")
    p.add_argument("--frame", type=int, help="frame of the hypothesis spread (default: middle)")
    p.add_argument("--person", type=int, help="only this person of a multi-person result")
    p.add_argument("--max-frames", type=int, default=None,
                   help="at most this many frames in the animation, evenly spaced (default: every frame)")
    p.add_argument("--num-frames", type=int, default=6, help="frames in the grid (default 6)")
    p.add_argument("--fps", type=float, default=None,
                   help="animation frames per second (default: the lifted input's frame rate, else 30)")
    p.add_argument("--skeleton", default=None, help="joint set (default: the result's, else h36m-17)")
    p.add_argument("--title", help="figure title")
    p.set_defaults(func=run)
    return p


def load_poses(path: str | Path) -> dict:
    """Read poses from a lift result or a plain npz → dict(poses3d, x2d, mask, hypotheses, skeleton, aggregated)."""
    from ..errors import DataError, InputError
    from ..inference import load_result

    path = Path(path)
    if not path.is_file():
        raise InputError(f"RESULT not found: {str(path)!r}")
    if path.suffix.lower() != ".npz":
        raise InputError(f"RESULT must be an .npz; got {str(path)!r}")
    try:
        res = load_result(path)
        return {"poses3d": res.poses3d, "x2d": res.x2d, "mask": res.mask, "hypotheses": res.hypotheses,
                "skeleton": res.skeleton, "title": f"aggregator: {res.aggregator_used}", "metadata": res.metadata}
    except DataError:
        pass
    try:
        with np.load(path, allow_pickle=False) as z:
            key = "poses3d" if "poses3d" in z.files else "x3d" if "x3d" in z.files else None
            if key is None:
                raise InputError(f"{str(path)!r} holds neither a lift result nor 'poses3d'/'x3d' (found {z.files})")
            return {"poses3d": z[key], "x2d": z["x2d"] if "x2d" in z.files else None,
                    "mask": z["mask"] if "mask" in z.files else None,
                    "hypotheses": z["hypotheses"] if "hypotheses" in z.files else None,
                    "skeleton": str(z["skeleton"]) if "skeleton" in z.files else None, "title": None,
                    "metadata": {"fps": float(z["fps"])} if "fps" in z.files else {}}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    """Render; returns the exit code."""
    from ..errors import InputError
    from ..viz import render_animation, render_frames, render_hypotheses
    from .lift_cmd import animation_fps, print_warnings

    data = load_poses(args.result)
    poses, x2d, mask, hyps = data["poses3d"], data["x2d"], data["mask"], data["hypotheses"]
    skeleton = args.skeleton or data["skeleton"] or "h36m-17"
    if args.person is not None:
        if poses.ndim != 4:
            raise InputError("--person needs a multi-person result (C, T, J, 3)")
        C = poses.shape[0]
        if not 0 <= args.person < C:
            raise InputError(f"--person must be in [0, {C - 1}]; got {args.person}")
        c = args.person
        poses = poses[c]
        x2d = None if x2d is None else x2d[c]
        mask = None if mask is None else mask[c]
        hyps = None if hyps is None else hyps[c]
    title = args.title or data["title"]
    if args.no_animation and not args.grid and not args.spread:
        raise InputError("nothing to do: --no-animation without --grid or --spread")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if not args.no_animation:
            out = args.out or str(Path(args.result).with_suffix(".gif"))
            fps, fps_from = animation_fps(args.fps, data["metadata"])
            written = render_animation(poses, out, x2d=x2d, skeleton=skeleton, mask=mask, fps=fps,
                                       max_frames=args.max_frames, title=title)
            print(f"animation → {written} at {fps:g} frames/s ({fps_from})")
        if args.grid:
            written = render_frames(poses, args.grid, x2d=x2d, skeleton=skeleton, mask=mask,
                                    num_frames=args.num_frames, title=title)
            print(f"frame grid → {written}")
        if args.spread:
            if hyps is None:
                raise InputError("--spread needs hypotheses: lift with --keep-hypotheses")
            if hyps.ndim == 5:
                raise InputError("--spread of a multi-person result needs --person")
            written = render_hypotheses(hyps, args.spread, aggregated=poses, frame=args.frame,
                                        x2d=x2d, skeleton=skeleton)
            print(f"hypothesis spread → {written}")
    print_warnings(caught, "render")
    return 0
