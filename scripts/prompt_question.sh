#!/usr/bin/env bash
# Issue 19 item 6: FinePOSE against the same backbone without prompts (D3DP) at equal context and budget,
# two training seeds each, FinePOSE with the `offline` and with the `minilm` text encoder. The committed
# command behind the results page's table "What the prompts are worth with context".
#   scripts/prompt_question.sh [VARIANT:SEED ...]      (default: every variant, seeds 1 and 2)
# VARIANT: finepose-offline | finepose-minilm | d3dp. Every run: 27 frames (0.54 s at 50 Hz), width 128, depth 4,
# from random weights, the CPU recipe with batch 32, lr 1e-3, 100 warm-up steps and 1,200 steps, one thread;
# validation every 200 steps on 256 windows of the held-out S8. Each run's curve (validation MPJPE against
# training CPU-minutes) is collected into benchmarks/results/training/prompts27-VARIANT-sSEED.json.
# Needs the licensed data in $POSEDIFF_SHARED (default ../shared); the minilm variant needs posediff[minilm].
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${POSEDIFF_SHARED:-../shared}"
PY="${PYTHON:-.venv/bin/python}"
STEPS="${PROMPT_QUESTION_STEPS:-1200}"
RUNS=("$@")
if [ ${#RUNS[@]} -eq 0 ]; then
  RUNS=(finepose-offline:1 d3dp:1 finepose-minilm:1 finepose-offline:2 d3dp:2 finepose-minilm:2)
fi
mkdir -p runs
COMMIT="$(git rev-parse --short HEAD)"
for item in "${RUNS[@]}"; do
  variant="${item%%:*}" seed="${item##*:}"
  case "$variant" in
    finepose-offline) preset=finepose-base-h36m; sets=() ;;
    finepose-minilm) preset=finepose-base-h36m
      sets=(--set conditioner.text_encoder.name=minilm --set conditioner.train_modifiers=false) ;;
    d3dp) preset=d3dp-base-h36m; sets=() ;;
    *) echo "prompt_question.sh: unknown variant $variant (finepose-offline, finepose-minilm, d3dp)" >&2; exit 2 ;;
  esac
  name="prompts27-$variant-s$seed"
  out="runs/$name"
  args=(train "$preset" --set lifter.frames=27 ${sets[@]+"${sets[@]}"} --recipe cpu --data "h36m:$SHARED/data/h36m"
    --train-subjects S1,S5,S6,S7 --val-subjects S8 --out "$out" --batch-size 32 --lr 1e-3 --warmup-steps 100
    --seed "$seed" --shuffle-seed "$((1300 + seed))" --max-steps "$STEPS" --val-every 200 --val-windows 256
    --checkpoint-every 400 --no-progress --log-every 20)
  if [ -f "$out/summary.json" ]; then echo "$name: done before, collecting only"; else
    rm -rf "$out"
    date +%s > "$out.start"
    OMP_NUM_THREADS=1 "$PY" -m posediff "${args[@]}" > "$out.log" 2>&1 &
    pid=$!
    "$PY" scripts/log_cpu_seconds.py "$pid" "$name" --out runs/cpu_seconds.log --every 10 &
    wait "$pid"
  fi
  # the recorded command is the one that ran, with the shared folder written as $POSEDIFF_SHARED (no machine path)
  shown="OMP_NUM_THREADS=1 posediff ${args[*]}"
  shown="${shown//h36m:$SHARED/h36m:\$POSEDIFF_SHARED}"
  "$PY" scripts/collect_run.py "$out" --name "$name" --cpu-log runs/cpu_seconds.log --start-epoch "$(cat "$out.start")" \
    --command "$shown" --commit "$COMMIT"
done
