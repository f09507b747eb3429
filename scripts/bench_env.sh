#!/usr/bin/env bash
# Env throughput with rendering and readback, and the peers in the same run:
#  - both renderers at 64² and 128², 1 and 2 threads (one App each), 1, 8, 64 and 256 envs per App
#    (the PBR path stops at 64: one camera per env makes 256 take minutes per run);
#  - `sandtable record` with the expert (rendering, planning and writing the dataset);
#  - MiniWorld's one-room env, 1 and 2 processes, when a Python with `miniworld` is found
#    ($MINIWORLD_PYTHON, else /root/miniworld/bin/python; see ../shared/tools/miniworld_bench.py).
# Results go to $BENCH_OUT (default docs/): bench_env.json, bench_env_pbr.json, bench_peers.jsonl.
# Extra arguments go to the batch renderer's run, e.g. --profile.
set -euo pipefail
source "$(dirname "$0")/build.sh"
out="${BENCH_OUT:-docs}"
runs="${RUNS:-5}"
mkdir -p "$out"
"$bin" bench env --renderers batch --sizes 64,128 --threads 1,2 --envs 1,8,64,256 --frames 20000 --runs "$runs" \
    --json "$out/bench_env.json" "$@"
"$bin" bench env --renderers pbr --sizes 64,128 --threads 1,2 --envs 1,8,64 --frames 2000 --runs 3 \
    --json "$out/bench_env_pbr.json"

peers="$out/bench_peers.jsonl"
: > "$peers.tmp"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "record, go_to_object, expert, 2 workers x 16 envs, 64x64, 2000 episodes:"
for r in $(seq "$runs"); do
    line="$("$bin" record --scenario go_to_object --episodes 2000 --policy expert --workers 2 --envs 16 --size 64 \
        --out "$tmp/rec$r" | tail -1)"
    fps="$(sed -n 's/.*(\([0-9]*\) frames\/s).*/\1/p' <<< "$line")"
    echo "  run $r: $fps frames/s"
    echo "{\"peer\": \"sandtable record\", \"run\": $r, \"fps\": $fps}" >> "$peers.tmp"
    rm -rf "$tmp/rec$r"
done
py="${MINIWORLD_PYTHON:-/root/miniworld/bin/python}"
tool="$(cd .. && pwd)/shared/tools/miniworld_bench.py"
if [ -x "$py" ] && [ -f "$tool" ] && "$py" -c "import pyglet; pyglet.options['headless'] = True; import miniworld" 2>/dev/null; then
    for procs in 1 2; do
        for r in $(seq 3); do
            json="$("$py" "$tool" MiniWorld-OneRoom-v0 64 3000 "$procs" 2>/dev/null | tail -1)"
            echo "  MiniWorld one-room, $procs process(es), run $r: $json"
            echo "{\"peer\": \"miniworld\", \"run\": $r, \"result\": $json}" >> "$peers.tmp"
        done
    done
else
    echo "MiniWorld not found (set MINIWORLD_PYTHON): peer rows skipped"
fi
mv "$peers.tmp" "$peers"
echo "wrote $out/bench_env.json, $out/bench_env_pbr.json and $peers"
