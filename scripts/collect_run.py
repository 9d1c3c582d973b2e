"""Copy a training run's learning curve into ``benchmarks/results/training/<name>.json`` (small, committed).

Reads ``RUN/val_log.csv`` and ``RUN/train_log.csv`` and, when given, the CPU-seconds log written beside the
run (``runs/cpu_seconds.log``: ``epoch_seconds pid name cpu_seconds`` every 30 s) and the process start time,
so every validation point gets its CPU-minutes as well as its wall time::

    python scripts/collect_run.py runs/finepose-small-h36m --name finepose-small-h36m \\
        --cpu-log runs/cpu_seconds.log --start-epoch 1796160565
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cpu_at(points: list[tuple[float, float]], t: float) -> float | None:
    """CPU seconds at absolute time ``t`` by linear interpolation of ``(time, cpu)`` points."""
    if not points:
        return None
    if t <= points[0][0]:
        return points[0][1] * max(0.0, t) / max(points[0][0], 1e-9) if points[0][0] > 0 else points[0][1]
    for (t0, c0), (t1, c1) in zip(points, points[1:]):
        if t0 <= t <= t1:
            return c0 + (c1 - c0) * (t - t0) / max(t1 - t0, 1e-9)
    return points[-1][1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--name", required=True)
    ap.add_argument("--cpu-log", type=Path)
    ap.add_argument("--start-epoch", type=float, help="process start, seconds since the epoch")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "training")
    args = ap.parse_args(argv)
    points: list[tuple[float, float]] = []
    if args.cpu_log and args.cpu_log.is_file() and args.start_epoch:
        for line in args.cpu_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[2] == args.name:
                points.append((float(parts[0]) - args.start_epoch, float(parts[3])))
    points = [(0.0, 0.0)] + sorted(points)
    val = list(csv.DictReader(open(args.run / "val_log.csv")))
    train = list(csv.DictReader(open(args.run / "train_log.csv")))
    # elapsed_s counts from the start of train(); the process started a few seconds earlier (imports, data)
    curve = []
    for r in val:
        wall = float(r["elapsed_s"])
        cpu = cpu_at(points, wall) if len(points) > 1 else None
        curve.append({"step": int(r["step"]), "wall_minutes": round(wall / 60, 2),
                      "cpu_minutes": None if cpu is None else round(cpu / 60, 2),
                      "s8_val_mpjpe_mm": float(r["val_mpjpe_mm"]), "val_windows": int(r["val_windows"])})
    loss = [{"step": int(r["step"]), "loss_m": float(r["loss"]), "lr": float(r["lr"])} for r in train]
    summary = json.loads((args.run / "summary.json").read_text()) if (args.run / "summary.json").is_file() else {}
    out = {"name": args.name,
           "validation": "S8 (held out), H = 1, M = 1, evenly spread windows, EMA weights",
           "curve": curve, "loss": loss[:: max(1, len(loss) // 200)],
           "cpu_minutes_total": round(points[-1][1] / 60, 1) if len(points) > 1 else None,
           "steps": summary.get("step"), "wall_minutes_total": round(float(summary.get("total_wall_s", 0)) / 60, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(out, indent=1) + "\n")
    print(args.out / f"{args.name}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
