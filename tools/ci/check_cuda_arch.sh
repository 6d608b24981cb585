#!/usr/bin/env bash
# CI step: every CUDA kernel we build has machine code for sm_80 (A100) and sm_90 (H100/H200).
#   tools/ci/check_cuda_arch.sh [build-dir]        (default: build)
# Checks the CUDA static libraries of a CUDA build (the kernels, and the NCCL binding when built).
# Kernels are listed per architecture from the cubins nvcc embeds (tools/ci/cuda_kernels.py reads
# the fatbinaries itself, since some toolkits ship no cuobjdump); where cuobjdump exists its
# --list-elf output is printed too, as a second opinion. Exits non-zero when a kernel lacks an
# architecture, when a library holds no kernels, or when the build has no CUDA libraries.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
required=${PIPESHARD_CUDA_ARCHS:-80,90}

libs=()
for lib in "$build/kernels/cuda/libpipeshard_kernels_cuda.a"; do
  [[ -f $lib ]] && libs+=("$lib")
done
if (( ${#libs[@]} == 0 )); then
  echo "check_cuda_arch: no CUDA library under $build (configure with -DPIPESHARD_CUDA=ON and build first)" >&2
  exit 1
fi

cuobjdump=$(command -v cuobjdump || true)
[[ -z $cuobjdump && -x /usr/local/cuda/bin/cuobjdump ]] && cuobjdump=/usr/local/cuda/bin/cuobjdump
if [[ -n $cuobjdump ]]; then
  for lib in "${libs[@]}"; do
    echo "== cuobjdump --list-elf $lib"
    "$cuobjdump" --list-elf "$lib" | awk '{print $NF}' | sed 's/.*\.\(sm_[0-9a-z]*\)\..*/\1/' | sort | uniq -c
  done
fi

echo "== kernels by architecture (required: sm_${required//,/, sm_})"
python3 tools/ci/cuda_kernels.py --require "$required" "${libs[@]}"
