#!/usr/bin/env bash
# Configures and builds pipeshard into ./build (PIPESHARD_CUDA=AUTO|ON|OFF, default AUTO).
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DPIPESHARD_CUDA="${PIPESHARD_CUDA:-AUTO}" -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
