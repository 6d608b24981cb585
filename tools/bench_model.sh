#!/usr/bin/env bash
# Makes the `small` Llama preset (about 100M parameters, f32) if needed and runs the model
# benchmarks (sgemm, prefill, decode, copy bandwidth). Figures in README "Performance".
set -euo pipefail
cd "$(dirname "$0")/.."
model=${PIPESHARD_BENCH_MODEL:-/tmp/pipeshard-bench/small-llama}
[ -f "$model/config.json" ] || ./build/bin/pipeshard make-model --family llama --preset small --dtype f32 --seed 1 --out "$model"
PIPESHARD_BENCH_MODEL=$model ./build/bin/model_bench --benchmark_repetitions="${REPS:-3}" \
  --benchmark_report_aggregates_only=true "$@"
