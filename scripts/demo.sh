#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/cli/rapide --version
