#!/usr/bin/env bash
# Python vector-env frames/s against `sandtable bench env` on the same machine, in one run.
# Usage: bash scripts/bench_python.sh [--threads 2] [--envs 8] [--size 64] [--steps 300] [--runs 3]
set -euo pipefail
cd "$(dirname "$0")/.."
extra_packages=(python3 python3-venv)
source scripts/setup.sh
source scripts/python_env.sh
echo "| size | threads | envs/thread | Rust frames/s | Python frames/s | overhead |"
echo "|---|---|---|---|---|---|"
python scripts/bench_python.py "$SANDTABLE_BIN" --json docs/bench_python.json "$@"
