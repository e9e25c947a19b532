#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs the test suite with CTest and exits with its
# status. Tests labelled `slow` are left out unless --all is given.
#   scripts/test.sh [--all] [--sanitize] [-R regex] [any other ctest options]
#   scripts/test.sh --tsan [gtest options, e.g. --gtest_filter=Scheduler.*]
# --sanitize: builds into build-asan with RAPIDE_SANITIZE=address,undefined (-O1, line tables)
# and runs the suite there; every sanitizer report (from a test or from a `rapide` subprocess
# it spawns) is logged under build-asan/sanitizer-logs/ and fails the lane even if the test
# itself passed.
# --tsan: builds the threaded code's test programs (engine, engine queue, thread pool, LSP
# server/scheduler/in-flight/TCP) into build-tsan with RAPIDE_SANITIZE=thread (-O1, line tables,
# no CUDA) and runs them; every ThreadSanitizer report (logged under build-tsan/sanitizer-logs/)
# fails the lane.
set -euo pipefail
cd "$(dirname "$0")/.."

label_args=(-LE slow)
ctest_args=()
sanitize=0
tsan=0
for a in "$@"; do
  case "$a" in
    --all) label_args=() ;;
    --sanitize) sanitize=1 ;;
    --tsan) tsan=1 ;;
    *) ctest_args+=("$a") ;;
  esac
done

if [ $tsan = 1 ]; then
  build=build-tsan
  logs=$PWD/$build/sanitizer-logs
  programs=(tests/inference/engine_unit_tests tests/inference/engine_tests tests/inference/cpu_backend_tests
            tests/lsp/lsp_tests)
  if [ ! -f $build/build.ninja ]; then
    cmake -S . -B $build -G Ninja -DRAPIDE_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" \
      -DRAPIDE_CUDA=OFF -DRAPIDE_BENCH=OFF >/dev/null
  fi
  cmake --build $build -j "$(nproc)" --target "${programs[@]##*/}"
  rm -rf "$logs" && mkdir -p "$logs"
  export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:log_path=$logs/tsan"
  status=0
  for p in "${programs[@]}"; do
    echo "[test] $p" >&2
    "$build/$p" --gtest_brief=1 "${ctest_args[@]}" || status=$?
  done
  if compgen -G "$logs/*" >/dev/null; then
    echo "[test] sanitizer reports:" >&2
    for f in "$logs"/*; do echo "== $f" >&2; head -n 60 "$f" >&2; done
    [ $status != 0 ] || status=1
  fi
  exit $status
fi

if [ $sanitize = 1 ]; then
  build=build-asan
  logs=$PWD/$build/sanitizer-logs
  scripts/setup.sh --build-dir $build -DRAPIDE_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" -DRAPIDE_BENCH=OFF
  rm -rf "$logs" && mkdir -p "$logs"
  export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$logs/asan"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
  status=0
  ctest --test-dir $build --output-on-failure -j "$(nproc)" "${label_args[@]}" "${ctest_args[@]}" || status=$?
  if compgen -G "$logs/*" >/dev/null; then
    echo "[test] sanitizer reports:" >&2
    for f in "$logs"/*; do echo "== $f" >&2; head -n 60 "$f" >&2; done
    [ $status != 0 ] || status=1
  fi
  exit $status
fi
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" "${label_args[@]}" "${ctest_args[@]}"
