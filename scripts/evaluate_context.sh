#!/usr/bin/env bash
# Measure issue 19's long-context model and render docs/results.md (the committed command behind its figures).
#   scripts/evaluate_context.sh CHECKPOINT [NAME [regression]]
#   e.g. scripts/evaluate_context.sh runs/finepose-base-h36m/checkpoints/last.pt finepose-base-h36m
# With "regression" (a model trained with --objective regression) every evaluation samples one step and one
# hypothesis with flip (its deterministic prediction): S8 as NAME-h36m-S8-all-h1m1-deployable, detector-like
# input with lift's "realtime" configuration.
# With "quick": only S8, every window, one step and one hypothesis with flip (the configuration of the validation
# during training, over every window instead of 256) as NAME-h36m-S8-all-h1m1-deployable: minutes instead of the
# half hour of the three evaluations, for comparing checkpoints of the campaign on one protocol.
# A checkpoint file, not a run folder: a run folder's default is best.pt, chosen on the same S8 windows.
# Needs the licensed data in $POSEDIFF_SHARED (default ../shared). One thread.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT="$1"
NAME="${2:-finepose-base-h36m}"
MODE="${3:-diffusion}"
case "$MODE" in
  regression) S8_ARGS=(--hypotheses 1 --steps 1); S8_TAG=all-h1m1; DET_ARGS=(--sampling realtime)
    HP_ARGS=(--hypotheses 1 --steps 1) ;;
  quick) S8_ARGS=(--hypotheses 1 --steps 1); S8_TAG=all-h1m1 ;;
  *) S8_ARGS=(--hypotheses 2 --steps 2); S8_TAG=all-fast; DET_ARGS=(); HP_ARGS=() ;;
esac
SHARED="${POSEDIFF_SHARED:-../shared}"
PY="${PYTHON:-.venv/bin/python}"
OUT=benchmarks/results/eval
mkdir -p "$OUT"
# every S8 window, the 'fast' configuration (H=2, M=2, flip; P-Agg is its aggregator), deployable protocol
OMP_NUM_THREADS=1 "$PY" -m posediff evaluate "$CKPT" --data "h36m:$SHARED/data/h36m" --subjects S8 \
  --protocol deployable --precision auto --max-windows 0 "${S8_ARGS[@]}" --batch-size 16 \
  --out "$OUT" --name "$NAME-h36m-S8-$S8_TAG-deployable" --quiet
if [ "$MODE" = quick ]; then
  "$PY" scripts/results_page.py
  exit 0
fi
# detector-like 2D through posediff.lift with its defaults (what a user gets)
OMP_NUM_THREADS=1 "$PY" scripts/detector_like_eval.py --weights "$CKPT" --data "$SHARED/data/h36m" --noise-px 0 3 \
  --drop 0.03 --frames 100 --threads 1 --precision auto --smooth 0 2 ${DET_ARGS[@]+"${DET_ARGS[@]}"} \
  --out "$OUT/$NAME-detector-like.json"
# MPI-INF-3DHP TS5/TS6, cross-dataset
OMP_NUM_THREADS=1 "$PY" -m posediff evaluate "$CKPT" --data "3dhp:$SHARED/data/mpi_inf_3dhp_test" --subjects TS5,TS6 \
  --protocol deployable --precision auto ${HP_ARGS[@]+"${HP_ARGS[@]}"} --out "$OUT" \
  --name "$NAME-3dhp-TS5-TS6-deployable" --quiet
"$PY" scripts/plot_learning_curves.py
"$PY" scripts/results_page.py
