#!/usr/bin/env bash
# Soak: one 2-stage pipeline job serving back-to-back batches for DURATION seconds (default 1800),
# sampling every rank's anonymous resident memory (RssAnon) and the results completed, every
# INTERVAL seconds (default 10). Then tools/soak_report.py prints throughput over time and each
# rank's RssAnon slope over the last 20 minutes relative to its level (target: under 1%).
# Not run in CI. Usage: tools/soak.sh [OUT_DIR]   (env: DURATION, INTERVAL, FAMILY, PRESET, PIPESHARD)
set -euo pipefail
cd "$(dirname "$0")/.."
ps=${PIPESHARD:-$(pwd)/build/bin/pipeshard}  # PIPESHARD: a binary of your own (e.g. a copy, so rebuilding does not touch the soak)
out=${1:-/tmp/pipeshard-soak}
duration=${DURATION:-1800}
interval=${INTERVAL:-10}
mkdir -p "$out"
model="$out/model"
[ -f "$model/config.json" ] || $ps make-model --family "${FAMILY:-llama}" --preset "${PRESET:-tiny}" --dtype f32 --seed 3 --out "$model"
cat > "$out/plan.json" <<JSON
{"model": "model", "batch": 8, "micro_batches": 4, "workload": {"mode": "generate", "max_new_tokens": 64},
 "stages": [{"layers": "0-2", "device": "cpu", "threads": 1}, {"layers": "3-5", "device": "cpu", "threads": 1}]}
JSON
# More requests than the job can finish in $duration: the job is stopped when the soak ends.
/usr/bin/python3 - "$out/requests.jsonl" <<'PY'
import json, random, sys
random.seed(11)
with open(sys.argv[1], "w") as f:
    for i in range(400000):
        n = random.randint(1, 48)
        f.write(json.dumps({"id": f"s{i}", "prompt_ids": [random.randrange(512) for _ in range(n)],
                            "max_new_tokens": random.randint(16, 64)}) + "\n")
PY
rm -f "$out/results.jsonl" "$out/results.jsonl.journal"
$ps run --plan "$out/plan.json" --input "$out/requests.jsonl" --output "$out/results.jsonl" \
    --timeout-seconds 120 > "$out/run.log" 2>&1 &
launcher=$!
echo "t_s,rank,pid,rss_anon_kb,results" > "$out/samples.csv"
start=$(date +%s)
while :; do
  now=$(( $(date +%s) - start ))
  [ "$now" -le "$duration" ] || break
  kill -0 "$launcher" 2>/dev/null || { echo "soak: the job ended early; see $out/run.log" >&2; exit 1; }
  results=0
  [ -f "$out/results.jsonl.journal" ] && results=$(( $(wc -l < "$out/results.jsonl.journal") - 1 ))
  for pid in $(pgrep -f "pipeshard worker --plan $out/plan.json" || true); do
    rank=$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | sed -n 's/^RANK=//p')
    rss=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "")
    [ -n "$rank" ] && [ -n "$rss" ] && echo "$now,$rank,$pid,$rss,$results" >> "$out/samples.csv"
  done
  sleep "$interval"
done
kill -TERM "$launcher" 2>/dev/null || true
wait "$launcher" 2>/dev/null || true
/usr/bin/python3 tools/soak_report.py "$out/samples.csv"
