#!/usr/bin/env bash
# Behaviour cloning against the amount of demonstrations and steps (docs/results.md, "A learnable
# expert"): each arm records expert demonstrations of the demo's four scenarios, fine-tunes the
# `mini` agent from WORLD on them and evaluates it closed loop on held-out seeds, sampling actions
# at temperature 1 and greedily. An arm is `NAME:DEMOS:STEPS:POLICY`; POLICY `mixed:P` records
# with the expert's labels on the states a mixed policy visits (record --expert-labels).
#   bash scripts/experiment_bc.sh [OUT=runs/experiment_bc] [WORLD=runs/demo/world]
#   env: ARMS ("d400:400:1200:expert d1600:1600:2400:expert dart1600:1600:2400:mixed:0.3 d6400:6400:7200:expert"),
#        EVAL_EPISODES (200)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/experiment_common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/build.sh"
out="${1:-runs/experiment_bc}"
world="${2:-runs/demo/world}"
require_world "$world"
read -r -a arms <<< "${ARMS:-d400:400:1200:expert d1600:1600:2400:expert dart1600:1600:2400:mixed:0.3 d6400:6400:7200:expert}"
evals="${EVAL_EPISODES:-200}"
scenarios=(go_to_object pick_up_object describe_object count_objects)
mkdir -p "$out"

for arm in "${arms[@]}"; do
  IFS=: read -r name demos steps policy <<< "$arm"
  run="$out/$name"; data="$out/data-$demos-${policy//:/-}"
  labels=(); [ "$policy" = expert ] || labels=(--expert-labels)
  [ -f "$data/info.json" ] || { log record "$name"; "$bin" record --scenario "${scenarios[@]}" --episodes "$demos" --policy "$policy" "${labels[@]}" --workers 2 --seed 100 --out "$data"; }
  if ! finished "$run"; then
    log finetune "$name"; resume=(); [ -f "$run/checkpoints/latest" ] && resume=(--resume)
    "$bin" finetune --init "$world" --config mini --data "$data" --steps "$steps" --holdout-pairs red:cube,blue:sphere --out "$run" "${resume[@]}"
  fi
  [ -f "$run/eval_t1/eval.json" ] || { log eval "$name" T=1; "$bin" eval --checkpoint "$run" --scenario "${scenarios[@]}" --episodes "$evals" --temperature 1 --workers 2 --out "$run/eval_t1"; }
  [ -f "$run/eval_greedy/eval.json" ] || { log eval "$name" greedy; "$bin" eval --checkpoint "$run" --scenario go_to_object pick_up_object --episodes "$evals" --workers 2 --out "$run/eval_greedy"; }
done
