#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) into build-fuzz and runs each for a given
# time (or FUZZ_MAX_RUNS executions, default 10 million, whichever comes first) on its committed
# seed corpus, stopping at the first crash, hang (>10 s per input), leak or out-of-memory (the
# reproducer is written to build-fuzz/crashes/). Prints libFuzzer's final stats per target and a
# summary table (execs, execs/s, coverage, result). Exit status: 0 when no target failed.
#   scripts/fuzz.sh [SECONDS_PER_TARGET (default 30)] [TARGET...]
# Targets: gguf_reader_fuzz lsp_server_fuzz tokenizer_fuzz document_edit_fuzz completion_context_fuzz
# tokenizer_fuzz reads ../shared/vocab (or $RAPIDE_FUZZ_VOCAB_DIR) and does nothing without it.
# Reproduce a crash: build-fuzz/fuzz/<target> build-fuzz/crashes/<target>-crash-...
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf_reader_fuzz lsp_server_fuzz tokenizer_fuzz document_edit_fuzz completion_context_fuzz)
max_runs=${FUZZ_MAX_RUNS:-10000000}

build=build-fuzz
# The full build (not inference-only): the LSP, context and tokenizer targets link those libraries.
if [ ! -f "$build/CMakeCache.txt" ] || grep -q '^RAPIDE_INFERENCE_ONLY:BOOL=ON' "$build/CMakeCache.txt"; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DRAPIDE_FUZZ=ON -DRAPIDE_INFERENCE_ONLY=OFF -DRAPIDE_TESTS=OFF -DRAPIDE_BENCH=OFF -DRAPIDE_CUDA=OFF >/dev/null
fi
cmake --build "$build" --target "${targets[@]}" make_gguf_seeds -j "$(nproc)"
# The committed seeds are written by code (deterministic, so this leaves them unchanged).
"$build/fuzz/make_gguf_seeds" fuzz/corpus/gguf_reader

mkdir -p "$build/crashes"
status=0
summary=()
for t in "${targets[@]}"; do
  seeds=fuzz/corpus/${t%_fuzz}
  work="$build/corpus/$t"   # grows as the fuzzer finds new inputs; the committed seeds stay as they are
  mkdir -p "$work"
  echo "[fuzz] $t for ${seconds}s (seeds: $seeds)"
  dict=()
  [ -f "fuzz/dict/${t%_fuzz}.dict" ] && dict=(-dict="fuzz/dict/${t%_fuzz}.dict")
  result=ok
  if ! "$build/fuzz/$t" -max_total_time="$seconds" -runs="$max_runs" -print_final_stats=1 \
       -artifact_prefix="$build/crashes/$t-" -timeout=10 -rss_limit_mb=2048 "${dict[@]}" \
       "$work" "$seeds" 2>"$build/$t.log"; then
    echo "[fuzz] $t FAILED: see $build/$t.log and $build/crashes/" >&2
    grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|.*_fuzz: )' "$build/$t.log" >&2 || true
    result=FAILED
    status=1
  fi
  grep -q 'nothing to fuzz' "$build/$t.log" && result="skipped (no data)"
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$build/$t.log" || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/$t.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/$t.log")
  cov=$(grep -oE 'cov: [0-9]+' "$build/$t.log" | tail -n1 | cut -d' ' -f2)
  summary+=("$(printf '%-26s %8ss %12s %10s %8s  %s' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$result")")
done
printf '\n%-26s %9s %12s %10s %8s  %s\n' target time execs exec/s cov result
printf '%s\n' "${summary[@]}"
exit $status
