#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer on stable Rust.
#   bash scripts/fuzz.sh [MINUTES] [TARGET...]     (default: 5 minutes each, every target;
#                                                   0 minutes only builds)
# Targets: scenario, dataset_info, episodes, shard, checkpoint_config, checkpoint_state.
# Each starts from its corpus in tests/fuzz/corpus/TARGET (seeds, and what earlier runs kept).
# New inputs that reach new code go to $FUZZ_OUT/corpus/TARGET (default runs/fuzz); a crash is
# written to $FUZZ_OUT/crashes/TARGET and ends the script with its status. Copy a crash into
# tests/fuzz/regressions/TARGET/ to make it a regression test (`tests/fuzz_corpus.rs` replays
# every file there and in the corpus). FUZZ_JOBS=N (default 1) runs N fuzzing processes per target
# (libFuzzer's fork mode), one per core.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extra_packages=(g++) # libFuzzer is C++
source scripts/setup.sh
minutes="${1:-5}"
shift || true
[[ "$minutes" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: MINUTES must be a whole number, got \`$minutes\`" >&2; exit 2; }
known=(scenario dataset_info episodes shard checkpoint_config checkpoint_state)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${known[@]}")
for t in "${targets[@]}"; do
    [[ " ${known[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target \`$t\`; the targets are ${known[*]}" >&2; exit 2; }
done
# Its own build folder: the instrumented crates must not replace the release build's.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-target}-fuzz}"
RUSTC_WRAPPER="$PWD/scripts/fuzz_rustc.sh" cargo build --release --locked --no-default-features --features fuzz --bin sandtable-fuzz
fuzzer="$CARGO_TARGET_DIR/release/sandtable-fuzz"
[ "$minutes" -gt 0 ] || { echo "built $fuzzer"; exit 0; }
out="${FUZZ_OUT:-runs/fuzz}"
for t in "${targets[@]}"; do
    mkdir -p "$out/corpus/$t" "$out/crashes/$t"
    echo "## $t: $minutes min"
    # The first folder receives the new inputs; the repo's corpus only seeds the run.
    fork=()
    [ "${FUZZ_JOBS:-1}" -le 1 ] || fork=(-fork="$FUZZ_JOBS")
    SANDTABLE_FUZZ_TARGET="$t" "$fuzzer" ${fork[@]+"${fork[@]}"} "$out/corpus/$t" "tests/fuzz/corpus/$t" \
        -max_total_time=$((minutes * 60)) -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="$out/crashes/$t/" -print_final_stats=1 2>"$out/$t.log" || {
        status=$?
        tail -40 "$out/$t.log"
        exit "$status"
    }
    grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^#[0-9]+.*DONE|^INFO: fuzzed for" "$out/$t.log" || true
    grep -E "^#[0-9]+: cov:" "$out/$t.log" | tail -1 || true
done
