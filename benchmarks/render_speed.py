"""Rendering speed of ``posediff.viz.render_animation``: frames per second, drawing only what moves (the
default) against redrawing the whole figure for every frame (``blit=False``: matplotlib's
``FuncAnimation.save``, the implementation before issue 22), in one run on this machine::

    python benchmarks/render_speed.py --frames 300 --out benchmarks/results/render_speed.json

The input is the bundled demo clip (3D poses and their 2D input, one person), repeated to ``--frames``
frames; both formats (GIF, and MP4 when an ffmpeg is found) are timed for both methods.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import save_result, machine_info  # noqa: E402
from posediff.geometry.cameras import normalize_screen_coordinates  # noqa: E402
from posediff.viz import ffmpeg_available, render_animation  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    demo = np.load(files("posediff") / "assets" / "demo_sequence.npz")
    reps = -(-args.frames // demo["x3d"].shape[0])
    p3 = np.concatenate([demo["x3d"]] * reps)[: args.frames]
    w, h = (int(v) for v in demo["image_size"])
    p2 = np.asarray(normalize_screen_coordinates(np.concatenate([demo["keypoints"][..., :2]] * reps)[: args.frames],
                                                 w, h))
    rows = []
    formats = [".gif"] + ([".mp4"] if ffmpeg_available() else [])
    with tempfile.TemporaryDirectory() as tmp:
        for ext in formats:
            for blit in (False, True):
                path = Path(tmp) / f"anim-{blit}{ext}"
                t0 = time.perf_counter()
                render_animation(p3, path, x2d=p2, fps=50.0, blit=blit)
                dt = time.perf_counter() - t0
                rows.append({"format": ext[1:], "method": "blit" if blit else "redraw (FuncAnimation.save)",
                             "frames": args.frames, "seconds": dt, "frames_per_s": args.frames / dt,
                             "bytes": path.stat().st_size})
                print(f"{ext[1:]:4s} {rows[-1]['method']:28s} {dt:7.2f} s  {args.frames / dt:7.1f} frames/s", flush=True)
    speedup = {}
    for ext in formats:
        by = {r["method"].split()[0]: r for r in rows if r["format"] == ext[1:]}
        speedup[ext[1:]] = by["blit"]["frames_per_s"] / by["redraw"]["frames_per_s"]
    print("speed-up: " + ", ".join(f"{k} {v:.1f}×" for k, v in speedup.items()))
    res = {"benchmark": "render_speed", "command": "python benchmarks/render_speed.py "
           + " ".join(argv if argv is not None else sys.argv[1:]), "machine": machine_info(), "rows": rows,
           "speedup_blit_over_redraw": speedup}
    return save_result(res, args.out)


if __name__ == "__main__":
    main()
