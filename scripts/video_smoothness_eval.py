"""Which aggregator and sampling configuration suit video: MPJPE, MPJVE and acceleration error of ``posediff.lift``.

For S8 (held out) or another subject, the first ``--frames`` frames of every ``--every``-th sequence of the first
camera are lifted from ground-truth 2D exactly as a user would (``posediff.lift``: windows blended, camera
given), with each (sampling configuration, aggregator) of ``--configs``. The same noise seed is used for every
row. Writes JSON (``--out``) and prints a Markdown table::

    python scripts/video_smoothness_eval.py --data ../shared/data/h36m --subjects S8 \\
        --out benchmarks/results/eval/video_smoothness-S8.json

Use a training subject (``--subjects S1``) to choose options such as ``jpma_temporal``'s smoothness without
looking at the held-out data.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import posediff
from posediff import metrics as M
from posediff.build import build_component
from posediff.training.datasets import load_dataset

START, END = "<!-- video-smoothness:start -->", "<!-- video-smoothness:end -->"
"""Markers of the generated block in ``docs/lifting.md`` (``--docs``)."""

DEFAULT_CONFIGS = ("fast:mean", "model:mean", "model:jpma", "model:jpma_temporal", "model:median",
                   "paper:mean", "paper:jpma_temporal")


def parse_config(text: str) -> tuple[dict, dict]:
    """``SAMPLING:AGGREGATOR[:KEY=VALUE,...]`` → (``lift`` keyword arguments, aggregator table). SAMPLING is a
    named configuration (``fast``, ``model``, ``paper``) or ``H=5,M=1,flip=off`` (on top of ``model``)."""
    parts = text.split(":")
    table: dict = {"name": parts[1]}
    for kv in (parts[2].split(",") if len(parts) > 2 else []):
        k, v = kv.split("=")
        table[k] = float(v)
    if "=" not in parts[0]:
        return {"sampling": parts[0]}, table
    kv = dict(item.split("=") for item in parts[0].split(","))
    return {"sampling": "model", "hypotheses": int(kv["H"]), "steps": int(kv["M"]),
            "flip": kv.get("flip", "on") == "on"}, table


def table(out: dict) -> str:
    """The Markdown block of ``docs/lifting.md``: one row per configuration of a result file."""
    lines = [f"`{out['command']}` — {out['weights']}, held-out {out['subjects']}, {out['clips']}; "
             f"{out['input']}; sampled in {out['precision']}, seed {out['seed']}.", "",
             "| sampling | aggregator | H | M | flip | MPJPE (mm) | MPJVE (mm/frame) | accel. error (mm/frame²) |",
             "|---|---|---:|---:|---|---:|---:|---:|"]
    for r in out["rows"]:
        agg = r["aggregator"]["name"] + "".join(f", {k}={v:g}" for k, v in r["aggregator"].items() if k != "name")
        lines.append(f"| {r['sampling']} | {agg} | {r['hypotheses']} | {r['steps']} | {'on' if r['flip'] else 'off'} | "
                     f"{r['mpjpe_mm']:.2f} | {r['mpjve_mm']:.2f} | {r['accel_mm']:.2f} |")
    return "\n".join(lines)


def write_docs(out: dict, page: Path) -> None:
    """Replace the block between :data:`START` and :data:`END` of ``page`` with :func:`table`."""
    text = page.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{page}: no {START} ... {END} block")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    page.write_text(f"{head}{START}\n{table(out)}\n{END}{tail}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="finepose-small-h36m")
    ap.add_argument("--data", required=True, help="Human3.6M folder (VideoPose3D layout)")
    ap.add_argument("--subjects", default="S8")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--every", type=int, default=1, help="every n-th sequence of the first camera")
    ap.add_argument("--configs", nargs="+", default=list(DEFAULT_CONFIGS),
                    help="SAMPLING:AGGREGATOR[:KEY=VALUE,...], e.g. model:jpma_temporal:smoothness=4")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="bf16")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--docs", type=Path, help="also rewrite the generated table of this page (docs/lifting.md)")
    args = ap.parse_args(argv)
    import shlex
    import sys

    command = " ".join(["python", "scripts/video_smoothness_eval.py"]
                       + [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])])
    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifter = posediff.load(args.weights)
    lifter.fast_sampling(args.precision)
    ds = load_dataset(f"h36m:{args.data}", args.subjects.split(","), role="val")
    seqs = [s for s in ds if s.camera_name == ds.cameras[0]][:: args.every]
    rows = []
    for cfg in args.configs:
        lift_kw, table = parse_config(cfg)
        agg = build_component("aggregator", table)
        t0 = time.perf_counter()
        errs: dict[str, list[tuple[int, float]]] = {"mpjpe_mm": [], "mpjve_mm": [], "accel_mm": []}
        for seq in seqs:
            n = min(args.frames, seq.num_frames)
            x2d = np.asarray(seq.x2d[:n], dtype=np.float32)
            gt = torch.as_tensor(np.asarray(seq.x3d[:n]), dtype=torch.float64)
            gt = gt - gt[:, :1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = posediff.lift(x2d, lifter=lifter, format="h36m-17", coords="normalized", camera=seq.camera,
                                    aggregator=agg, seed=args.seed, **lift_kw)
            pred = torch.as_tensor(np.asarray(res.poses3d), dtype=torch.float64)
            errs["mpjpe_mm"].append((n, 1000 * float(M.mpjpe(pred, gt))))
            errs["mpjve_mm"].append((n, 1000 * float(M.mpjve(pred, gt))))
            errs["accel_mm"].append((n, 1000 * float(M.acceleration_error(pred, gt))))
        row = {"config": cfg, "sampling": cfg.split(":")[0], "aggregator": table,
               "hypotheses": res.metadata["hypotheses"], "steps": res.metadata["steps"], "flip": res.metadata["flip"],
               **{k: float(np.average([v for _, v in vals], weights=[w for w, _ in vals])) for k, vals in errs.items()},
               "seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        print(f"{cfg}: MPJPE {row['mpjpe_mm']:.2f} mm, MPJVE {row['mpjve_mm']:.2f} mm/frame, "
              f"accel {row['accel_mm']:.2f} mm/frame² ({row['seconds']} s)", flush=True)
    out = {"command": command, "weights": args.weights, "subjects": args.subjects, "data": "$POSEDIFF_SHARED/data/h36m",
           "clips": f"first {args.frames} frames of every {args.every}. sequence of the first camera "
                    f"({len(seqs)} sequences)", "input": "ground-truth 2D, camera given, posediff.lift",
           "precision": args.precision, "seed": args.seed, "rows": rows, "torch": str(torch.__version__)}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    if args.docs:
        write_docs(out, args.docs)
    print("\n| sampling | aggregator | H | M | flip | MPJPE (mm) | MPJVE (mm/frame) | accel. error (mm/frame²) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        agg = r["aggregator"]["name"] + "".join(f", {k}={v:g}" for k, v in r["aggregator"].items() if k != "name")
        print(f"| {r['sampling']} | {agg} | {r['hypotheses']} | {r['steps']} | {'on' if r['flip'] else 'off'} | "
              f"{r['mpjpe_mm']:.2f} | {r['mpjve_mm']:.2f} | {r['accel_mm']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
