#!/usr/bin/env bash
# Env throughput with rendering and readback: 64² and 128², 1 and 2 threads, 1 and 8 envs per App.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked --bin sandtable
"${CARGO_TARGET_DIR:-target}/release/sandtable" bench env --sizes 64,128 --threads 1,2 --envs 1,8 --steps 300 --runs 5 --json docs/bench_env.json "$@"
