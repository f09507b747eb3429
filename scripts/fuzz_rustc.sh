#!/bin/sh
# RUSTC_WRAPPER for `scripts/fuzz.sh`: compiles sandtable's crates and the parsers its inputs go
# through (ron, serde_json, safetensors) with libFuzzer's coverage instrumentation, on stable
# Rust, and everything else (Bevy, candle, wgpu) as usual, so the fuzz build stays affordable.
# Cargo does not rebuild when these flags change: after editing them, delete the fuzz build folder.
# (A proc macro or build script that linked an instrumented crate would fail to load; none does.)
rustc="$1"
shift
case " $* " in
*" --crate-name sandtable_env "* | *" --crate-name sandtable_agent "* | *" --crate-name sandtable_fuzz "* | \
    *" --crate-name ron "* | *" --crate-name serde_json "* | *" --crate-name safetensors "*)
    exec "$rustc" "$@" --cfg fuzzing -Cdebug-assertions -Coverflow-checks \
        -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
        -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
        -Cllvm-args=-sanitizer-coverage-trace-compares
    ;;
esac
exec "$rustc" "$@"
