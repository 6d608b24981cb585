#!/usr/bin/env bash
# CI's sanitizer stage (issue 7, tests/fuzz/README.md): a clang++ 14 CPU build with
# AddressSanitizer + UndefinedBehaviorSanitizer (PIPESHARD_SANITIZE=address, which also gives the
# libFuzzer targets), the test suite on it -- the `pipeshard` processes the CLI tests spawn are
# instrumented too -- and then every fuzz target for FUZZ_SECONDS each. Any finding fails.
#
#   FUZZ_SECONDS=20      seconds per fuzz target (0 skips fuzzing)
#   SANITIZE_CTEST_ARGS  extra ctest arguments (e.g. "-LE reference" to skip the NumPy reference tests)
#   TSAN=1               also build build-tsan (ThreadSanitizer) and run the comm, engine, pipeline
#                        and integration tests there (.ci/run sets it: about 2 more minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
JOBS=${JOBS:-$(nproc)}
read -r -a ctest_args <<< "${SANITIZE_CTEST_ARGS:-}"
root=$(pwd)
stamp() { echo "== $(date +%T) $*"; }

configure() {  # build dir, sanitizer
  cmake -S . -B "$1" -G Ninja -DPIPESHARD_CUDA=OFF -DPIPESHARD_SANITIZE="$2" -DPIPESHARD_BENCHMARKS=ON \
        -DPIPESHARD_WERROR=ON -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" >/dev/null
}

# A report aborts the process: a crash, which tests that spawn `pipeshard` see as a signal, never
# as an exit status they might expect. No suppressions are needed today; if an uninstrumented
# third-party library (OpenBLAS, Gloo) ever needs one, it goes in tests/sanitizers/*.supp.
symbolizer=$(command -v llvm-symbolizer-14 || echo /usr/lib/llvm-14/bin/llvm-symbolizer)
export ASAN_SYMBOLIZER_PATH=$symbolizer
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1"

stamp "ASan+UBSan build (build-asan)"
configure build-asan address
cmake --build build-asan -j"$JOBS"

stamp "ASan+UBSan tests (ctest ${ctest_args[*]})"
ctest --test-dir build-asan --output-on-failure -j"$JOBS" --timeout 900 "${ctest_args[@]}"

if [ "$FUZZ_SECONDS" -gt 0 ]; then
  work=build-asan/fuzz-run
  rm -rf "$work"
  failed=()
  for src in tests/fuzz/fuzz_*.cpp; do
    name=$(basename "$src" .cpp)
    target=${name#fuzz_}
    stamp "fuzz $target for ${FUZZ_SECONDS}s"
    mkdir -p "$work/$target/corpus" "$work/$target/crashes"
    # The checked-in corpus is read-only input; what the run adds goes to its scratch corpus.
    if ! build-asan/tests/fuzz/"$name" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
         -print_final_stats=1 -artifact_prefix="$work/$target/crashes/" \
         "$work/$target/corpus" "tests/fuzz/corpus/$target" >"$work/$target/log.txt" 2>&1; then
      tail -n 60 "$work/$target/log.txt"
      failed+=("$target: $(ls "$work/$target/crashes" | head -n 1)")
    else
      grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$work/$target/log.txt" | tr '\n' ' '; echo
    fi
  done
  if [ ${#failed[@]} -gt 0 ]; then
    printf 'fuzz finding: %s\n' "${failed[@]}"
    echo "reproduce: build-asan/tests/fuzz/fuzz_<target> $work/<target>/crashes/<file> (tests/fuzz/README.md)"
    exit 1
  fi
fi

if [ "${TSAN:-0}" = 1 ]; then
  # The threaded parts: the store and transports (comm), the engine's thread-safe request queue,
  # the pipeline (the executor tests run stages in threads), and the multi-process
  # integration tests, whose `pipeshard` workers are TSan builds too.
  export TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/sanitizers/tsan.supp"
  stamp "TSan build (build-tsan)"
  configure build-tsan thread
  cmake --build build-tsan -j"$JOBS" --target pipeshard comm_tests engine_tests pipeline_tests integration_tests
  for t in comm_tests engine_tests pipeline_tests integration_tests; do
    stamp "TSan $t"
    build-tsan/tests/$t --gtest_brief=1
  done
fi
stamp "sanitizers done"
