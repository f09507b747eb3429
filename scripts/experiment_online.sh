#!/usr/bin/env bash
# The paradigm's experiment, online (docs/results.md): DAgger from the pretrained world model and
# from scratch, 3 seeds each, at equal expert labels. Round 0 is the expert's play; from round 1
# the agent plays alone (β = 0), so each round's rollout success, on seeds it has never trained
# on, is a point of its learning curve. `sandtable report OUT` draws the curves
# (online_curve.svg); each agent is also evaluated closed loop on held-out seeds.
#   bash scripts/experiment_online.sh [OUT=runs/experiment_online] [WORLD=pretrain one] [CONFIG=mini, or WORLD's]
#   env: SCENARIOS, ROUNDS (4), ROUND_EPISODES (32), STEPS (600), SEEDS ("0 1 2"), EVAL_EPISODES (100)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/experiment_common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/build.sh"
out="${1:-runs/experiment_online}"
world="${2:-}"
config="${3:-}"
read -r -a scenarios <<< "${SCENARIOS:-go_to_object}"
rounds="${ROUNDS:-4}"; per="${ROUND_EPISODES:-32}"; steps="${STEPS:-600}"; evals="${EVAL_EPISODES:-100}"
read -r -a seeds <<< "${SEEDS:-0 1 2}"
mkdir -p "$out"

if [ -z "$world" ]; then
  world="$out/world"
  [ -f "$out/pre/info.json" ] || { log record pretraining data; "$bin" record --scenario go_to_object pick_up_object describe_object count_objects --episodes 400 --policy mixed:0.3 --workers 2 --seed 300 --out "$out/pre"; }
  finished "$world" || { log pretrain; resume=(); [ -f "$world/checkpoints/latest" ] && resume=(--resume); "$bin" pretrain --data "$out/pre" --config "${config:-mini}" --out "$world" "${resume[@]}"; }
fi
# The fine-tuning settings: CONFIG (same architecture as WORLD), else WORLD's own config.
config="${config:-$world/config.json}"
for seed in "${seeds[@]}"; do
  for init in pretrained scratch; do
    run="$out/$init-seed$seed"
    from="$world"; [ "$init" = scratch ] && from=none
    if ! finished "$run"; then
      log online "$init" seed "$seed"; resume=(); [ -f "$run/online/info.json" ] && resume=(--resume)
      "$bin" finetune --online --scenario "${scenarios[@]}" --init "$from" --config "$config" --seed "$seed" \
        --steps "$steps" --rounds "$rounds" --round-episodes "$per" --beta 0 --workers 1 --envs 8 --out "$run" "${resume[@]}"
    fi
    [ -f "$run/eval/eval.json" ] || { log eval "$init" seed "$seed"; "$bin" eval --checkpoint "$run" --policy agent --scenario "${scenarios[@]}" --episodes "$evals" --workers 2 --envs 8 --gifs 1 --out "$run/eval"; }
  done
done
"$bin" report "$out"
log done: "$out/report.html"
