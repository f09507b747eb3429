"""Gymnasium's own contract check on every built-in scenario, render check included."""

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sandtable


def test_every_builtin_is_registered():
    assert len(sandtable.SCENARIOS) >= 7
    for name in sandtable.SCENARIOS:
        assert sandtable.env_id(name) in gymnasium.registry
    assert sandtable.env_id("go_to_object") == "sandtable/GoToObject-v0"


@pytest.mark.parametrize("scenario", sandtable.SCENARIOS)
def test_check_env(scenario):
    env = gymnasium.make(sandtable.env_id(scenario), size=32, render_mode="rgb_array")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)
        assert [str(w.message) for w in caught] == []
        obs, info = env.reset(seed=3)
        assert obs["image"].shape == (32, 32, 3) and obs["image"].dtype == np.uint8
        # Frames are real renders: not blank.
        assert obs["image"].std() > 1.0
        assert {"objects", "answer", "success", "pose"} <= info.keys()
        frame = env.render()
        assert np.array_equal(frame, obs["image"])
    finally:
        env.close()
