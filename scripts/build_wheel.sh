#!/usr/bin/env bash
# Build the Python package as an abi3 wheel into dist/ (one wheel for CPython 3.9 and later):
#   bash scripts/build_wheel.sh            -> dist/sandtable-VERSION-cp39-abi3-linux_x86_64.whl
# The extension is the one `cargo build --release --workspace` builds, with the workspace's
# features, so Bevy is not compiled a second time (maturin builds the package alone, with another
# feature set: ~24 more minutes on 2 cores). The wheel is packed by pypa's `wheel pack`, which
# writes its RECORD. Its platform tag is linux_x86_64, not manylinux: it links the build machine's
# glibc, so it installs on machines like the one that built it (auditwheel would say more).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extra_packages=(python3 python3-venv)
source scripts/setup.sh
cargo build --release --locked --workspace
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
native="$target_dir/release/lib_native.so"
# A venv of its own for the packing tool, kept beside the build.
tools="$target_dir/wheel-tools"
[[ -x "$tools/bin/python" ]] || python3 -m venv "$tools"
"$tools/bin/python" -m pip install --quiet --disable-pip-version-check "wheel>=0.42,<1" >&2
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
version="$(cargo metadata --format-version 1 --no-deps | "$tools/bin/python" -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "sandtable-python"))')"
mkdir -p "$stage/sandtable" "$stage/sandtable-$version.dist-info" dist
cp env/python/python/sandtable/*.py "$stage/sandtable/"
cp "$native" "$stage/sandtable/_native.abi3.so"
# Symbols are a third of the library and no use to a Python user.
if command -v strip >/dev/null 2>&1; then strip --strip-unneeded "$stage/sandtable/_native.abi3.so"; fi
# METADATA from pyproject.toml, so the wheel asks for what a source install asks for.
"$tools/bin/python" - "$version" >"$stage/sandtable-$version.dist-info/METADATA" <<'EOF'
import sys, tomllib
project = tomllib.load(open("env/python/pyproject.toml", "rb"))["project"]
print("Metadata-Version: 2.1")
print(f"Name: {project['name']}")
print(f"Version: {sys.argv[1]}")
print(f"Summary: {project['description']}")
print(f"License: {project['license']}")
print(f"Requires-Python: {project['requires-python']}")
for dep in project["dependencies"]:
    print(f"Requires-Dist: {dep}")
for extra, deps in project.get("optional-dependencies", {}).items():
    print(f"Provides-Extra: {extra}")
    for dep in deps:
        print(f'Requires-Dist: {dep}; extra == "{extra}"')
EOF
cat >"$stage/sandtable-$version.dist-info/WHEEL" <<EOF
Wheel-Version: 1.0
Generator: sandtable scripts/build_wheel.sh
Root-Is-Purelib: false
Tag: cp39-abi3-linux_x86_64
EOF
rm -f "dist/sandtable-$version-cp39-abi3-linux_x86_64.whl"
"$tools/bin/python" -m wheel pack "$stage" --dest-dir dist >&2
echo "dist/sandtable-$version-cp39-abi3-linux_x86_64.whl"
