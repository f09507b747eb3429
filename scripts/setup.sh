#!/usr/bin/env bash
# Install what sandtable needs on a fresh Debian 12 machine (run as root), then build it.
# Idempotent: packages already present are not reinstalled.
set -euo pipefail

# Callers may ask for more packages in `extra_packages` (the tests need a browser).
need=()
for pkg in mesa-vulkan-drivers libvulkan1 ${extra_packages[@]+"${extra_packages[@]}"}; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "setup: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    for d in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
        [[ -x "$d/cargo" ]] && export PATH="$d:$PATH"
    done
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found; install Rust 1.95 or newer (rustup)" >&2; exit 1; }

# Silences a harmless warning from Mesa when no session runtime dir exists.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

# The dataset interoperability check reads shards with Python's numpy and safetensors.
if command -v python3 >/dev/null 2>&1 && ! python3 -c "import numpy, safetensors" >/dev/null 2>&1; then
    echo "setup: installing Python packages numpy and safetensors" >&2
    python3 -m pip install --quiet --disable-pip-version-check numpy safetensors >&2 ||
        echo "setup: pip could not install numpy and safetensors; the Python check will be skipped" >&2
fi
