#!/usr/bin/env bash
# Sourced by the other scripts: set up the machine, build the release binary, and set $bin.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
# The whole workspace's feature set, the same as the tests' (`cargo test --workspace`): the
# Python package's dependencies turn on features of crates Bevy and candle share (rustc-hash,
# num-complex), so a binary built alone would compile Bevy a second time for the tests.
cargo build --release --locked --workspace --bins
bin="${CARGO_TARGET_DIR:-target}/release/sandtable"
