#!/usr/bin/env python3
"""Python vector-env frames/s against the Rust `sandtable bench env`, same envs, threads and size.

Usage: bench_python.py SANDTABLE_BIN [--threads 2] [--envs 8] [--size 64] [--steps 300] [--runs 3]

Runs alternate (Rust, Python, Rust, Python, ...) so both see the same machine; each run starts a
fresh App per thread, warms up 20 steps and times `steps` steps of random moves (actions 1..6, as
the Rust benchmark draws them). Prints a Markdown table of medians and every run.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

import sandtable


def rust_run(binary, a) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        subprocess.run(
            [binary, "bench", "env", "--scenario", a.scenario, "--sizes", str(a.size), "--threads", str(a.threads),
             "--envs", str(a.envs), "--steps", str(a.steps), "--runs", "1", "--json", str(out)],
            check=True, capture_output=True,
        )
        return json.loads(out.read_text())["results"][0]["fps_median"]


def python_run(a) -> float:
    n = a.threads * a.envs
    envs = sandtable.make_vec(a.scenario, num_envs=n, threads=a.threads, size=a.size)
    try:
        rng = np.random.default_rng(0)
        envs.reset(seed=0)
        for _ in range(20):
            envs.step(rng.integers(1, 7, size=n))
        start = time.perf_counter()
        for _ in range(a.steps):
            envs.step(rng.integers(1, 7, size=n))
        return n * a.steps / (time.perf_counter() - start)
    finally:
        envs.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("binary")
    p.add_argument("--scenario", default="go_to_object")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    rust, python = [], []
    for r in range(a.runs):
        rust.append(rust_run(a.binary, a))
        python.append(python_run(a))
        print(f"run {r + 1}: rust {rust[-1]:.0f} frames/s, python {python[-1]:.0f} frames/s", file=sys.stderr)
    rm, pm = statistics.median(rust), statistics.median(python)
    overhead = 100 * (rm - pm) / rm
    print(f"| {a.size} | {a.threads} | {a.envs} | {rm:.0f} | {pm:.0f} | {overhead:+.1f}% |")
    print(f"runs: rust {[round(x) for x in rust]}, python {[round(x) for x in python]}; {date.today()}")
    if a.json:
        a.json.write_text(json.dumps({
            "scenario": a.scenario, "size": a.size, "threads": a.threads, "envs_per_thread": a.envs, "steps": a.steps,
            "rust_fps": rust, "python_fps": python, "rust_median": rm, "python_median": pm,
            "overhead_percent": overhead, "date": str(date.today()),
        }, indent=2))


if __name__ == "__main__":
    main()
