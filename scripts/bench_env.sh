#!/usr/bin/env bash
# Env throughput with rendering and readback: 64² and 128², 1 and 2 threads, 1 and 8 envs per App.
set -euo pipefail
source "$(dirname "$0")/build.sh"
"$bin" bench env --sizes 64,128 --threads 1,2 --envs 1,8 --steps 300 --runs 5 --json docs/bench_env.json "$@"
