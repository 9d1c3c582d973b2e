"""Video to 3D on this CPU: detection frames/s and lifting time against the video's own duration, in one run::

    python benchmarks/video_speed.py --out benchmarks/results/video_speed.json    # in the video environment

(``./dev video`` creates it: ``.venv-video/bin/python benchmarks/video_speed.py ...``). The video is the shared
test video (``$POSEDIFF_SHARED/data/video/dancer-600x600-20fps.mp4``) or ``--video``. Each configuration runs
in a **fresh process**, as ``posediff lift VIDEO`` does, so the first-call costs (model load, prompt
tokenisation) are included: MediaPipe "full" detection (the model inside the wheel), then lifting with
``--sampling fast`` and ``model`` by the default weights (``h36m``, 81 frames) and with ``fast`` by the 9-frame
``h36m-streaming`` (``--configs`` picks others: ``WEIGHTS:SAMPLING,...``). Reported: seconds, frames/s, and the ratio to the video's duration (below 1: faster than real
time); the fp32 matmul peak of the same run says how fast this machine is. Also recorded, for the docs' steadiness
figures: each bone's coefficient of variation of length over the clip (mean and largest over the 16 bones) and
the mean acceleration of the joints (mm/frame²), as lifted (no ``--constant-bones``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import load_average, machine_info, matmul_peak, save_result, shared_dir  # noqa: E402

_CHILD = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
warnings.simplefilter("ignore")
import posediff
from posediff.video import detect_video
video, complexity, sampling, weights = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t_import = time.perf_counter() - t0
found = detect_video(video, "mediapipe", detector_params={"complexity": complexity})
t1 = time.perf_counter()
kps = found.keypoints[0] if found.keypoints.shape[0] == 1 else found.keypoints
res = posediff.lift(kps, presence=found.presence[0] if found.keypoints.shape[0] == 1 else found.presence,
                    format=found.format, image_size=found.info.size, sampling=sampling, seed=0,
                    weights=weights)
t2 = time.perf_counter()
import numpy as np
from posediff.geometry.bones import bone_length_cv
p = res.poses3d[res.mask]
cv = bone_length_cv(p)
accel = float(np.linalg.norm(p[2:] - 2 * p[1:-1] + p[:-2], axis=-1).mean() * 1000)
print(json.dumps({"bone_cv_mean": float(cv.mean()), "bone_cv_max": float(cv.max()), "accel_mm_per_frame2": accel,
                  "import_s": t_import, "detect_s": found.seconds, "detect_fps": found.frames_per_second,
                  "lift_s": t2 - t1, "frames": found.frames, "fps": found.info.fps,
                  "lifted": int(res.mask.sum()), "total_s": t2 - t0, "weights": weights,
                  "model": res.metadata.get("model")}))
"""


def run_child(video: Path, complexity: int, sampling: str, weights: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(video), str(complexity), sampling, weights],
                         capture_output=True,
                         text=True, timeout=900, env={**os.environ})
    if out.returncode != 0:
        raise SystemExit(f"child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, help="default: the shared test video")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--configs", default="h36m:fast,h36m:model,h36m-streaming:fast",
                    help="WEIGHTS:SAMPLING pairs, comma-separated (default: %(default)s)")
    args = ap.parse_args(argv)
    configs = [tuple(c.split(":", 1)) for c in args.configs.split(",") if c]
    if not configs or any(len(c) != 2 for c in configs):
        raise SystemExit(f"--configs: expected WEIGHTS:SAMPLING pairs; got {args.configs!r}")
    video = args.video
    if video is None:
        shared = shared_dir()
        if shared is None:
            raise SystemExit("no --video and no shared folder ($POSEDIFF_SHARED)")
        video = shared / "data" / "video" / "dancer-600x600-20fps.mp4"
    rows = []
    complexity = 1
    for weights, sampling in configs:
        r = run_child(video, complexity, sampling, weights)
        duration = r["frames"] / r["fps"]
        r.update(detector=f"mediapipe complexity={complexity} ({'full' if complexity else 'lite'})", sampling=sampling,
                 video_s=duration, detect_plus_lift_over_duration=(r["detect_s"] + r["lift_s"]) / duration)
        rows.append(r)
        print(f"{r['detector']:34s} {weights} ({r['model']}) sampling {sampling:5s}: detection {r['detect_s']:5.2f} s "
              f"({r['detect_fps']:5.1f} frames/s), lifting {r['lift_s']:5.2f} s, detection + lifting "
              f"{r['detect_plus_lift_over_duration']:.2f}× the video's {duration:.1f} s; bone CV mean "
              f"{r['bone_cv_mean']:.3f} max {r['bone_cv_max']:.3f}, acceleration {r['accel_mm_per_frame2']:.1f} mm/frame²",
              flush=True)
    peak = matmul_peak(__import__("torch").float32, n=1024)
    print(f"fp32 matmul peak in the same run: {peak['best_tflops'] * 1e3:.0f} GFLOP/s")
    res = {"benchmark": "video_speed", "command": "python benchmarks/video_speed.py "
           + " ".join(argv if argv is not None else sys.argv[1:]), "video": video.name,
           "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "machine": machine_info(), "load_average": load_average(),
           "fp32_matmul_peak_gflops": peak["best_tflops"] * 1e3, "rows": rows}
    return save_result(res, args.out)


if __name__ == "__main__":
    main()
