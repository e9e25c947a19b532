#!/usr/bin/env bash
# CTest wrapper for the VS Code extension's `npm test` (type-check, lint, unit tests, .vsix).
# Exits 77 (skipped) with the reason when the pinned npm packages are not installed;
# scripts/setup.sh installs them (editors/vscode is listed in scripts/npm-dirs.txt).
set -euo pipefail
dir=$1
if [ ! -d "$dir/node_modules/vscode-languageclient" ]; then
  echo "skipped: $dir/node_modules is missing: run scripts/setup.sh (or npm ci in $dir)"
  exit 77
fi
cd "$dir"
exec npm test
