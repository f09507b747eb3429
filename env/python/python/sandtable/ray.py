"""Recording on Ray: one task per seed range, each writing its own dataset, joined by a manifest.

Ray is not a dependency of the package: ``import sandtable.ray`` needs ``pip install ray``.
Each task runs the ``sandtable`` CLI (``bin=``, else ``$SANDTABLE_BIN``, else ``sandtable`` on the
``PATH``, looked up on the node it runs on) and writes under ``out``, which the driver and every
node must see at the same path (one machine, or a shared file system). Every node needs this
package (the tasks are its functions) and the CLI. The datasets are exactly what
``sandtable record`` writes with the same arguments, and ``sandtable dataset manifest`` joins
them for ``pretrain``/``finetune --data``. A task whose dataset exists is resumed, so a killed
run is rerun as it was started. See docs/python.md.
"""

import os
import pathlib
import shutil
import subprocess

import ray


def _binary(bin):
    found = bin or os.environ.get("SANDTABLE_BIN") or shutil.which("sandtable")
    if not found:
        raise FileNotFoundError("no sandtable CLI: pass bin=, set SANDTABLE_BIN or put sandtable on PATH")
    return str(found)


def _run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(f"{' '.join(command[:2])}: {lines[-1] if lines else f'exit {done.returncode}'}")
    return done.stdout


@ray.remote(num_cpus=1)
def _record_task(bin, args, out):
    # The CLI is looked up on the node the task runs on.
    resume = ["--resume"] if (pathlib.Path(out) / "info.json").is_file() else []
    _run([_binary(bin), "record", *args, "--out", out, *resume])
    return out


def record(out, seeds, *, scenarios=("go_to_object",), episodes=100, policy="expert", size=64, envs=4, bin=None, extra=()):
    """Record one dataset per base seed in ``seeds`` on Ray workers, ``episodes`` episodes each
    into ``out/seed-S`` (episode ``i`` of a dataset plays ``episode_seed(S, i)``, so the datasets
    never share an episode), then write ``out/manifest.json`` over them and return its path.

    Each task is ``sandtable record --scenario ... --episodes EPISODES --policy POLICY --size
    SIZE --envs ENVS --workers 1 --seed S`` plus ``extra``: one core per task."""
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must differ: {seeds}")
    binary = _binary(bin)
    out = pathlib.Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)

    def args(seed):
        picked = [word for s in scenarios for word in ("--scenario", str(s))]
        return [*picked, "--episodes", str(episodes), "--policy", str(policy), "--size", str(size), "--envs", str(envs), "--workers", "1", "--seed", str(seed), *map(str, extra)]

    dirs = ray.get([_record_task.remote(bin, args(s), str(out / f"seed-{s}")) for s in seeds])
    manifest = out / "manifest.json"
    _run([binary, "dataset", "manifest", *dirs, "--out", str(manifest)])
    return manifest
