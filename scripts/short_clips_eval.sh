#!/usr/bin/env bash
# Clips shorter than the default model's 81-frame window are lifted in one padded window: how do they fare
# against the 9-frame model? Held-out S8 as a detector gives it (scripts/detector_like_eval.py: COCO-17 pixels,
# 3 px noise, 3 % dropped, no camera, posediff.lift defaults), clips of 20 and 40 frames, both shipped models.
#   POSEDIFF_SHARED=../shared scripts/short_clips_eval.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${POSEDIFF_SHARED:-../shared}"
PY="${PYTHON:-.venv/bin/python}"
for frames in 20 40; do
  for weights in h36m h36m-streaming; do
    OMP_NUM_THREADS=1 "$PY" scripts/detector_like_eval.py --weights "$weights" --data "$SHARED/data/h36m" \
      --noise-px 3 --drop 0.03 --frames "$frames" --threads 1 --precision auto \
      --out "benchmarks/results/eval/short-clips-$frames-$weights.json"
  done
done
