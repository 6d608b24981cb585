#!/usr/bin/env bash
# Everything that needs a GPU, in one command, ending with a short table.
#
# The GPU machine has the CUDA toolkit (libcudart, cuBLAS, NCCL, cuobjdump) but none of our
# Debian libraries and no network, so the binaries are built here and carried there:
#
#   here:  cmake -S . -B build-cuda -G Ninja -DPIPESHARD_CUDA=ON
#          cmake --build build-cuda --target kernels_tests comm_tests pipeshard_gpu_bench pipeshard
#          tools/gpu_check.sh pack build-cuda      # -> .gpu/ (binaries + their non-CUDA libraries)
#          echo /.gpu/ >> .git/info/exclude        # once: carried, never committed
#   there: tools/gpu_check.sh run                   # with .gpu carried (the device tool's `carry`)
#
# `run` (also usable on any machine with a GPU and a build: tools/gpu_check.sh run build-cuda):
#   1. the GPU and the date
#   2. every kernel has sm_80 and sm_90 code (tools/ci/cuda_kernels.py, and cuobjdump if present)
#   3. every CUDA op against the CPU op (tests/kernels/cuda_ops_test.cpp): relative L2 error
#      <= 1e-5 in f32, <= 1e-2 in f16/bf16, outputs poisoned first; sampling draws equal tokens
#   4. the CUDA backend's own tests and the NCCL transport's logic tests
#   5. benchmarks (pipeshard_gpu_bench): a Llama block's prefill TFLOP/s against cuBLAS GEMMs of
#      the same shapes, its decode bandwidth against a device-to-device copy, NCCL send/recv by
#      message size with two or more GPUs
#   6. full models and pipelines (tools/gpu/model_check.sh): gpt2/llama logits on the GPU against
#      the CPU (f32, bf16), greedy tokens identical in f32, a 2-stage pipeline on one GPU (host
#      staging) and, with two GPUs, over NCCL, tokens identical to the CPU
# Exit status: non-zero when a check failed. GPU tests that skip are reported as SKIPPED.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}

# ---- pack (here) ---------------------------------------------------------------------------
if [[ $mode == pack ]]; then
  build=${2:-build-cuda}
  out=.gpu
  rm -rf "$out" && mkdir -p "$out/bin" "$out/lib"
  bins=("$build/tests/kernels_tests" "$build/tests/comm_tests" "$build/bin/pipeshard_gpu_bench" "$build/bin/pipeshard")
  for b in "${bins[@]}"; do
    [[ -x $b ]] || { echo "gpu_check pack: $b is missing (build it first, see the header)" >&2; exit 1; }
    cp "$b" "$out/bin/" && strip --strip-unneeded "$out/bin/$(basename "$b")"
  done
  # Libraries the GPU image lacks: everything but glibc, libstdc++/libgcc and CUDA's own.
  ldd "${bins[@]}" | awk '/=> \// {print $3}' | sort -u | while read -r lib; do
    case $(basename "$lib") in
      libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libstdc++.so*|libgcc_s.so*) ;;
      libcuda.so*|libcudart.so*|libcublas.so*|libcublasLt.so*|libnccl.so*) ;;
      *) cp -L "$lib" "$out/lib/" ;;
    esac
  done
  du -sh "$out"
  echo "carry .gpu, then run: tools/gpu_check.sh run"
  exit 0
fi
if [[ $mode != run ]]; then
  echo "usage: tools/gpu_check.sh pack [build-dir]   |   tools/gpu_check.sh run [build-dir]" >&2
  exit 2
fi

# ---- run (on the GPU machine) --------------------------------------------------------------
if [[ -n ${2:-} ]]; then
  bin_kernels=$2/tests/kernels_tests bin_comm=$2/tests/comm_tests bin_bench=$2/bin/pipeshard_gpu_bench
  bin_pipeshard=$2/bin/pipeshard
else
  bin_kernels=.gpu/bin/kernels_tests bin_comm=.gpu/bin/comm_tests bin_bench=.gpu/bin/pipeshard_gpu_bench
  bin_pipeshard=.gpu/bin/pipeshard
  export LD_LIBRARY_PATH=$PWD/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
