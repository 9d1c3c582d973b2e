"""The learning-curve figure of docs/results.md: held-out S8 MPJPE against CPU-minutes.

Inputs are committed JSON files: ``benchmarks/results/training/*.json`` (posediff runs, written by
``scripts/collect_run.py``), ``benchmarks/results/baseline_mlp.json`` (the single-frame MLP reference) and
``benchmarks/results/recipe_sweep.json`` (short probes, optional)::

    python scripts/plot_learning_curves.py --out docs/img/learning_curves.png
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "learning_curves.png")
    args = ap.parse_args(argv)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for path in sorted((RESULTS / "training").glob("*.json")):
        run = json.loads(path.read_text())
        pts = [(c["cpu_minutes"], c["s8_val_mpjpe_mm"]) for c in run["curve"] if c.get("cpu_minutes") is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, label=f"{run['name']} (posediff, cpu recipe; H=1, M=1, "
                                                      f"{run['curve'][0]['val_windows']} windows)")
    for name, style in (("baseline_mlp.json", "--"), ("baseline_mlp_140.json", ":")):
        mlp = RESULTS / name
        if not mlp.is_file():
            continue
        data = json.loads(mlp.read_text())
        pts = [(c["cpu_minutes"], c["s8_mpjpe_mm"]) for c in data.get("learning_curve", [])]
        if pts:
            ax.plot(*zip(*pts), marker="s", ms=3, color="black", ls=style,
                    label=f"reference: single-frame MLP, {data['budget']['cpu_minutes']:g}-minute budget "
                          "(benchmarks/baseline_mlp.py; all S8 frames)")
    ax.set_xlabel("training CPU-minutes (1 thread per run)")
    ax.set_ylabel("held-out S8 MPJPE (mm), ground-truth 2D")
    ax.set_ylim(0, 250)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Human3.6M, trained on S1/S5/S6/S7, evaluated on held-out S8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
