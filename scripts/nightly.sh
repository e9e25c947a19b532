#!/usr/bin/env bash
# The long reliability lane, too slow for CI's 30 minutes on 2 cores (run it nightly, or before
# a release, on a machine with time to spare):
#   1. the whole test suite (slow label included) under ASan+UBSan (scripts/test.sh --sanitize);
#   2. the engine, thread pool and LSP server/scheduler tests under ThreadSanitizer
#      (scripts/test.sh --tsan);
#   3. every libFuzzer target for FUZZ_SECONDS (default 600) or 10 million executions;
#   4. the soak test: a scripted client typing into `rapide serve` for SOAK_MINUTES (default 30).
# Each step runs even when an earlier one failed; the exit status is 0 only when all passed.
# Logs go to build-nightly/<UTC time>/ (ignored by git, like every build*/ folder).
#   scripts/nightly.sh [--skip-sanitize] [--skip-tsan] [--skip-fuzz] [--skip-soak]
set -uo pipefail
cd "$(dirname "$0")/.."

fuzz_seconds=${FUZZ_SECONDS:-600}
soak_minutes=${SOAK_MINUTES:-30}
run_sanitize=1 run_tsan=1 run_fuzz=1 run_soak=1
for a in "$@"; do
  case "$a" in
    --skip-sanitize) run_sanitize=0 ;;
    --skip-tsan) run_tsan=0 ;;
    --skip-fuzz) run_fuzz=0 ;;
    --skip-soak) run_soak=0 ;;
    *) echo "nightly.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

logs=build-nightly/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$logs"
results=()
step() {  # step NAME COMMAND...
  local name=$1; shift
  local start=$SECONDS
  echo "[nightly] $name: $*" >&2
  if "$@" >"$logs/$name.log" 2>&1; then
    results+=("$(printf '%-10s ok      %6ss' "$name" $((SECONDS - start)))")
  else
    results+=("$(printf '%-10s FAILED  %6ss  (%s)' "$name" $((SECONDS - start)) "$logs/$name.log")")
  fi
}

[ $run_sanitize = 1 ] && step sanitize scripts/test.sh --sanitize --all
[ $run_tsan = 1 ] && step tsan scripts/test.sh --tsan
[ $run_fuzz = 1 ] && step fuzz scripts/fuzz.sh "$fuzz_seconds"
if [ $run_soak = 1 ]; then
  scripts/setup.sh >"$logs/soak-build.log" 2>&1
  step soak node bench/soak.mjs --rapide build/cli/rapide --minutes "$soak_minutes" --json "$logs/soak.json"
fi

printf '\n%s\n' "${results[@]}"
printf '%s\n' "${results[@]}" | grep -q FAILED && exit 1
exit 0
