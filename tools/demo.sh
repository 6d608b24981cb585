#!/usr/bin/env bash
# The README's first command: set up, build, make a tiny Llama with random weights, plan it as a
# 2-stage pipeline on this machine's CPU, and run requests through it (one process per stage).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh
ps=./build/bin/pipeshard
out=${PIPESHARD_DEMO_DIR:-/tmp/pipeshard-demo}
mkdir -p "$out"
$ps make-model --family llama --preset tiny --dtype f32 --seed 1 --out "$out/tiny-llama" --force
$ps plan --model "$out/tiny-llama" --cluster configs/clusters/cpu-2core.json --stages 2 --mode generate \
    --batch 4 --micro-batches 2 --prompt-len 8 --max-new-tokens 12 --out "$out/plan.json"
printf '%s\n' '{"id": "a", "prompt_ids": [1, 2, 3, 4], "max_new_tokens": 12}' \
              '{"id": "b", "prompt_ids": [7, 8], "max_new_tokens": 6, "temperature": 0.8, "top_k": 40, "seed": 5}' \
              '{"id": "c", "prompt_ids": [100, 200, 300, 400, 500, 6, 7, 8], "max_new_tokens": 9}' \
              '{"id": "d", "prompt_ids": [42], "max_new_tokens": 12, "stop_ids": [2]}' \
              '{"id": "e", "prompt_ids": [9, 9, 9], "max_new_tokens": 3}' > "$out/requests.jsonl"
$ps run --plan "$out/plan.json" --input "$out/requests.jsonl" --output "$out/results.jsonl"
echo "== $out/results.jsonl (2-stage pipeline)"
cat "$out/results.jsonl"
# The same requests in one process give the same tokens.
$ps generate --model "$out/tiny-llama" --input "$out/requests.jsonl" --output "$out/results-1proc.jsonl" --slots 4
cmp -s "$out/results.jsonl" "$out/results-1proc.jsonl" && echo "== identical to the one-process run"
