#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs the test suite with CTest and exits with its
# status. Tests labelled `slow` are left out unless --all is given.
#   scripts/test.sh [--all] [-R regex] [any other ctest options]
set -euo pipefail
cd "$(dirname "$0")/.."

label_args=(-LE slow)
ctest_args=()
for a in "$@"; do
  case "$a" in
    --all) label_args=() ;;
    *) ctest_args+=("$a") ;;
  esac
done

scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" "${label_args[@]}" "${ctest_args[@]}"
