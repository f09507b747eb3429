#!/usr/bin/env bash
# Issue 43's measurement (docs/results.md): one agent, trained by the existing recipe (online
# imitation with the demonstrations kept: behaviour cloning on expert walks, then rounds in which
# the agent plays alone and the expert labels its states), from scratch at `mini`, on
# open_door_go_to and unlock_door together; then closed-loop evaluation on 200 held-out
# episodes of each, beside random and the expert on the same seeds. Resumable: run it again to
# go on where it stopped.
#   bash scripts/experiment_interactions.sh [OUT=runs/interactions]
#   env: DEMOS (1600 walks), STEPS (8000), FIRST (4000 steps of behaviour cloning first),
#        ROUNDS (3), ROUND_EPISODES (200), EVAL_EPISODES (200)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/experiment_common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/build.sh"
out="${1:-runs/interactions}"
scenarios=(open_door_go_to unlock_door)
demos="${DEMOS:-1600}"; steps="${STEPS:-8000}"; first="${FIRST:-4000}"
rounds="${ROUNDS:-3}"; per="${ROUND_EPISODES:-200}"; evals="${EVAL_EPISODES:-200}"
mkdir -p "$out"

if ! grep -q "\"total_episodes\": $demos," "$out/demos/info.json" 2>/dev/null; then
  log record "$demos" expert walks
  resume=(); [ -f "$out/demos/info.json" ] && resume=(--resume)
  "$bin" record --scenario "${scenarios[@]}" --episodes "$demos" --policy expert --workers 2 --seed 300 --out "$out/demos" "${resume[@]}"
fi
run="$out/agent"
if ! finished "$run"; then
  log online imitation
  resume=(); [ -f "$run/online/info.json" ] && resume=(--resume)
  "$bin" finetune --online --init none --config mini --data "$out/demos" --scenario "${scenarios[@]}" \
    --steps "$steps" --first-round-steps "$first" --rounds "$rounds" --round-episodes "$per" --beta 0 --beta-decay 0 \
    --workers 2 --envs 8 --out "$run" "${resume[@]}"
fi
[ -f "$run/eval/eval.json" ] || { log eval; "$bin" eval --checkpoint "$run" --policy agent random expert --scenario "${scenarios[@]}" --episodes "$evals" --temperature 1 --workers 2 --envs 8 --out "$run/eval"; }
log done: "$run/eval/eval.json"
