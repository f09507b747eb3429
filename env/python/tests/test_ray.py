"""Recording over Ray (``sandtable.ray``), run locally with 2 CPUs: the datasets are byte for byte
what the CLI's ``record`` writes for the same seeds, and their manifest lists them."""

import json
import pathlib
import subprocess

import ray  # scripts/python_env.sh installs it for the tests


def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(pathlib.Path(root).rglob("*")) if p.is_file()}


def test_recording_on_two_ray_workers_matches_the_cli(tmp_path, sandtable_bin):
    import sandtable.ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        manifest = sandtable.ray.record(tmp_path / "rec", seeds=[11, 12], episodes=4, policy="mixed:0.3", size=32, envs=2, bin=sandtable_bin)
    finally:
        ray.shutdown()
    listed = json.loads(pathlib.Path(manifest).read_text())
    assert [d["path"] for d in listed["datasets"]] == ["seed-11", "seed-12"]
    for seed in (11, 12):
        cli = tmp_path / f"cli-{seed}"
        subprocess.run(
            [sandtable_bin, "record", "--scenario", "go_to_object", "--episodes", "4", "--policy", "mixed:0.3", "--size", "32", "--envs", "2", "--workers", "1", "--seed", str(seed), "--out", str(cli)],
            check=True,
            capture_output=True,
        )
        assert files(tmp_path / "rec" / f"seed-{seed}") == files(cli), f"seed {seed}: the Ray task's dataset differs from the CLI's"
