#!/usr/bin/env bash
# The main job: set up, build, and play an expert episode headless, writing frames and a GIF.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked --bin sandtable
bin="${CARGO_TARGET_DIR:-target}/release/sandtable"
"$bin" sim --scenario go_to_object --seed 7 --steps 200 --policy expert --size 64 --out runs/demo/sim
echo "demo: open runs/demo/sim/episode.gif"
