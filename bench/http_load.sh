#!/usr/bin/env bash
# Load benchmark of `rapide serve-http`, continuous batching on vs off (loopback only, bounded):
# starts the server twice on an ephemeral port and runs bench/http_load.mjs against each.
#
#   bench/http_load.sh RAPIDE_BINARY MODEL.gguf [DURATION_S=60] [CLIENTS=16] [MAX_TOKENS=32] [THREADS=0]
#
# batching on:  --max-batch CLIENTS --max-active CLIENTS (every client's sequence in each pass)
# batching off: --max-batch 1 --max-active 1 (one request at a time, the others queue)
# Prints one summary line per mode and writes bench-http-{on,off}.json in the current folder.
# Exit status 1 when a run had errors or lost requests.
set -euo pipefail
rapide=${1:?usage: http_load.sh RAPIDE_BINARY MODEL.gguf [DURATION_S] [CLIENTS] [MAX_TOKENS] [THREADS]}
model=${2:?model file}
duration=${3:-60}
clients=${4:-16}
max_tokens=${5:-32}
threads=${6:-0}
here=$(cd "$(dirname "$0")" && pwd)
status=0

run_mode() {
  local label=$1; shift
  local log
  log=$(mktemp)
  "$rapide" serve-http --model "$model" --listen 127.0.0.1:0 --threads "$threads" --max-connections 64 "$@" \
    >"$log.out" 2>"$log" &
  local pid=$!
  local url=""
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://[^ ]*' "$log.out" 2>/dev/null | head -1 || true)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "http_load.sh: serve-http did not start:" >&2
    cat "$log" >&2
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  node "$here/http_load.mjs" --url "$url" --clients "$clients" --duration "$duration" --max-tokens "$max_tokens" \
    --label "$label" --json "bench-http-$label.json" || status=1
  kill -TERM "$pid"
  wait "$pid" || true
  tail -1 "$log"
  rm -f "$log" "$log.out"
}

run_mode on --max-batch "$clients" --max-active "$clients"
run_mode off --max-batch 1 --max-active 1
exit $status
