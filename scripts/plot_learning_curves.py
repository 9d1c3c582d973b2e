"""The learning-curve figure of docs/results.md: held-out S8 MPJPE against CPU-minutes.

Inputs are committed JSON files: ``benchmarks/results/training/*.json`` (posediff runs, written by
``scripts/collect_run.py``), ``benchmarks/results/baseline_mlp.json`` (the single-frame MLP reference) and
``benchmarks/results/recipe_sweep.json`` (short probes, optional)::

    python scripts/plot_learning_curves.py --out docs/img/learning_curves.png

The runs of issue 19's item 6 (``prompts27-*``, ``scripts/prompt_question.sh``: FinePOSE and D3DP at 27 frames,
two seeds each) get a figure of their own beside it, ``prompt_question.png``. A CPU-minute is a busy core's
minute on the CPU each run names (runs on different CPUs differ in speed per minute).
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
    # left: the whole curves on a log-scaled time axis; right: the same, zoomed on the y range where the
    # curves differ (the end of training), so that a few millimetres are readable
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), dpi=120)
    series = []
    for path in sorted((RESULTS / "training").glob("*.json")):
        if path.name.startswith(PROMPT_RUNS_PREFIX):
            continue
        run = json.loads(path.read_text())
        pts = [(c["cpu_minutes"], c["s8_val_mpjpe_mm"]) for c in run["curve"] if c.get("cpu_minutes") is not None]
        if pts:
            frames = run.get("frames")
            series.append((pts, dict(marker="o", ms=3, label=f"{run['name']}"
                                     + (f" ({frames} frames)" if frames else "")
                                     + f" (posediff, cpu recipe; H=1, M=1, {run['curve'][0]['val_windows']} windows"
                                     + (f"; {run['cpu_model']}" if run.get("cpu_model") else "") + ")")))
    for name, style in (("baseline_mlp.json", "--"), ("baseline_mlp_140.json", ":")):
        mlp = RESULTS / name
        if not mlp.is_file():
            continue
        data = json.loads(mlp.read_text())
        pts = [(c["cpu_minutes"], c["s8_mpjpe_mm"]) for c in data.get("learning_curve", [])]
        if pts:
            series.append((pts, dict(marker="s", ms=3, color="black", ls=style,
                                     label=f"reference: single-frame MLP, {data['budget']['cpu_minutes']:g}-minute "
                                           "budget (benchmarks/baseline_mlp.py; all S8 frames)")))
    for ax, zoom in zip(axes, (False, True)):
        for pts, style in series:
            ax.plot(*zip(*pts), **style)
        ax.set_xlabel("training CPU-minutes (1 thread per run" + (", log scale)" if not zoom else ")"))
        ax.set_ylabel("held-out S8 MPJPE (mm), ground-truth 2D")
        ax.grid(alpha=0.3, which="both")
        if zoom:
            ends = [min(y for _, y in pts) for pts, _ in series]
            lo = 5 * int(min(ends) // 5) - 5 if ends else 30
            ax.set_ylim(lo, lo + 30)
            ax.set_title("zoomed: where the curves end")
        else:
            ax.set_xscale("log")
            top = max((y for pts, _ in series for _, y in pts), default=130)
            ax.set_ylim(0, min(250, 10 * (int(top) // 10 + 1)))  # every curve whole, runs from scratch included
            ax.set_title("Human3.6M, trained on S1/S5/S6/S7, evaluated on held-out S8")
            ax.legend(fontsize=7)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.out)
    print(args.out)
    prompts_out = args.out.with_name("prompt_question.png")
    if plot_prompt_runs(prompts_out):
        print(prompts_out)
    return 0


PROMPT_RUNS_PREFIX = "prompts27-"
PROMPT_COLORS = {"finepose-offline": "tab:blue", "finepose-minilm": "tab:green", "d3dp": "tab:red"}


def plot_prompt_runs(out: Path) -> bool:
    """Item 6's curves (validation MPJPE against training CPU-minutes): colour by variant, line style by seed.
    Returns False (no file) when none of its runs is recorded."""
    runs = sorted((RESULTS / "training").glob(f"{PROMPT_RUNS_PREFIX}*.json"))
    if not runs:
        return False
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=120)
    for path in runs:
        run = json.loads(path.read_text())
        variant, _, seed = run["name"][len(PROMPT_RUNS_PREFIX):].rpartition("-s")
        pts = [(c["cpu_minutes"], c["s8_val_mpjpe_mm"]) for c in run["curve"] if c.get("cpu_minutes") is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, color=PROMPT_COLORS.get(variant), ls="-" if seed == "1" else "--",
                    label=f"{variant}, seed {seed}")
    ax.set_xlabel("training CPU-minutes (1 thread per run)")
    ax.set_ylabel("held-out S8 MPJPE (mm), 256 windows, H=1, M=1")
    ax.set_title("FinePOSE vs D3DP at 27 frames (scripts/prompt_question.sh)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    return True


if __name__ == "__main__":
    raise SystemExit(main())
