#!/usr/bin/env bash
# The main job: set up, build, then stage one of the pipeline end to end on this CPU in a few
# minutes: an expert episode, recorded datasets, a world model (the `tiny` preset, lengthened),
# its evaluation against copy-last-frame, and a dream GIF. Re-running continues what is there.
set -euo pipefail
source "$(dirname "$0")/build.sh"
out=runs/demo
mkdir -p "$out"

echo "== 1/5 play an expert episode"
"$bin" sim --scenario go_to_object --seed 7 --steps 200 --policy expert --size 64 --out "$out/sim"

record() { # DIR ARGS...: record, or continue an interrupted recording
    local dir="$1"; shift
    if [[ -f "$dir/info.json" ]]; then "$bin" record "$@" --out "$dir" --resume; else "$bin" record "$@" --out "$dir"; fi
}
echo "== 2/5 record training (seed 0) and held-out (seed 1) datasets"
record "$out/data/train" --scenario go_to_object --scenario pick_up_object --episodes 96 --policy mixed:0.3 --workers 2 --envs 4 --seed 0
record "$out/data/val" --scenario go_to_object --scenario pick_up_object --episodes 16 --policy mixed:0.3 --workers 2 --envs 4 --seed 1

echo "== 3/5 pretrain the world model"
resume=(); [[ -f "$out/wm/checkpoints/latest" ]] && resume=(--resume)
"$bin" pretrain --data "$out/data/train" --config tiny --tokenizer-steps 600 --dynamics-steps 600 --out "$out/wm" "${resume[@]}"

echo "== 4/5 evaluate it on held-out episodes"
"$bin" eval-wm --checkpoint "$out/wm" --data "$out/data/val" --windows 64

echo "== 5/5 dream"
"$bin" dream --checkpoint "$out/wm" --scenario go_to_object --seed 3 --steps 32 --out "$out/dream.gif"
echo "demo: see $out/sim/episode.gif, $out/wm/*.svg, $out/wm/eval-wm/, $out/dream.gif"