# CUDA's libraries: the toolkit's, else the pip wheels' (nvidia-cublas, nvidia-nccl-cu13).
for want in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnccl.so.2; do
  found=$(ldconfig -p 2>/dev/null | awk -v w="$want" '$1 == w {print $NF; exit}')
  [[ -z $found ]] && found=$(find /usr/local/cuda*/lib* /usr/lib /opt /usr/local/lib -name "$want" 2>/dev/null | head -1)
  [[ -n $found ]] && export LD_LIBRARY_PATH=$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
done
log=$(mktemp -d)
status=0
rows=()
row() { rows+=("$(printf '%-44s %-14s %s' "$1" "$2" "$3")"); }

echo "== $(date -u +%Y-%m-%dT%H:%MZ)"
gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
echo "== GPU: ${gpu:-none found}"

echo "== architectures"
if python3 tools/ci/cuda_kernels.py --require 80,90 "$bin_kernels" | tee "$log/arch"; then
  row "kernels have sm_80 + sm_90 code" PASS "$(grep -o '[0-9]* kernels' "$log/arch")"
else
  row "kernels have sm_80 + sm_90 code" FAIL "see above"; status=1
fi
command -v cuobjdump >/dev/null && cuobjdump --list-elf "$bin_kernels" | grep -c elf | xargs echo "cuobjdump: cubins:"

echo "== CUDA ops against the CPU ops"
"$bin_kernels" --gtest_filter='*Cuda*' 2>&1 | tee "$log/ops"
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
while IFS='|' read -r what dtype err limit; do
  what=${what#\[ cuda op \] }
  verdict=PASS
  if [[ $err == *rel_l2* ]]; then
    awk -v e="${err#*rel_l2 }" -v l="${limit#*limit }" 'BEGIN {exit !(e + 0 <= l + 0)}' || verdict=FAIL
  elif [[ $err == *equal* ]]; then
    n=${err#*equal }; [[ ${n%/*} == "${n#*/}" ]] || verdict=FAIL
  fi
  row "${what% } (${dtype// /})" "$verdict" "${err# }"
done < <(grep '^\[ cuda op \]' "$log/ops")
passed=$(grep -c '^\[       OK \]' "$log/ops" || true)
skipped=$(grep -c '^\[  SKIPPED \] .*(' "$log/ops" || true)
failed=$(grep -c '^\[  FAILED  \] .*(' "$log/ops" || true)
verdict=PASS
(( passed == 0 )) && verdict=SKIPPED
(( failed > 0 )) && verdict=FAIL
row "CUDA gtests (kernels_tests *Cuda*)" "$verdict" "passed $passed, failed $failed, skipped $skipped"

echo "== NCCL transport logic (stand-in)"
"$bin_comm" --gtest_filter='NcclLogic*' 2>&1 | tail -3 | tee "$log/comm"
if [[ ${PIPESTATUS[0]} -eq 0 ]]; then row "NCCL transport logic tests" PASS "$(grep -o '[0-9]* tests' "$log/comm" | head -1)"
else row "NCCL transport logic tests" FAIL ""; status=1; fi

echo "== benchmarks"
"$bin_bench" 2>&1 | tee "$log/bench"
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
while read -r _ name value unit base ratio target; do
  if [[ $target == - ]]; then row "$name" "$value $unit" ""; continue; fi
  verdict=$(awk -v r="$ratio" -v t="$target" 'BEGIN {print (r + 0 >= t + 0) ? "MEETS" : "BELOW"}')
  row "$name" "$value $unit" "baseline $base, ratio $ratio (target $target) $verdict"
done < <(grep '^bench ' "$log/bench")
grep -q '^SKIPPED: no GPU' "$log/bench" && row "benchmarks" SKIPPED "no GPU on this machine"
echo "== full models and pipelines on the GPU (tools/gpu/model_check.sh)"
bash tools/gpu/model_check.sh "$bin_pipeshard" | tee "$log/models"
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
while IFS='|' read -r _ what verdict detail; do row "$what" "$verdict" "$detail"; done < <(grep '^row|' "$log/models")

echo
echo "== pipeshard GPU check: ${gpu:-no GPU}, $(date -u +%Y-%m-%d)"
printf '%s\n' "${rows[@]}"
exit $status
