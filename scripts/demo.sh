#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs the main job: the language server end to end
# (`rapide demo`: inline completion, quick fix and hover on a sample file, with timings).
# Pass a model to see real answers: scripts/demo.sh --model path/to/qwen2.5-coder-1.5b.gguf
# Without one, a tiny random-weight model is generated (its text is meaningless).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/cli/rapide --version
build/cli/rapide demo "$@"
