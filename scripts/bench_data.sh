#!/usr/bin/env bash
# Data-path throughput at 64×64: `record` with 1 and 2 workers, the stream against direct
# stepping, and the reader's training batches. Medians over several runs; JSON into docs/.
set -euo pipefail
source "$(dirname "$0")/build.sh"
runs="${RUNS:-3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "## record: go_to_object, expert, 4 envs per worker, 48 episodes, $runs runs"
for k in 1 2; do
    rates=()
    for r in $(seq "$runs"); do
        line="$("$bin" record --scenario go_to_object --episodes 48 --workers "$k" --envs 4 --seed "$r" --out "$tmp/rec-$k-$r")"
        rates+=("$(sed -E 's/.*\(([0-9]+) frames\/s\).*/\1/' <<<"$line")")
    done
    median="$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')"
    echo "| $k workers | ${rates[*]} frames/s | median $median |"
    echo "{\"workers\": $k, \"envs_per_worker\": 4, \"fps_all\": [$(IFS=,; echo "${rates[*]}")], \"fps_median\": $median}" >>"$tmp/record.jsonl"
done
python3 -c "import json,sys; print(json.dumps({'scenario':'go_to_object','policy':'expert','size':64,'episodes':48,'results':[json.loads(l) for l in open(sys.argv[1])]}, indent=2))" "$tmp/record.jsonl" >docs/bench_record.json

echo "## stream against direct stepping"
"$bin" bench stream --workers 1,2 --envs 4 --episodes 24 --runs 9 --json docs/bench_stream.json

echo "## reader: 200 expert+mixed episodes, window 16 x batch 32"
"$bin" record --scenario go_to_object --scenario pick_up_object --episodes 200 --workers 2 --envs 4 --policy mixed:0.3 --out "$tmp/read" >/dev/null
"$bin" bench reader --data "$tmp/read" --window 16 --batch 32 --batches 200 --runs 5 --json docs/bench_reader.json
