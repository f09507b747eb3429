"""`sandtable.Dataset` reads what `sandtable record` wrote, and agrees with info.json."""

import json
import subprocess

import numpy as np
import pytest

import sandtable


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, sandtable_bin):
    out = tmp_path_factory.mktemp("dataset") / "ds"
    subprocess.run(
        [sandtable_bin, "record", "--scenario", "go_to_object", "--scenario", "count_objects", "--episodes", "5",
         "--policy", "mixed:0.3", "--workers", "1", "--envs", "2", "--size", "32", "--seed", "3",
         "--shard-frames", "40", "--out", str(out)],
        check=True, capture_output=True,
    )
    return out


def test_dataset_agrees_with_info_json(recorded):
    info = json.loads((recorded / "info.json").read_text())
    lines = [json.loads(line) for line in (recorded / "episodes.jsonl").read_text().splitlines()]
    ds = sandtable.Dataset(recorded)
    assert len(ds) == info["total_episodes"] == 5
    assert len(info["shards"]) > 1, "the test should span several shards"
    assert ds.action_vocabulary == tuple(info["action_vocabulary"])
    assert ds.action_vocabulary[: len(sandtable.ACTIONS)] == sandtable.ACTIONS
    assert ds.frame_shape == (32, 32, 3)
    total = 0
    for i, ep in enumerate(ds):
        meta = lines[i]
        assert ep.index == meta["index"] == i
        assert len(ep) == meta["length"] and ep.frames.shape == (meta["length"], 32, 32, 3)
        assert ep.frames.dtype == np.uint8 and ep.actions.dtype == np.int64
        assert ep.actions[-1] == -1 and np.all((ep.actions[:-1] >= 0) & (ep.actions[:-1] < len(ds.action_vocabulary)))
        assert np.isclose(ep.rewards.sum(), meta["return"], atol=1e-5)
        assert ep.success == meta["success"] and ep.seed == meta["seed"] and ep.mission == meta["mission"]
        assert ep.terminated[-2] or ep.truncated[-2]
        total += len(ep)
    assert total == info["total_frames"]
    assert np.array_equal(ds[-1].frames, ds[4].frames)
    with pytest.raises(IndexError):
        ds[5]


def test_dataset_frames_replay_in_python(recorded):
    """An action episode replayed through the Python env shows exactly the recorded frames."""
    ds = sandtable.Dataset(recorded)
    ep = ds[0]
    assert ep.scenario == "go_to_object"
    env = sandtable.make("go_to_object", size=32)
    try:
        obs, _ = env.reset(seed=ep.seed)
        assert np.array_equal(obs["image"], ep.frames[0])
        for t, a in enumerate(ep.actions[:-1]):
            obs, reward, *_ = env.step(int(a))
            assert np.array_equal(obs["image"], ep.frames[t + 1]), f"frame {t + 1} differs"
            assert np.float32(reward) == ep.rewards[t]
    finally:
        env.close()


def test_not_a_dataset(tmp_path):
    with pytest.raises(FileNotFoundError, match="info.json"):
        sandtable.Dataset(tmp_path)
