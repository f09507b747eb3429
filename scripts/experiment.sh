#!/usr/bin/env bash
# The paradigm's experiment (docs/results.md): fine-tune the `mini` agent from its pretraining
# checkpoint and from scratch on 50, 200 and 1,000 expert demonstrations, at equal steps, and
# evaluate each closed loop on held-out seeds. Every stage resumes what exists.
#   bash scripts/experiment.sh [OUT=runs/experiment] [EVAL_EPISODES=30]
#   FOLLOW_UP=1 bash scripts/experiment.sh ...   also runs the follow-up into OUT-followup
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/experiment_common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/build.sh"
out="${1:-runs/experiment}"
eval_episodes="${2:-30}"
scenarios=(go_to_object pick_up_object describe_object count_objects)
holdout="red:cube,blue:sphere,green:cylinder,yellow:cone"
mkdir -p "$out"
timed() { local t0=$SECONDS; "$@"; echo "$(( SECONDS - t0 ))" > "$out/.last_seconds"; }

# Pretraining data: every scenario, the expert with 30% random decisions (seed 300).
[ -f "$out/pre/info.json" ] || { log record pretraining data; "$bin" record --scenario "${scenarios[@]}" --episodes 400 --policy mixed:0.3 --workers 2 --seed 300 --out "$out/pre"; }
# Demonstrations: the expert (seed 100); the smaller sets are prefixes of the larger.
for n in 50 200 1000; do
  [ -f "$out/demos$n/info.json" ] || { log record "$n" demonstrations; "$bin" record --scenario "${scenarios[@]}" --episodes "$n" --policy expert --workers 2 --seed 100 --out "$out/demos$n"; }
done
if ! finished "$out/world"; then
  log pretrain; resume=(); [ -f "$out/world/checkpoints/latest" ] && resume=(--resume)
  timed "$bin" pretrain --data "$out/pre" --config mini --out "$out/world" "${resume[@]}"; cp "$out/.last_seconds" "$out/world/wall_seconds"
fi
for n in 50 200 1000; do
  for init in pretrained scratch; do
    run="$out/ft-$init-$n"
    from="$out/world"; [ "$init" = scratch ] && from=none
    if ! finished "$run"; then
      log finetune "$init" "$n"; resume=(); [ -f "$run/checkpoints/latest" ] && resume=(--resume)
      timed "$bin" finetune --init "$from" --config mini --data "$out/demos$n" --holdout-pairs "$holdout" --out "$run" "${resume[@]}"
      cp "$out/.last_seconds" "$run/wall_seconds"
    fi
    [ -f "$run/eval/eval.json" ] || { log eval "$init" "$n"; "$bin" eval --checkpoint "$run" --policy agent --scenario "${scenarios[@]}" --episodes "$eval_episodes" --workers 2 --out "$run/eval"; }
  done
done
[ -f "$out/baselines/eval.json" ] || { log baselines; "$bin" eval --policy random expert --scenario "${scenarios[@]}" --episodes "$eval_episodes" --workers 2 --holdout-pairs "$holdout" --out "$out/baselines"; }
log done

# Follow-up (docs/results.md): the pretrained and scratch agents on 1,000 demonstrations with
# longer, episode-balanced fine-tuning (assets/runs/finetune_long.json), evaluated greedy and
# sampling at temperature 1. In its own directory so the comparison above stays at equal steps.
if [[ "${FOLLOW_UP:-0}" == 1 ]]; then
  follow="$out-followup"
  mkdir -p "$follow"
  for init in pretrained scratch; do
    run="$follow/ft-$init-1000"
    from="$out/world"; [ "$init" = scratch ] && from=none
    if ! finished "$run"; then
      log follow-up finetune "$init"; resume=(); [ -f "$run/checkpoints/latest" ] && resume=(--resume)
      timed "$bin" finetune --init "$from" --config assets/runs/finetune_long.json --data "$out/demos1000" --holdout-pairs "$holdout" --out "$run" "${resume[@]}"
      cp "$out/.last_seconds" "$run/wall_seconds"
    fi
    [ -f "$run/eval/eval.json" ] || { log follow-up eval "$init"; "$bin" eval --checkpoint "$run" --policy agent --scenario "${scenarios[@]}" --episodes "$eval_episodes" --workers 2 --out "$run/eval"; }
    [ -f "$run/eval-t1/eval.json" ] || { log follow-up eval "$init" temperature 1; "$bin" eval --checkpoint "$run" --policy agent --temperature 1 --scenario "${scenarios[@]}" --episodes "$eval_episodes" --workers 2 --out "$run/eval-t1"; }
  done
  log follow-up done
fi
