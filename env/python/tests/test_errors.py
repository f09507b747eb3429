"""Bad input raises a clear one-line exception, and the interpreter carries on."""

import os
import re

import numpy as np
import pytest

import sandtable

BAD_RON = """(
    name: "broken",
    description: "a scenario with a typo",
    room: (rooms: (default: 1, min: 1, max: 1)),
    colour_of_sky: 3,
)
"""


def one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text, text
    return text


def test_bad_scenario_file_names_file_line_col(tmp_path):
    path = tmp_path / "broken.ron"
    path.write_text(BAD_RON)
    with pytest.raises(ValueError) as e:
        sandtable.make(str(path))
    assert re.match(re.escape(str(path)) + r":\d+:\d+: ", one_line(e.value)), str(e.value)


def test_unknown_scenario_and_missing_file():
    with pytest.raises(ValueError, match="unknown scenario `no_such_scenario`"):
        sandtable.make("no_such_scenario")


def test_unknown_renderer():
    with pytest.raises(ValueError) as e:
        sandtable.make("go_to_object", renderer="vulkan")
    assert "unknown renderer `vulkan`" in one_line(e.value)


def test_size_zero():
    with pytest.raises(ValueError) as e:
        sandtable.make("go_to_object", size=0)
    assert one_line(e.value) == "invalid environment config: frame width must be in 8..=1024 pixels, got 0"
    with pytest.raises(ValueError):
        sandtable.make_vec("go_to_object", num_envs=0)


def test_unknown_action_then_the_env_still_works():
    env = sandtable.make("go_to_object", size=32)
    try:
        with pytest.raises(sandtable.ResetNeeded, match="call reset first"):
            env.step(1)
        env.reset(seed=0)
        last = len(sandtable.DECISIONS) - 1
        with pytest.raises(ValueError) as e:
            env.step(last + 1)
        assert one_line(e.value).startswith(f"unknown action {last + 1}: expected an index in 0..={last}: the moves (noop, forward,")
        with pytest.raises(ValueError, match="unknown action `jump`"):
            env.step("jump")
        with pytest.raises(ValueError, match="unknown action -1"):
            env.step(-1)
        with pytest.raises(ValueError, match="asks no question"):
            env.answer("red")
        # The interpreter and the env survive all of it.
        obs, reward, terminated, truncated, info = env.step("forward")
        assert obs["image"].shape == (32, 32, 3) and info["step"] == 1
    finally:
        env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.step(1)
    env.close()


def test_answer_outside_the_vocabulary():
    env = sandtable.make("describe_object", size=32)
    try:
        env.reset(seed=0)
        with pytest.raises(ValueError, match="not in the answer vocabulary"):
            env.answer("purple-ish")
        # The expert walks up to the object asked about before it answers.
        word = env.unwrapped.expert_decision()
        while isinstance(word, int):
            env.step(word)
            word = env.unwrapped.expert_decision()
        assert word in sandtable.ANSWERS
        _, reward, terminated, _, info = env.answer(word)
        assert terminated and info["success"] and reward > 0
    finally:
        env.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_forked_child_is_refused():
    env = sandtable.make("go_to_object", size=32)
    env.reset(seed=0)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        # The child: every use must fail cleanly, then the child exits without cleanup.
        messages = []
        for attempt in (lambda: env.step(1), lambda: sandtable.make("go_to_object", size=32)):
            try:
                attempt()
                messages.append("no error")
            except RuntimeError as e:
                messages.append(str(e))
        os.write(write, "\n".join(messages).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        lines = f.read().splitlines()
    os.waitpid(pid, 0)
    assert len(lines) == 2
    for line in lines:
        assert "forked" in line and "'spawn'" in line, line
    # The parent is untouched.
    obs, *_ = env.step(1)
    assert obs["image"].std() > 1.0
    env.close()
