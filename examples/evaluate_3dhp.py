"""Evaluate a lifter on MPI-INF-3DHP TS5/TS6 under the deployable and the paper protocols.

    python examples/evaluate_3dhp.py --weights runs/3dhp/checkpoints/last.pt
    python examples/evaluate_3dhp.py --quick      # untrained small model, 4 windows: checks the pipeline

The real test sequences are read from ``$POSEDIFF_SHARED/data/mpi_inf_3dhp_test`` (default
``../shared``, next to the repository) or ``--data DIR``; when absent the script falls back to
posediff's synthetic data set (procedural motion, not a benchmark) and says so.

Without ``--weights`` the model is an *untrained* ``d3dp-tiny`` on the 3DHP joint set: the numbers
are then meaningless, the point is the report. The two protocols differ in what the model may know
at test time (docs: Evaluation protocols): "deployable" uses only the 2D and the camera intrinsics,
"paper" gives JPMA the ground-truth root (and, on H36M, the prompt the ground-truth action).
P-Best and J-Best are oracles that choose hypotheses with the ground-truth 3D.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

import posediff
from posediff.data import load_3dhp_test_dir, make_synthetic
from posediff.evaluation import evaluate_protocols


def _shared_3dhp(explicit: str) -> Path | None:
    if explicit:
        return Path(explicit)
    shared = os.environ.get("POSEDIFF_SHARED")
    root = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    path = root / "data" / "mpi_inf_3dhp_test"
    return path if (path / "TS5" / "annot_data.mat").is_file() else None


def main(argv: list[str] | None = None) -> int:
    """Run the example; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="", help="posediff checkpoint (default: untrained d3dp-tiny)")
    parser.add_argument("--data", default="", help="folder with TS5/annot_data.mat, TS6/annot_data.mat")
    parser.add_argument("--hypotheses", type=int, default=0, help="H (default: the model's)")
    parser.add_argument("--steps", type=int, default=0, help="M (default: the model's)")
    parser.add_argument("--max-windows", type=int, default=0, help="evaluate at most this many windows")
    parser.add_argument("--out", default="", help="write the reports (.json, .md) into this folder")
    parser.add_argument("--quick", action="store_true", help="H=2, M=2, 4 windows, for CI")
    args = parser.parse_args(argv)
    if args.quick:
        torch.set_num_threads(1)

    folder = _shared_3dhp(args.data)
    if folder is not None:
        data = load_3dhp_test_dir(folder, sequences=["TS5", "TS6"])
        description = f"MPI-INF-3DHP test TS5, TS6 (outdoor), real motion capture, from {folder}"
        skeleton = "3dhp-17"
    else:
        data = make_synthetic(subjects=1, cameras=1, frames=120, seed=1)
        description = "posediff synthetic motion (3DHP data not found): procedural, NOT a benchmark"
        skeleton = "h36m-17"
    print(f"data: {description}")
    print("\n".join("  " + line for line in data.summary().splitlines()))

    if args.weights:
        lifter = posediff.load(args.weights)
        source = args.weights
    else:
        lifter = posediff.build("d3dp-tiny", overrides={"lifter.skeleton": skeleton})
        source = "untrained d3dp-tiny (random weights)"
    print(f"model: {source}")

    h = args.hypotheses or (2 if args.quick else None)
    m = args.steps or (2 if args.quick else None)
    reports = evaluate_protocols(
        lifter, data, protocols=("deployable", "paper"), hypotheses=h, steps=m,
        max_windows=args.max_windows or (4 if args.quick else 0),
        data_description=description, source=source,
    )
    print()
    print(f"{'aggregator':<34} {'deployable':>12} {'paper':>12}   (MPJPE mm, last sampler step)")
    for agg in ("J-Agg", "P-Agg", "P-Best", "J-Best"):
        label = agg + (" (oracle: uses GT 3D)" if agg in ("P-Best", "J-Best") else "")
        vals = [reports[p].value(agg, "mpjpe_mm") for p in ("deployable", "paper")]
        cells = [f"{v:12.1f}" if v is not None else f"{'n/a':>12}" for v in vals]
        print(f"{label:<34} {cells[0]} {cells[1]}")
    if folder is not None:
        pck = reports["deployable"].value("J-Agg", "pck")
        auc = reports["deployable"].value("J-Agg", "auc")
        print(f"J-Agg, deployable: PCK@150mm {pck:.1f} %, AUC {auc:.1f} %")
    if args.out:
        for name, report in reports.items():
            paths = report.save(args.out, f"3dhp_{name}")
            print(f"wrote {', '.join(str(p) for p in paths)}")
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
