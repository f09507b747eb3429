"""Frames and rewards equal the Rust env's (`sandtable sim`) for the same seed and actions."""

import json
import subprocess

import numpy as np
import pytest
from PIL import Image

import sandtable


def as_f32(x):
    """Floats rounded to f32: Rust's values are f32, written once as f32 and once widened to f64."""
    if isinstance(x, float):
        return np.float32(x)
    if isinstance(x, dict):
        return {k: as_f32(v) for k, v in x.items()}
    if isinstance(x, list):
        return [as_f32(v) for v in x]
    return x


@pytest.mark.parametrize(
    "scenario,policy,seed,renderer",
    [
        ("go_to_object", "mixed:0.5", 7, "batch"),
        ("moving_balls", "random", 11, "batch"),
        ("describe_object", "expert", 2, "batch"),
        ("go_to_object", "random", 3, "pbr"),
    ],
)
def test_frames_and_rewards_equal_the_cli(tmp_path, sandtable_bin, scenario, policy, seed, renderer):
    out = tmp_path / "sim"
    subprocess.run(
        [sandtable_bin, "sim", "--scenario", scenario, "--seed", str(seed), "--policy", policy, "--steps", "12",
         "--size", "48", "--renderer", renderer, "--out", str(out)],
        check=True, capture_output=True,
    )
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert steps, "the CLI took no step"

    def png(t):
        return np.asarray(Image.open(out / "frames" / f"{t:06d}.png").convert("RGB"))

    env = sandtable.make(scenario, size=48, renderer=renderer)
    try:
        obs, _ = env.reset(seed=seed)
        assert np.array_equal(obs["image"], png(0))
        for s in steps:
            if s["action"] == "answer":
                obs, reward, terminated, truncated, info = env.answer(s["answer"])
            else:
                obs, reward, terminated, truncated, info = env.step(s["action"])
            t = s["step"]
            assert np.array_equal(obs["image"], png(t)), f"frame {t} differs"
            assert np.float32(reward) == np.float32(s["reward"]), f"reward {t} differs"
            assert (terminated, truncated) == (s["terminated"], s["truncated"])
            assert as_f32(info) == as_f32(s["info"]), f"info {t} differs"
    finally:
        env.close()
