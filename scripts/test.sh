#!/usr/bin/env bash
# The whole test suite, in the one release profile so Bevy is compiled once.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo test --release --locked --workspace -- --test-threads 2
