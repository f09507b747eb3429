"""docs/pretraining.json from the rows the pretraining experiments wrote, and the markdown table
of their means per arm, walks, scenario and evaluation seeds that docs/results.md shows.
    python3 scripts/pretraining_table.py ROWS.jsonl... > table.md   (writes docs/pretraining.json)"""
import json
import os
import statistics
import sys

rows = sorted({line for path in sys.argv[1:] for line in open(path) if line.strip()})
rows = [json.loads(r) for r in rows]
rows.sort(key=lambda r: (r["eval_seed"], r["walks"], r["scenario"], r["arm"], r["seed"]))
tmp = "docs/pretraining.json.partial"
with open(tmp, "w") as f:
    json.dump(rows, f, indent=1, sort_keys=True)
    f.write("\n")
os.replace(tmp, "docs/pretraining.json")

groups = {}
for r in rows:
    groups.setdefault((r["eval_seed"], r["walks"], r["scenario"], r["arm"]), []).append(r)
print("| evaluation seeds | walks | scenario | arm | seeds | success (each seed) | held the wrong object |")
print("|---|---|---|---|---|---|---|")
for (eval_seed, walks, scenario, arm), rs in groups.items():
    each = ", ".join(f"{100 * r['success']:.1f}" for r in rs)
    held = sum(r["held_wrong_object"] for r in rs)
    episodes = sum(r["episodes"] for r in rs)
    print(f"| {eval_seed:,} | {walks:,} | `{scenario}` | {arm} | {len(rs)} | **{100 * statistics.mean(r['success'] for r in rs):.1f}%** ({each}) | {held} of {episodes} |")
