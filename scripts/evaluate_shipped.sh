#!/usr/bin/env bash
# Measure the shipped models and render docs/results.md (the committed command behind every figure there).
#   scripts/evaluate_shipped.sh [MAX_WINDOWS]      (0 = every S8 window; default 0)
#   MODELS="finepose-small-h36m" scripts/evaluate_shipped.sh 2000   (only the models named; default both)
# Needs the licensed data in $POSEDIFF_SHARED (default ../shared). Runs one process per model, 1 thread each.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${POSEDIFF_SHARED:-../shared}"
MAXW="${1:-0}"
PY="${PYTHON:-.venv/bin/python}"
OUT=benchmarks/results/eval
mkdir -p "$OUT"
one() {  # one model: S8 (both protocols), 3DHP TS5/TS6, detector-like 2D
  local m="$1"
  OMP_NUM_THREADS=1 "$PY" -m posediff evaluate "$m" --data "h36m:$SHARED/data/h36m" --subjects S8 --protocol both \
    --precision bf16 --max-windows "$MAXW" --batch-size 32 --out "$OUT" --name "$m-h36m-S8" --quiet
  # every S8 window with the fast sampling configuration (H=2, M=2, flip; its aggregator, the mean, is P-Agg)
  OMP_NUM_THREADS=1 "$PY" -m posediff evaluate "$m" --data "h36m:$SHARED/data/h36m" --subjects S8 --protocol both \
    --precision bf16 --max-windows 0 --hypotheses 2 --steps 2 --batch-size 64 \
    --out "$OUT" --name "$m-h36m-S8-all-fast" --quiet
  OMP_NUM_THREADS=1 "$PY" -m posediff evaluate "$m" --data "3dhp:$SHARED/data/mpi_inf_3dhp_test" --subjects TS5,TS6 \
    --protocol deployable --precision bf16 --out "$OUT" --name "$m-3dhp-TS5-TS6-deployable" --quiet
  OMP_NUM_THREADS=1 "$PY" scripts/detector_like_eval.py --weights "$m" --data "$SHARED/data/h36m" --noise-px 0 3 \
    --drop 0.03 --frames 100 --threads 1 --precision bf16 --out "$OUT/$m-detector-like.json"
  # the same with the 'fast' sampling configuration (docs/lifting.md compares the two)
  OMP_NUM_THREADS=1 "$PY" scripts/detector_like_eval.py --weights "$m" --data "$SHARED/data/h36m" --noise-px 0 3 \
    --drop 0.03 --frames 100 --threads 1 --precision bf16 --sampling fast --out "$OUT/$m-detector-like-fast.json"
}
for m in ${MODELS:-finepose-small-h36m d3dp-small-h36m}; do
  one "$m" > "$OUT/$m.log" 2>&1 &
done
wait
# the aggregator table of docs/lifting.md (S8 video), and the choice of jpma_temporal's smoothness (S1, training data)
OMP_NUM_THREADS=1 "$PY" scripts/video_smoothness_eval.py --data "$SHARED/data/h36m" --subjects S8 --frames 150 --every 3 \
  --configs fast:mean fast:jpma fast:jpma_temporal realtime:mean model:mean model:jpma model:jpma_temporal model:median \
  paper:mean --out "$OUT/video_smoothness-S8.json" --docs docs/lifting.md
OMP_NUM_THREADS=1 "$PY" scripts/video_smoothness_eval.py --data "$SHARED/data/h36m" --subjects S1 --frames 150 --every 3 \
  --configs model:mean model:jpma model:jpma_temporal:smoothness=0.5 model:jpma_temporal:smoothness=1 \
  model:jpma_temporal:smoothness=2 model:jpma_temporal:smoothness=4 --out "$OUT/video_smoothness-S1-smoothness.json"
"$PY" scripts/plot_learning_curves.py
"$PY" scripts/results_page.py
