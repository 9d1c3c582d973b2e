"""Package a finished training run as shipped weights: ``posediff/assets/weights/<name>.pt`` + ``<name>.json``.

The checkpoint keeps only what inference needs (spec, the run's weights — the EMA weights for the cpu
recipe — and a short ``extra`` record), never the optimizer or the random states, so it stays small. The
JSON record holds the provenance that ``posediff.weights`` checks and the docs quote: SHA-256 of the ``.pt``,
spec, the training command as run (data path as ``$POSEDIFF_SHARED``), commit, SHA-256 of the data file,
steps, wall and CPU minutes, threads, PyTorch version.

Usage::

    python scripts/package_weights.py runs/finepose-small-h36m --name finepose-small-h36m \\
        --commit cd5a693 --command "OMP_NUM_THREADS=1 posediff train finepose-small-h36m ..." \\
        --data-file $POSEDIFF_SHARED/data/h36m/data_3d_h36m.npz --cpu-log runs/cpu_seconds.log

A run that continued an earlier one (``posediff train --init <earlier run>/checkpoints/last.pt``, a warm
restart of the schedule) is packaged with ``--previous <the earlier model's record>.json``: the record then
lists both stages (command, commit, steps, minutes of each) under ``stages`` and its ``steps``,
``cpu_minutes`` and ``wall_minutes`` are the totals over the stages. ``--previous`` may be given several
times (their stages are listed in that order) and may name a campaign's training record
(``benchmarks/results/training/<name>.json``) with ``:N`` for its first N stages, e.g. the shipped 81-frame
model: ``--previous posediff/assets/weights/finepose-small-h36m.json
--previous benchmarks/results/training/finepose-base-h36m.json:3:3`` (its stage 3 alone, 1-based: the first
81-frame stage; ``FILE:N`` is stages 1 to N).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from posediff.build import build  # noqa: E402
from posediff.checkpoints import file_sha256, read_checkpoint, save_checkpoint  # noqa: E402
from posediff.loading import regenerable_keys  # noqa: E402
from posediff.checkpoints import tensors_digest  # noqa: E402

MAX_BYTES = 15 * 1024 * 1024


def cpu_minutes(log: Path, name: str) -> float | None:
    """Largest cumulative CPU seconds logged for the training process of ``name``, in minutes."""
    if not log.is_file():
        return None
    best = None
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] == name:
            best = max(best or 0.0, float(parts[3]))  # the logger writes seconds with a decimal
    return None if best is None else round(best / 60.0, 1)


STAGE_KEYS = ("command", "commit", "steps", "wall_minutes", "cpu_minutes", "threads", "train_config")


def stages_of(record: dict, first: int = 1, last: int | None = None) -> list[dict]:
    """Stages ``first`` to ``last`` (1-based, inclusive; ``last=None``: to the end) of a record.

    A record without ``stages`` is one stage. Each stage keeps :data:`STAGE_KEYS` and, where the record has
    them, its ``name``, ``cpu_model`` and ``amp_used``.
    """
    stages = list(record.get("stages") or [{k: record.get(k) for k in STAGE_KEYS}])
    picked = stages[first - 1:last]
    if not picked or first < 1 or (last is not None and last > len(stages)):
        raise SystemExit(f"stages {first}..{last or len(stages)} asked of a record with {len(stages)} stage(s)")
    keys = STAGE_KEYS + ("name", "cpu_model", "amp_used")
    return [{k: st[k] for k in keys if k in st} for st in picked]


def previous_stages(arg: str) -> list[dict]:
    """The stages named by one ``--previous`` argument: ``FILE``, ``FILE:N`` (1..N) or ``FILE:A:B`` (A..B)."""
    parts = arg.split(":")
    bounds = [int(x) for x in parts[1:]]
    if len(bounds) > 2:
        raise SystemExit(f"--previous {arg!r}: expected FILE, FILE:N or FILE:A:B")
    first, last = (1, bounds[0]) if len(bounds) == 1 else (tuple(bounds) if bounds else (1, None))
    return stages_of(json.loads(Path(parts[0]).read_text()), first, last)


def with_previous_stage(record: dict, previous: dict | list[dict]) -> dict:
    """``record`` (of the last stage) with the stages before it listed and the totals summed.

    Args:
        record: The record of the stage just packaged.
        previous: The record of the model it was initialised from (itself possibly multi-stage), or the
            list of earlier stages (:func:`previous_stages`).

    Returns:
        A new record: ``stages`` = the previous stages then this one; ``steps``, ``wall_minutes`` and
        ``cpu_minutes`` are totals (``cpu_minutes`` None when a stage lacks it).
    """
    stages = list(previous) if isinstance(previous, list) else stages_of(previous)
    stages.append({k: record.get(k) for k in STAGE_KEYS})
    out = dict(record)
    out["stages"] = stages
    out["steps"] = sum(int(st["steps"] or 0) for st in stages)
    out["wall_minutes"] = round(sum(float(st["wall_minutes"] or 0.0) for st in stages), 1)
    cpu = [st["cpu_minutes"] for st in stages]
    out["cpu_minutes"] = None if any(c is None for c in cpu) else round(sum(cpu), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="run folder (checkpoints/last.pt)")
    ap.add_argument("--name", required=True, help="shipped model name, e.g. finepose-small-h36m")
    ap.add_argument("--commit", required=True, help="commit the run was trained with")
    ap.add_argument("--command", required=True, help="the training command as run (no machine paths)")
    ap.add_argument("--data-file", type=Path, required=True, help="the training data file (hashed)")
    ap.add_argument("--cpu-log", type=Path, help="CPU-seconds log written while the run trained")
    ap.add_argument("--cpu-name", help="process name in the CPU log (default: the spec's name)")
    ap.add_argument("--previous", action="append", default=[],
                    help="record (JSON) of the model this run was initialised from; repeatable; FILE:N or FILE:A:B "
                    "for stages 1..N or A..B of a multi-stage record")
    ap.add_argument("--checkpoint", default="last.pt", help="which checkpoint of the run (e.g. step_00007000.pt)")
    ap.add_argument("--cpu-minutes", type=float, help="CPU-minutes up to that checkpoint (default: from --cpu-log, "
                    "the whole run)")
    ap.add_argument("--threads", type=int, default=1, help="threads the run used")
    ap.add_argument("--results", type=Path, help="JSON of headline results to copy into the record")
    ap.add_argument("--out", type=Path, default=REPO / "posediff" / "assets" / "weights")
    args = ap.parse_args(argv)
    if "/work/" in args.command or "/home/" in args.command:
        ap.error("--command must not hold machine paths (write $POSEDIFF_SHARED)")

    ckpt = read_checkpoint(args.run / "checkpoints" / args.checkpoint)
    tr = ckpt.get("training") or {}
    cfg = dict(tr.get("config") or {})
    if str(cfg.get("data", "")).startswith("h36m:"):  # never a machine path in the record
        cfg["data"] = "h36m:$POSEDIFF_SHARED/data/h36m"
    summary = json.loads((args.run / "summary.json").read_text()) if (args.run / "summary.json").is_file() else {}
    state = {k: v.detach().to(torch.float32) if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
    spec = ckpt["spec"]
    extra = {"kind": "shipped", "name": args.name, "steps": int(tr.get("step", 0)),
             "ema": bool(cfg.get("ema_decay", 0)), "train_subjects": cfg.get("train_subjects", [])}
    # frozen tensors that the spec rebuilds bit for bit (the seeded offline text tower) are not stored
    lifter = build(spec)
    lifter.load_state_dict(state, strict=True)
    regen = regenerable_keys(lifter, spec)
    payload = {"format": "posediff", "version": 1, "spec": spec,
               "state_dict": {k: v for k, v in state.items() if k not in set(regen)}, "extra": extra}
    if regen:
        payload["regenerated"] = {"keys": regen, "sha256": tensors_digest(state, regen)}
    pt = args.out / f"{args.name}.pt"
    save_checkpoint(payload, pt)
    side = pt.with_name(pt.name + ".sha256")
    if side.exists():
        side.unlink()  # the JSON record carries the hash
    size = pt.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{pt.name} is {size / 2**20:.1f} MiB, over the 15 MiB limit")
    record = {
        "name": args.name,
        "sha256": file_sha256(pt),
        "bytes": size,
        "preset": spec.get("meta", {}).get("name", args.name),
        "spec": spec,
        "command": args.command,
        "commit": args.commit,
        "data": {"selector": "h36m:$POSEDIFF_SHARED/data/h36m", "file": args.data_file.name,
                 "file_sha256": file_sha256(args.data_file), "train_subjects": cfg.get("train_subjects", []),
                 "held_out": cfg.get("val_subjects", []), "keypoints": "ground-truth 2D (projected 3D)"},
        "recipe": cfg.get("recipe"),
        "train_config": cfg,
        "steps": int(tr.get("step", 0)),
        "epochs_completed": int(tr.get("epoch", 0)),
        "wall_minutes": round(float(tr.get("elapsed_s", summary.get("total_wall_s", 0.0))) / 60.0, 1),
        "cpu_minutes": (args.cpu_minutes if args.cpu_minutes is not None else
                        cpu_minutes(args.cpu_log, args.cpu_name or spec.get("meta", {}).get("name", args.name))
                        if args.cpu_log else None),
        "threads": args.threads,
        "torch": tr.get("torch_version", str(torch.__version__)),
        "parameters": int(sum(v.numel() for v in state.values())),
        "trainable_parameters": int(sum(p.numel() for p in lifter.parameters() if p.requires_grad)),
        "stored_tensors": len(state) - len(regen),
        "rebuilt_from_spec": regen,
    }
    if args.previous:
        record = with_previous_stage(record, [st for arg in args.previous for st in previous_stages(arg)])
    if args.results and args.results.is_file():
        record["results"] = json.loads(args.results.read_text())
    pt.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"{pt} ({size / 2**20:.2f} MiB, sha256 {record['sha256'][:16]}…), record {pt.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
