#!/usr/bin/env bash
# The whole test suite, in the one release profile so Bevy is compiled once.
set -euo pipefail
cd "$(dirname "$0")/.."
# The report test opens report.html in headless Chromium; the play tests open a window on a
# virtual X server (Xvfb) and press keys with xdotool; the Python package needs a venv.
extra_packages=(chromium python3 python3-venv xvfb xdotool)
source scripts/setup.sh
# The workspace holds the Python extension (env/python); .cargo/config.toml keeps it off libpython.
cargo test --release --locked --workspace -- --test-threads 2
# The Python package (env/python): built with the same workspace features (Bevy is not compiled
# again), installed into a venv, then pytest.
bash scripts/test_python.sh
