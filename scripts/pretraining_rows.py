"""One docs/pretraining.json row per scenario of an eval.json: arm, expert walks, recipe, seed,
scenario, the eval's base seed, episodes, success and the wrong-object failures.
    python3 scripts/pretraining_rows.py EVAL_JSON ARM WALKS SEED >> rows.jsonl"""
import json
import sys

path, arm, walks, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ev = json.load(open(path))
for row in ev["results"]:
    if row["subset"] != "all":
        continue
    s = row["summary"]
    wrong = sum(n for kind, n in row.get("failures", {}).items() if "wrong" in kind)
    print(json.dumps({"arm": arm, "walks": walks, "recipe": "behaviour cloning", "seed": seed, "scenario": row["scenario"],
                      "eval_seed": ev["base_seed"], "episodes": s["episodes"], "success": s["success_rate"], "wrong_object": wrong},
                     sort_keys=True))
