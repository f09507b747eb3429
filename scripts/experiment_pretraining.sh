#!/usr/bin/env bash
# Pretraining that pays? (docs/results.md, "Pretraining in the agent's layout"): the `mini` agent
# fine-tuned on expert walks from scratch, from a world model pretrained in its own layout, and
# from one pretrained in the agent's layout (the mission, or the caption of where the play goes,
# before the frames; half the windows with no action given; every position the agent reads
# trained), with and without co-training on replayed play, and with LP-FT (300 steps of the new
# parts alone, then the trunk at 0.3 of the rate). Every world model sees the same play
# frames (mixed:0.3, no question scenarios; recorded twice, the second time with captions, the
# same bytes) for the same steps. Every arm is scored closed loop on go_to_object and pick_up_object, sampling at
# T = 1, on the VALIDATION seeds (2,000,003) unless EVAL_SEED says otherwise; one row per run
# and scenario goes to OUT/rows.jsonl (python3 scripts/pretraining_table.py OUT/rows.jsonl writes
# docs/pretraining.json and prints the table). Resumable: rerun the same command. The held-out
# protocol of docs/results.md, after the validation round chose the recipe:
#   EVAL_SEED=1000003 EVAL_EPISODES=200 SEEDS="0 1 2" ARMS="scratch text" bash scripts/experiment_pretraining.sh
#   bash scripts/experiment_pretraining.sh [OUT=runs/experiment_pretraining]
#   env: WALKS ("400"), SEEDS ("0"), ARMS ("scratch plain text text_replay caption text_lpft"), STEPS (3000),
#        PLAY (2000 episodes), EVAL_EPISODES (100 per scenario), EVAL_SEED (2000003)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/experiment_common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/build.sh"
out="${1:-runs/experiment_pretraining}"
read -r -a walks <<< "${WALKS:-400}"
read -r -a seeds <<< "${SEEDS:-0}"
read -r -a arms <<< "${ARMS:-scratch plain text text_replay caption text_lpft}"
steps="${STEPS:-3000}"; play_episodes="${PLAY:-2000}"; evals="${EVAL_EPISODES:-100}"; eval_seed="${EVAL_SEED:-2000003}"
mkdir -p "$out"

# Configs: `mini`, and `mini` with the changes each arm makes.
config() { # NAME PYTHON-ASSIGNMENTS
  python3 - "$out/$1.json" "$2" <<'PY'
import json, sys
c = json.load(open("assets/presets/mini.json"))
c["name"] = sys.argv[1].rsplit("/", 1)[-1][:-5]
exec(sys.argv[2], {"c": c})
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
}
config plain "c['train']['dynamics_steps'] = 1500"
config text "c['train']['dynamics_steps'] = 1500; c['train']['text_prefix'] = 'mission'; c['train']['null_window_rate'] = 0.5"
config caption "c['train']['dynamics_steps'] = 1500; c['train']['text_prefix'] = 'caption'; c['train']['null_window_rate'] = 0.5"
config text_lpft "c['train']['dynamics_steps'] = 1500; c['train']['text_prefix'] = 'mission'; c['train']['null_window_rate'] = 0.5; c['finetune']['probe_steps'] = 300; c['finetune']['trunk_lr_scale'] = 0.3"
config text_replay "c['train']['dynamics_steps'] = 1500; c['train']['text_prefix'] = 'mission'; c['train']['null_window_rate'] = 0.5; c['finetune']['replay_share'] = 0.25; c['finetune']['replay_weight'] = 0.5"

for play in "$out/play" "$out/play_captioned"; do
  resume=(); [ -f "$play/info.json" ] && resume=(--resume)
  log record "$play_episodes" "$play"
  "$bin" record --scenario go_to_object pick_up_object --episodes "$play_episodes" --policy mixed:0.3 --workers 2 --seed 310 --out "$play" "${resume[@]}"
done
for world in plain text caption; do
  run="$out/world_$world"; play="$out/play"; [ "$world" = caption ] && play="$out/play_captioned"
  finished "$run" || { log pretrain "$world"; resume=(); [ -f "$run/checkpoints/latest" ] && resume=(--resume)
    "$bin" pretrain --data "$play" --config "$out/$world.json" --seed 0 --out "$run" "${resume[@]}"; }
done

for n in "${walks[@]}"; do
  data="$out/walks$n"
  [ -f "$data/info.json" ] || { log record "$n" walks; "$bin" record --scenario go_to_object pick_up_object --episodes "$n" --policy expert --workers 2 --seed 300 --out "$data"; }
  for seed in "${seeds[@]}"; do
    for arm in "${arms[@]}"; do
      run="$out/walks$n-$arm-seed$seed"
      case "$arm" in
        scratch) from=none; cfg=mini ;;
        plain) from="$out/world_plain"; cfg="$out/plain.json" ;;
        text) from="$out/world_text"; cfg="$out/text.json" ;;
        text_replay) from="$out/world_text"; cfg="$out/text_replay.json" ;;
        caption) from="$out/world_caption"; cfg="$out/caption.json" ;;
        text_lpft) from="$out/world_text"; cfg="$out/text_lpft.json" ;;
        *) echo "unknown arm $arm" >&2; exit 2 ;;
      esac
      if ! finished "$run"; then
        log finetune "$n" "$arm" seed "$seed"; resume=(); [ -f "$run/checkpoints/latest" ] && resume=(--resume)
        "$bin" finetune --init "$from" --config "$cfg" --data "$data" --steps "$steps" --seed "$seed" --holdout-pairs red:cube,blue:sphere --out "$run" "${resume[@]}"
      fi
      ev="$run/eval-$eval_seed"
      [ -f "$ev/eval.json" ] || { log eval "$n" "$arm" seed "$seed"; "$bin" eval --checkpoint "$run" --policy agent --scenario go_to_object pick_up_object --episodes "$evals" --seed "$eval_seed" --temperature 1 --workers 2 --out "$ev"; }
      python3 scripts/pretraining_rows.py "$ev/eval.json" "$arm" "$n" "$seed" >> "$out/rows.jsonl.partial"
    done
  done
done
# Rows of earlier runs (other evaluation seeds) are kept beside this run's.
touch "$out/rows.jsonl"
sort -u "$out/rows.jsonl.partial" "$out/rows.jsonl" > "$out/rows.jsonl.new" && mv "$out/rows.jsonl.new" "$out/rows.jsonl" && rm "$out/rows.jsonl.partial"
log done: "$out/rows.jsonl"
