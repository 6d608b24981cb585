#!/usr/bin/env bash
# The README's second command: set up, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 900
