#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) into build-fuzz and runs each for a given
# time on its committed seed corpus, stopping at the first crash (the reproducer is written to
# build-fuzz/crashes/). Prints libFuzzer's final stats (execs, execs/s, new units). Exit status: 0 when no target crashed.
#   scripts/fuzz.sh [SECONDS_PER_TARGET (default 30)] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf_reader_fuzz)

build=build-fuzz
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DRAPIDE_FUZZ=ON -DRAPIDE_INFERENCE_ONLY=ON -DRAPIDE_TESTS=OFF -DRAPIDE_BENCH=OFF -DRAPIDE_CUDA=OFF >/dev/null
fi
cmake --build "$build" --target "${targets[@]}" make_gguf_seeds -j "$(nproc)"
# The committed seeds are written by code (deterministic, so this leaves them unchanged).
"$build/fuzz/make_gguf_seeds" fuzz/corpus/gguf_reader

mkdir -p "$build/crashes"
status=0
for t in "${targets[@]}"; do
  seeds=fuzz/corpus/${t%_fuzz}
  work="$build/corpus/$t"   # grows as the fuzzer finds new inputs; the committed seeds stay as they are
  mkdir -p "$work"
  echo "[fuzz] $t for ${seconds}s (seeds: $seeds)"
  if ! "$build/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" \
       -timeout=10 -rss_limit_mb=2048 "$work" "$seeds" 2>"$build/$t.log"; then
    echo "[fuzz] $t FAILED: see $build/$t.log and $build/crashes/" >&2
    status=1
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$build/$t.log" || true
done
exit $status
