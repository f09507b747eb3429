"""One docs/pretraining.json row per scenario of an eval.json: arm, expert walks, recipe, seed,
scenario, the eval's base seed, episodes, success, and the episodes that ended holding another
object than the target (held_wrong_object) or beside one (wrong_object).
    python3 scripts/pretraining_rows.py EVAL_JSON ARM WALKS SEED >> rows.jsonl"""
import json
import sys

path, arm, walks, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ev = json.load(open(path))
for row in ev["results"]:
    if row["subset"] != "all":
        continue
    s, failures = row["summary"], row.get("failures", {})
    print(json.dumps({"arm": arm, "walks": walks, "recipe": "behaviour cloning", "seed": seed, "scenario": row["scenario"],
                      "eval_seed": ev["base_seed"], "episodes": s["episodes"], "success": s["success_rate"],
                      "held_wrong_object": failures.get("held_wrong_object", 0), "wrong_object": failures.get("wrong_object", 0)},
                     sort_keys=True))
