#!/usr/bin/env bash
# World-model training throughput (tiny and small) with a per-layer profile, against the PyTorch
# reference when a Python with torch is given: TORCH_PYTHON=/path/to/python (default: the venv
# /root/torchref if it exists; see scripts/torch_reference.py). JSON into docs/bench_train.json.
set -euo pipefail
source "$(dirname "$0")/build.sh"
torch="${TORCH_PYTHON:-/root/torchref/bin/python}"
extra=()
if [[ -x "$torch" ]] && "$torch" -c "import torch" >/dev/null 2>&1; then
    extra=(--torch "$torch")
else
    echo "bench_train: no Python with torch at $torch; measuring candle alone" >&2
fi
"$bin" bench train --config tiny,mini,small --steps 8 --json docs/bench_train.json "${extra[@]}" "$@"
