#!/usr/bin/env bash
# Sourced by the Python scripts after setup.sh: a virtual environment with maturin, gymnasium,
# numpy, pytest, pillow and safetensors, then the `sandtable` package built into it (release).
# The venv lives in the cargo target dir, so CI's build cache keeps it too.
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
venv="${SANDTABLE_VENV:-$target_dir/python-venv}"
if [[ ! -x "$venv/bin/python" ]]; then
    echo "python: creating a virtual environment in $venv" >&2
    python3 -m venv "$venv"
fi
# Pinned so Gymnasium's checker and the build tool behave the same on every machine.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin==1.16.0" "gymnasium==1.4.0" "numpy>=1.24,<3" "pytest>=8,<10" "pillow>=10,<14" "safetensors>=0.4,<1" >&2
export VIRTUAL_ENV="$venv"
export PATH="$venv/bin:$PATH"
export PYO3_PYTHON="$venv/bin/python"
# The CLI that the tests and the benchmark compare the package with.
cargo build --release --locked -p sandtable --bin sandtable
maturin develop --release --locked -m env/python/Cargo.toml >&2
export SANDTABLE_BIN="$target_dir/release/sandtable"
