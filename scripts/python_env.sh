#!/usr/bin/env bash
# Sourced by the Python scripts after setup.sh: a virtual environment with gymnasium, numpy,
# pytest, pillow and safetensors, then the `sandtable` package built into it (release).
# The venv lives in the cargo target dir, so CI's build cache keeps it too.
#
# The extension is built by the workspace's own `cargo build --release --workspace`, not by
# maturin: maturin builds `-p sandtable-python` alone, whose feature resolution differs from the
# workspace's (candle turns on more features of rand, half, image, ...), so Bevy and half the
# dependencies would compile a second time (~24 min on 2 cores). Here they are the ones
# `cargo test --release --workspace` just built. The module is then installed the way
# `maturin develop` installs a mixed project: the .so beside the Python sources, which a .pth
# file puts on the venv's path. (Users install with maturin; see docs/python.md.)
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
venv="${SANDTABLE_VENV:-$target_dir/python-venv}"
if [[ ! -x "$venv/bin/python" ]]; then
    echo "python: creating a virtual environment in $venv" >&2
    python3 -m venv "$venv"
fi
# Pinned so Gymnasium's checker behaves the same on every machine.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "gymnasium==1.4.0" "numpy>=1.24,<3" "pytest>=8,<10" "pillow>=10,<14" "safetensors>=0.4,<1" "ray>=2.9,<3" >&2
# The extension and the CLI that the tests and the benchmark compare the package with; PyO3's
# settings (no libpython, which interpreter) come from .cargo/config.toml.
cargo build --release --locked --workspace
native="$target_dir/release/lib_native.so"
if command -v readelf >/dev/null 2>&1 && readelf -d "$native" | grep -q 'NEEDED.*libpython'; then
    echo "python: $native links libpython; an extension module must not" >&2
    exit 1
fi
package_dir="$PWD/env/python/python"
# Replaced, not overwritten in place: a running interpreter may have the old one mapped.
cp "$native" "$package_dir/sandtable/_native.tmp.so"
mv -f "$package_dir/sandtable/_native.tmp.so" "$package_dir/sandtable/_native.abi3.so"
site_packages="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$package_dir" >"$site_packages/sandtable.pth"
export VIRTUAL_ENV="$venv"
export PATH="$venv/bin:$PATH"
export SANDTABLE_BIN="$target_dir/release/sandtable"
