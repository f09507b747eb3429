"""``SandtableEnv``: one sandtable env as a ``gymnasium.Env``."""

import json

import gymnasium
import numpy as np

from sandtable._native import Envs
from sandtable.spaces import ACTIONS, ANSWERS, DECISIONS, action_index, action_space, frame_size, observation_space

__all__ = ["ACTIONS", "ANSWERS", "DECISIONS", "SandtableEnv"]

#: Seeds drawn for unseeded resets lie in [0, 2**63).
_SEED_BOUND = 2**63


class SandtableEnv(gymnasium.Env):
    """One env: a Bevy App on its own worker thread, stepped with the GIL released.

    Observations are ``{"image": uint8[H, W, 3], "mission": str}``; actions index ``DECISIONS``:
    the moves of ``ACTIONS``, then the answer words of ``ANSWERS``.
    ``info`` is the ground truth (``objects``, ``answer``, ``success``, ``pose``, ...).
    ``reset(seed=s)`` plays the episode that ``sandtable sim --seed s`` plays. ``renderer`` is
    ``"batch"`` (the default) or ``"pbr"``, as ``sandtable sim --renderer``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, scenario="go_to_object", size=64, *, width=None, height=None, renderer="batch", render_mode=None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unsupported render_mode {render_mode!r} (expected None or 'rgb_array')")
        w, h = frame_size(size, width, height)
        self._native = Envs(str(scenario), [1], w, h, str(renderer))
        self.render_mode = render_mode
        self.observation_space = observation_space(w, h)
        self.action_space = action_space()
        self.action_names = DECISIONS
        self.answer_vocabulary = ANSWERS
        self.scenario = self._native.scenario_name
        self.asks_question = self._native.asks_question
        self.max_steps = self._native.max_steps
        self._last_image = None

    def _obs(self, images, missions):
        self._last_image = images[0]
        return {"image": images[0], "mission": missions[0]}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        episode_seed = seed if seed is not None else int(self.np_random.integers(_SEED_BOUND))
        images, _, _, _, missions, infos = self._native.reset([episode_seed])
        return self._obs(images, missions), json.loads(infos[0])

    def step(self, action):
        index = action_index(action)
        images, rewards, terminated, truncated, missions, infos = self._native.step([index], [None])
        return self._finish(images, rewards, terminated, truncated, missions, infos)

    def answer(self, word: str):
        """Answer the scenario's question with a word of ``ANSWERS``; the episode ends. The same
        as ``step(len(ACTIONS) + ANSWERS.index(word))``, but refused where the scenario asks no
        question.

        Returns ``(obs, reward, terminated, truncated, info)`` like ``step``; ``info["success"]``
        says whether the answer was right.
        """
        out = self._native.answer(0, str(word))
        return self._finish(*out)

    def _finish(self, images, rewards, terminated, truncated, missions, infos):
        obs = self._obs(images, missions)
        return obs, float(rewards[0]), bool(terminated[0]), bool(truncated[0]), json.loads(infos[0])

    def expert_action(self) -> int:
        """The scripted expert's action for the current state: on a question, its step towards the
        object it inspects (``task.inspect``), else ``noop``."""
        return self._native.expert_action(0)

    def expert_decision(self):
        """The expert's decision: an action index (int), or the answer word (str) once it answers
        a question (where the scenario sets `task.inspect`, it walks up to the object first)."""
        return self._native.expert_decision(0)

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._last_image is None:
            raise gymnasium.error.ResetNeeded("call reset() before render()")
        return self._last_image.copy()

    def close(self):
        self._native.close()
        super().close()
