#!/usr/bin/env bash
# The whole test suite, in the one release profile so Bevy is compiled once.
set -euo pipefail
cd "$(dirname "$0")/.."
# The report test opens report.html in headless Chromium.
extra_packages=(chromium)
source scripts/setup.sh
cargo test --release --locked --workspace -- --test-threads 2
