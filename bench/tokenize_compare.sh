#!/usr/bin/env bash
# Tokenizer speed, rapide vs llama.cpp, on the same 1 MiB corpus of this repository's sources.
#
#   bench/tokenize_compare.sh [BENCH_TOKENIZE_BINARY] [VOCAB_GGUF] [REPEAT]
#
# Defaults: build/bench/bench_tokenize, ../shared/vocab/ggml-vocab-qwen2.gguf, 5 runs each.
# Builds the corpus with bench_tokenize --write-corpus, times rapide on it, times llama.cpp
# (bench/reference/tokenize.mjs, node-llama-cpp's prebuilt llama.cpp, vocabulary-only load) on
# the same file, checks that both give the same token ids, and prints the best times and ratio.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="${1:-$root/build/bench/bench_tokenize}"
vocab="${2:-$root/../shared/vocab/ggml-vocab-qwen2.gguf}"
repeat="${3:-5}"
[[ -x "$bin" ]] || { echo "tokenize_compare: $bin not found (build the bench_tokenize target)" >&2; exit 2; }
[[ -f "$vocab" ]] || { echo "tokenize_compare: vocabulary $vocab not found" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

ours="$("$bin" --model "$vocab" --write-corpus "$tmp/corpus.txt" --ids "$tmp/ours.ids" --repeat "$repeat")"
ref="$(cd "$here/reference" && node tokenize.mjs --model "$vocab" --file "$tmp/corpus.txt" --ids "$tmp/ref.ids" --repeat "$repeat" 2>/dev/null)"
echo "corpus: $(wc -c < "$tmp/corpus.txt") bytes, sha256 $(sha256sum "$tmp/corpus.txt" | cut -c1-16)"
echo "rapide:    $ours"
echo "llama.cpp: $ref"
if cmp -s "$tmp/ours.ids" "$tmp/ref.ids"; then
  echo "token ids: identical ($(wc -w < "$tmp/ours.ids") tokens)"
else
  echo "token ids: DIFFERENT" >&2
  exit 1
fi
python3 - "$ours" "$ref" <<'PY'
import json, sys
o, r = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"best: rapide {o['ms_best']:.1f} ms, llama.cpp {r['ms_best']:.1f} ms -> llama.cpp / rapide = {r['ms_best'] / o['ms_best']:.1f}x")
print(f"median: rapide {o['ms_median']:.1f} ms, llama.cpp {r['ms_median']:.1f} ms -> {r['ms_median'] / o['ms_median']:.1f}x")
PY
