#!/usr/bin/env bash
# Sourced by the other scripts: set up the machine, build the release binary, and set $bin.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
cargo build --release --locked --bin sandtable
bin="${CARGO_TARGET_DIR:-target}/release/sandtable"
