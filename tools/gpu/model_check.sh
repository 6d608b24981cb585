#!/usr/bin/env bash
# The full model on a GPU against the CPU, and a multi-stage pipeline on the GPU(s): called by
# tools/gpu_check.sh with the pipeshard binary; prints "row|<what>|<verdict>|<detail>" lines.
#   1. tiny gpt2 and llama (random weights, f32): every position's logits from `forward --device
#      cuda:0` against the CPU's, relative L2 (limit 1e-5 in f32, 2e-2 in bf16)
#   2. greedy `generate` in f32: tokens identical to the CPU's
#   3. `pipeshard run` of a 2-stage plan with both stages on cuda:0 (host staging over Gloo) and,
#      with two GPUs, on cuda:0 + cuda:1 (NCCL): tokens identical to the one-process CPU run
set -uo pipefail
ps=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
row() { echo "row|$1|$2|$3"; }

# Relative L2 distance of two raw little-endian f32 files (no NumPy on the GPU machine).
rel_l2() {
  python3 - "$1" "$2" <<'PY'
import array, math, sys
a, b = array.array("f"), array.array("f")
a.frombytes(open(sys.argv[1], "rb").read()); b.frombytes(open(sys.argv[2], "rb").read())
if len(a) != len(b) or not b: print("nan"); sys.exit()
num = sum((x - y) ** 2 for x, y in zip(a, b)); den = sum(y * y for y in b)
print(f"{math.sqrt(num / den):.3g}" if den > 0 and all(map(math.isfinite, a)) else "nan")
PY
}
within() { awk -v e="$1" -v l="$2" 'BEGIN {exit !(e != "nan" && e + 0 <= l + 0)}'; }

python3 - "$work/requests.jsonl" <<'PY'
import json, random, sys
random.seed(5)
with open(sys.argv[1], "w") as f:
    for i in range(6):
        f.write(json.dumps({"id": f"q{i}", "prompt_ids": [random.randrange(500) for _ in range(3 + 7 * i)]}) + "\n")
PY
status=0
for family in gpt2 llama; do
  m=$work/$family
  "$ps" make-model --family "$family" --preset tiny --dtype f32 --seed 4 --out "$m" >/dev/null || { row "model $family" FAIL "make-model"; status=1; continue; }
  "$ps" forward --model "$m" --input "$work/requests.jsonl" --output "$work/cpu.jsonl" --logits-out "$work/cpu.bin" --threads 1 >/dev/null
  for dtype in f32 bf16; do
    limit=1e-5; [[ $dtype == bf16 ]] && limit=2e-2
    if "$ps" forward --model "$m" --input "$work/requests.jsonl" --output "$work/gpu.jsonl" --logits-out "$work/gpu.bin" \
        --device cuda:0 --dtype "$dtype" 2>"$work/err" >/dev/null; then
      e=$(rel_l2 "$work/gpu.bin" "$work/cpu.bin")
      if within "$e" "$limit"; then row "$family logits GPU vs CPU ($dtype)" PASS "rel_l2 $e | limit $limit"
      else row "$family logits GPU vs CPU ($dtype)" FAIL "rel_l2 $e | limit $limit"; status=1; fi
    else
      row "$family logits GPU vs CPU ($dtype)" FAIL "$(tail -1 "$work/err")"; status=1
    fi
  done
  "$ps" generate --model "$m" --input "$work/requests.jsonl" --output "$work/gen-cpu.jsonl" --max-new-tokens 24 --threads 1 >/dev/null
  if "$ps" generate --model "$m" --input "$work/requests.jsonl" --output "$work/gen-gpu.jsonl" --max-new-tokens 24 \
      --device cuda:0 2>"$work/err" >/dev/null && cmp -s "$work/gen-cpu.jsonl" "$work/gen-gpu.jsonl"; then
    row "$family greedy tokens GPU = CPU (f32)" PASS "6 requests x 24 tokens identical"
  else
    row "$family greedy tokens GPU = CPU (f32)" FAIL "$(tail -1 "$work/err" 2>/dev/null) (see diff of gen-*.jsonl)"; status=1
  fi
done

# Pipelines: llama tiny has 6 layers (embedding, 4 blocks, head).
m=$work/llama
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
placements=("cuda:0 cuda:0")
(( gpus >= 2 )) && placements+=("cuda:0 cuda:1")
for p in "${placements[@]}"; do
  read -r d0 d1 <<<"$p"
  cat > "$work/plan.json" <<JSON
{"model": "$m", "batch": 4, "micro_batches": 2, "workload": {"mode": "generate", "max_new_tokens": 24},
 "stages": [{"layers": "0-2", "device": "$d0"}, {"layers": "3-5", "device": "$d1"}]}
JSON
  how="host staging over Gloo"; [[ $d0 != "$d1" ]] && how="NCCL"
  rm -f "$work/pipe.jsonl"
  if "$ps" run --plan "$work/plan.json" --input "$work/requests.jsonl" --output "$work/pipe.jsonl" --timeout-seconds 120 \
      >"$work/run.log" 2>&1 && cmp -s "$work/gen-cpu.jsonl" "$work/pipe.jsonl"; then
    row "2-stage pipeline $d0 + $d1 ($how)" PASS "tokens identical to the CPU"
  else
    row "2-stage pipeline $d0 + $d1 ($how)" FAIL "$(tail -1 "$work/run.log")"; status=1
  fi
done
exit $status
