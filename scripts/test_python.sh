#!/usr/bin/env bash
# The Python package's tests: build it, install it into a venv, then pytest. test.sh calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
extra_packages=(python3 python3-venv)
source scripts/setup.sh
source scripts/python_env.sh
python -m pytest -q env/python/tests "$@"
