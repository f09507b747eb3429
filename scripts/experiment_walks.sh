#!/usr/bin/env bash
# The paradigm's experiment on the expert's walks (docs/results.md, "Pretrained against scratch on
# the walks"): behaviour cloning of the `mini` agent from WORLD and from scratch, 3 seeds per arm,
# on the first 400 and 1,600 and on all 12,800 expert walks of `go_to_object` and `pick_up_object`, 3,000
# steps each, every agent evaluated closed loop on `go_to_object`'s held-out seeds, sampling at
# temperature 1. `sandtable report OUT` draws the curve (comparison.svg) with every seed's value.
#   bash scripts/experiment_walks.sh [OUT=runs/experiment_walks] [WORLD=runs/demo/world]
#   env: WALKS ("400 1600 12800"), SEEDS ("0 1 2"), STEPS (3000), EVAL_EPISODES (200)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/experiment_common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/build.sh"
out="${1:-runs/experiment_walks}"
world="${2:-runs/demo/world}"
require_world "$world"
read -r -a walks <<< "${WALKS:-400 1600 12800}"
read -r -a seeds <<< "${SEEDS:-0 1 2}"
steps="${STEPS:-3000}"; evals="${EVAL_EPISODES:-200}"
mkdir -p "$out"

for n in "${walks[@]}"; do
  # Base seed 300 for every size, so the smaller sets are the larger ones' first episodes.
  data="$out/walks$n"
  [ -f "$data/info.json" ] || { log record "$n" walks; "$bin" record --scenario go_to_object pick_up_object --episodes "$n" --policy expert --workers 2 --seed 300 --out "$data"; }
  for seed in "${seeds[@]}"; do
    for init in pretrained scratch; do
      run="$out/walks$n-$init-seed$seed"
      from="$world"; [ "$init" = scratch ] && from=none
      if ! finished "$run"; then
        log finetune "$n" "$init" seed "$seed"; resume=(); [ -f "$run/checkpoints/latest" ] && resume=(--resume)
        "$bin" finetune --init "$from" --config mini --data "$data" --steps "$steps" --seed "$seed" --holdout-pairs red:cube,blue:sphere --out "$run" "${resume[@]}"
      fi
      [ -f "$run/eval/eval.json" ] || { log eval "$n" "$init" seed "$seed"; "$bin" eval --checkpoint "$run" --policy agent --scenario go_to_object --episodes "$evals" --temperature 1 --workers 2 --out "$run/eval"; }
    done
  done
done
"$bin" report "$out"
log done: "$out/report.html"
