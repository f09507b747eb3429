"""The native vector env: 2 threads x 8 envs through several autoresets (NEXT_STEP)."""

import gymnasium
import numpy as np

import sandtable


def test_two_threads_of_eight_envs_autoreset():
    envs = gymnasium.make_vec(
        "sandtable/GoToObject-v0", num_envs=16, vectorization_mode="vector_entry_point", threads=2, size=32,
    )
    single = sandtable.make("go_to_object", size=32)
    try:
        assert isinstance(envs.unwrapped, gymnasium.vector.VectorEnv)
        assert envs.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.NEXT_STEP
        assert envs.num_envs == 16 and envs.unwrapped.threads == 2
        obs, info = envs.reset(seed=100)
        assert obs in envs.observation_space
        assert list(info["seed"]) == list(range(100, 116))
        # Env 9 lives on the second thread; it must play exactly what a lone env plays.
        lone, _ = single.reset(seed=109)
        assert np.array_equal(obs["image"][9], lone["image"])

        rng = np.random.default_rng(0)
        previous = obs["image"]
        pending = np.zeros(16, dtype=bool)
        autoresets = 0
        lone_alive = True
        for t in range(40):
            # `done` (9) often, so episodes end and are reset many times.
            actions = np.where(rng.random(16) < 0.1, 9, rng.integers(1, 7, size=16))
            obs, rewards, terminated, truncated, info = envs.step(actions)
            assert obs in envs.observation_space
            assert rewards.shape == (16,) and terminated.dtype == np.bool_
            # Fresh arrays every step, never a view of a reused buffer.
            assert not np.shares_memory(obs["image"], previous)
            previous = obs["image"]
            # Envs that ended last step were reset now: first frame, reward 0, not done.
            assert np.all(info["step"][pending] == 0)
            assert np.all(rewards[pending] == 0) and not np.any(terminated[pending] | truncated[pending])
            autoresets += int(pending.sum())
            if lone_alive:
                lone, lone_reward, lone_term, lone_trunc, _ = single.step(int(actions[9]))
                assert np.array_equal(obs["image"][9], lone["image"]), f"env 9 differs at step {t}"
                assert np.float32(lone_reward) == np.float32(rewards[9])
                lone_alive = not (lone_term or lone_trunc)
            pending = terminated | truncated
        assert autoresets >= 10, f"only {autoresets} autoresets"
        experts = envs.unwrapped.expert_actions()
        assert experts.shape == (16,) and np.all((experts >= 0) & (experts < len(sandtable.ACTIONS)))
    finally:
        envs.close()
        single.close()
