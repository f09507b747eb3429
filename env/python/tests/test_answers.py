"""Answers are actions: one Discrete space moves and answers, in the single and the vector env."""

import numpy as np

import sandtable
from sandtable import ACTIONS, ANSWERS, DECISIONS


def answer_action(word):
    return len(ACTIONS) + ANSWERS.index(word)


def test_the_space_holds_the_moves_then_the_answer_words():
    env = sandtable.make("count_objects", size=32)
    try:
        assert env.action_space.n == len(ACTIONS) + len(ANSWERS) == len(DECISIONS)
        assert env.unwrapped.action_names == DECISIONS
        _, info = env.reset(seed=4)
        _, reward, terminated, truncated, info = env.step(answer_action(info["answer"]))
        assert terminated and not truncated and info["success"] and reward > 0
        # A wrong word ends the episode too, as a failure; a word's name works like its index.
        _, info = env.reset(seed=4)
        wrong = next(w for w in ANSWERS if w != info["answer"])
        _, _, terminated, _, info = env.step(wrong)
        assert terminated and not info["success"]
    finally:
        env.close()


def test_an_answer_where_nothing_is_asked_is_a_noop():
    env = sandtable.make("go_to_object", size=32)
    try:
        obs, info = env.reset(seed=1)
        after, reward, terminated, truncated, step_info = env.step(answer_action("red"))
        assert step_info["step"] == 1 and not terminated and not truncated
        assert step_info["pose"] == info["pose"] and np.array_equal(after["image"], obs["image"])
    finally:
        env.close()


def test_the_vector_env_answers_beside_moves():
    envs = sandtable.make_vec("count_objects", 4, size=32, threads=2)
    try:
        _, infos = envs.reset(seed=10)
        assert envs.action_space.nvec.tolist() == [len(DECISIONS)] * 4
        # Envs 0 and 2 answer, 1 and 3 turn, in the same step.
        actions = [answer_action(infos["answer"][i]) if i % 2 == 0 else ACTIONS.index("turn_left") for i in range(4)]
        _, _, terminated, truncated, infos = envs.step(np.array(actions))
        assert terminated.tolist() == [True, False, True, False] and not truncated.any()
        assert infos["success"][0] and infos["success"][2]
        # A list mixing indices and names keeps each as it is: 13 is an answer index, not the word "13".
        _, infos = envs.reset(seed=20)
        _, _, terminated, _, infos = envs.step([13, "turn_left", "noop", str(infos["answer"][3])])
        assert terminated.tolist() == [True, False, False, True]
    finally:
        envs.close()


def test_a_policy_that_sees_only_the_action_space_finishes_every_builtin():
    # The expert's decisions, turned into indices of the action space, finish every built-in,
    # questions included: no method beside `step` is needed.
    for scenario in sandtable.SCENARIOS:
        env = sandtable.make(scenario, size=32)
        try:
            successes = 0
            for seed in range(3):
                env.reset(seed=seed)
                done, info = False, {}
                while not done:
                    index = sandtable.spaces.action_index(env.unwrapped.expert_decision())
                    assert env.action_space.contains(index)
                    _, _, terminated, truncated, info = env.step(index)
                    done = terminated or truncated
                successes += bool(info["success"])
            assert successes >= 2, f"{scenario}: the expert finished {successes} of 3 through step alone"
        finally:
            env.close()


def test_a_random_policy_over_the_space_answers_at_the_random_floor():
    # count_objects asks how many of a kind there are: a policy that samples the space answers at
    # once most of the time (len(ANSWERS) of its actions are answers), and right about once in
    # len(ANSWERS) answers (8 of 400 episodes for sampling seed 1 in Discrete(60); 8, 9, 6 and 3
    # for seeds 1 to 4 in the Discrete(59) before `toggle`). Not zero, and not more than chance.
    env = sandtable.make("count_objects", size=32)
    try:
        env.action_space.seed(1)
        episodes, successes = 400, 0
        for seed in range(episodes):
            env.reset(seed=seed)
            done, info = False, {}
            while not done:
                _, _, terminated, truncated, info = env.step(env.action_space.sample())
                done = terminated or truncated
            successes += bool(info["success"])
        rate = successes / episodes
        print(f"random policy on count_objects: {successes}/{episodes}")
        assert 0 < rate < 0.08, rate
    finally:
        env.close()
