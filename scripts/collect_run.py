"""Copy a training run's learning curve into ``benchmarks/results/training/<name>.json`` (small, committed).

Reads ``RUN/val_log.csv`` and ``RUN/train_log.csv`` and, when given, the CPU-seconds log written beside the
run (``runs/cpu_seconds.log``: ``epoch_seconds pid name cpu_seconds`` every 30 s) and the process start time,
so every validation point gets its CPU-minutes as well as its wall time::

    python scripts/collect_run.py runs/finepose-small-h36m --name finepose-small-h36m \\
        --cpu-log runs/cpu_seconds.log --start-epoch 1796160565

A run that continued an earlier one (``posediff train --init``, a warm restart) is collected with
``--previous benchmarks/results/training/<earlier>.json``: the earlier curve comes first and this run's
steps, wall and CPU minutes are counted on from the earlier totals (``stages`` records the boundaries).
``--cpu-name`` is the process name in the CPU log when it differs from ``--name``.
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


def with_previous(run: dict, previous: dict, stage_name: str | None = None) -> dict:
    """``run``'s curve counted on from ``previous`` (steps, wall and CPU minutes offset), the two joined; the new
    stage is labelled ``stage_name`` (default: the run's name)."""
    steps0 = int(previous.get("steps") or 0)
    wall0 = float(previous.get("wall_minutes_total") or 0.0)
    cpu0 = previous.get("cpu_minutes_total")

    def shift(p: dict) -> dict:
        q = dict(p, step=p["step"] + steps0)
        if "wall_minutes" in q:
            q["wall_minutes"] = round(q["wall_minutes"] + wall0, 2)
        if "cpu_minutes" in q:
            q["cpu_minutes"] = None if q["cpu_minutes"] is None or cpu0 is None else round(q["cpu_minutes"] + cpu0, 2)
        return q

    recorded = ("command", "commit", "cpu_model", "amp_used")
    stages = list(previous.get("stages") or [{"name": previous.get("name"), "steps": steps0,
                                               "wall_minutes": wall0, "cpu_minutes": cpu0,
                                               **{k: previous[k] for k in recorded if previous.get(k)}}])
    stages.append({"name": stage_name or run["name"], "steps": run.get("steps"), "wall_minutes": run.get("wall_minutes_total"),
                   "cpu_minutes": run.get("cpu_minutes_total"),
                   **{k: run[k] for k in recorded if run.get(k)}})
    cpu = run.get("cpu_minutes_total")
    return dict(run, curve=previous.get("curve", []) + [shift(p) for p in run["curve"]],
                loss=previous.get("loss", []) + [dict(p, step=p["step"] + steps0) for p in run["loss"]],
                steps=steps0 + int(run.get("steps") or 0),
                wall_minutes_total=round(wall0 + float(run.get("wall_minutes_total") or 0.0), 1),
                cpu_minutes_total=None if cpu is None or cpu0 is None else round(cpu0 + cpu, 1),
                stages=stages)


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--name", required=True)
    ap.add_argument("--cpu-log", type=Path)
    ap.add_argument("--start-epoch", type=float, help="process start, seconds since the epoch")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "training")
    ap.add_argument("--cpu-name", help="process name in the CPU log (default: --name)")
    ap.add_argument("--previous", type=Path, help="curve JSON of the run this one was initialised from")
    ap.add_argument("--stage-name", help="label of this run in the joined record's stages (default: --name)")
    ap.add_argument("--until-step", type=int, help="keep the run up to this step (the checkpoint that is shipped)")
    ap.add_argument("--command", help="the command that ran this stage (recorded)")
    ap.add_argument("--commit", help="the commit it ran at (recorded)")
    ap.add_argument("--cpu-model", help="the CPU it ran on (default: this machine's, from /proc/cpuinfo)")
    args = ap.parse_args(argv)
    points: list[tuple[float, float]] = []
    if args.cpu_log and args.cpu_log.is_file() and args.start_epoch:
        for line in args.cpu_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[2] == (args.cpu_name or args.name):
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
    if args.until_step:
        curve = [p for p in curve if p["step"] <= args.until_step]
        loss = [p for p in loss if p["step"] <= args.until_step]
    out = {"name": args.name,
           "validation": "S8 (held out), H = 1, M = 1, evenly spread windows, EMA weights",
           "curve": curve, "loss": loss[:: max(1, len(loss) // 200)],
           "cpu_minutes_total": round(points[-1][1] / 60, 1) if len(points) > 1 else None,
           "steps": summary.get("step"), "wall_minutes_total": round(float(summary.get("total_wall_s", 0)) / 60, 1)}
    if args.until_step:  # totals at the kept checkpoint (its validation point), not at the run's end
        out.update(steps=args.until_step, wall_minutes_total=round(curve[-1]["wall_minutes"], 1),
                   cpu_minutes_total=None if curve[-1]["cpu_minutes"] is None else round(curve[-1]["cpu_minutes"], 1))
    out.update({"command": args.command, "commit": args.commit, "cpu_model": args.cpu_model or _cpu_model(),
                "amp_used": summary.get("amp_used")})
    out = {k: v for k, v in out.items() if v is not None or k in ("cpu_minutes_total",)}
    if args.previous is not None:
        out = with_previous(out, json.loads(args.previous.read_text()), args.stage_name)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(out, indent=1) + "\n")
    print(args.out / f"{args.name}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
