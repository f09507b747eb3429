#!/usr/bin/env python3
"""Print the markdown tables of docs/results.md from an experiment directory made by
scripts/experiment.sh: closed-loop success of each fine-tuned agent, and the baselines."""
import json
import sys
from pathlib import Path

root = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/experiment")


def pct(s):
    lo, hi = s["success_ci95"]
    return f"{100 * s['success_rate']:.1f}% [{100 * lo:.0f}, {100 * hi:.0f}]"


rows = []
for card_path in sorted(root.glob("ft-*/agent.json")):
    run = card_path.parent
    card = json.loads(card_path.read_text())
    demos = card["train_episodes"] + card["val_episodes"] + card["holdout_episodes"]
    wall = (run / "wall_seconds").read_text().strip() if (run / "wall_seconds").exists() else "?"
    metrics = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    val = [m for m in metrics if "val_accuracy" in m]
    init = "scratch" if card["init"] is None else "pretrained"
    # eval/ is greedy; eval-t1/ and the like sample at the temperature their eval.json records.
    for ev in sorted(run.glob("eval*/eval.json")):
        doc = json.loads(ev.read_text())
        t = doc.get("agent_temperature", 0.0)
        label = init if not t else f"{init}, T={t:g}"
        res = {(r["scenario"], r["subset"]): r["summary"] for r in doc["results"] if r["policy"] == "agent"}
        rows.append((demos, label, wall, val[-1] if val else None, res, doc))

scenarios = ["go_to_object", "pick_up_object", "describe_object", "count_objects"]
print("| demos | init | " + " | ".join(scenarios) + " | held-out pairs (go_to + pick_up) | val action acc | fine-tune wall |")
print("|---|---|" + "---|" * len(scenarios) + "---|---|---|")
for demos, init, wall, val, res, doc in sorted(rows, key=lambda r: (r[0], r[1])):
    cells = [pct(res[(s, "all")]) if (s, "all") in res else "–" for s in scenarios]
    held = [res[(s, "holdout pairs")] for s in scenarios if (s, "holdout pairs") in res]
    hk = sum(h["successes"] for h in held)
    hn = sum(h["episodes"] for h in held)
    acc = f"{val['val_accuracy']:.3f}" if val else "–"
    print(f"| {demos} | {init} | " + " | ".join(cells) + f" | {hk}/{hn} | {acc} | {wall} s |")

base = root / "baselines" / "eval.json"
if base.exists():
    doc = json.loads(base.read_text())
    print()
    print("| policy | " + " | ".join(scenarios) + " |")
    print("|---|" + "---|" * len(scenarios))
    for policy in ["random", "expert"]:
        res = {(r["scenario"], r["subset"]): r["summary"] for r in doc["results"] if r["policy"] == policy}
        print(f"| {policy} | " + " | ".join(pct(res[(s, 'all')]) for s in scenarios) + " |")
