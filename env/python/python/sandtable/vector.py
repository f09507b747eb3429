"""``SandtableVectorEnv``: a native ``gymnasium.vector.VectorEnv`` over ``EnvBatch``es on threads."""

import json
import os

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from gymnasium.spaces import MultiDiscrete

from sandtable._native import Envs
from sandtable.spaces import ACTIONS, DECISIONS, action_index, action_space, frame_size, observation_space

_SEED_BOUND = 2**63


def _split(num_envs: int, threads: int) -> list:
    """Envs per thread, as even as possible (earlier threads take the remainder)."""
    base, extra = divmod(num_envs, threads)
    return [base + (1 if t < extra else 0) for t in range(threads)]


def _batch_infos(infos: list) -> dict:
    """Gymnasium's vector info layout: one array per key, with an all-true ``_key`` mask."""
    n = len(infos)
    out = {}
    for key in infos[0]:
        values = [info[key] for info in infos]
        if all(isinstance(v, bool) for v in values):
            array = np.array(values, dtype=np.bool_)
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            array = np.array(values, dtype=np.uint64 if key == "seed" else np.int64)
        else:
            # Text, optional values, lists of objects: one Python object per env.
            array = np.empty(n, dtype=object)
            array[:] = values
        out[key] = array
        out["_" + key] = np.ones(n, dtype=np.bool_)
    return out


class SandtableVectorEnv(VectorEnv):
    """``num_envs`` envs on ``threads`` worker threads (one single-threaded Bevy App each).

    ``step`` hands every thread its envs' actions at once and waits with the GIL released.
    Episodes that end are reset on the next ``step`` (``AutoresetMode.NEXT_STEP``): that step
    returns the new episode's first observation with reward 0, and ignores the env's action.
    Every call returns newly allocated arrays. ``renderer`` is ``"batch"`` (every env of a thread
    drawn in one pass, the default) or ``"pbr"`` (Bevy's physically based path, one camera per env).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        scenario="go_to_object",
        num_envs=16,
        *,
        threads=None,
        size=64,
        width=None,
        height=None,
        renderer="batch",
        render_mode=None,
    ):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unsupported render_mode {render_mode!r} (expected None or 'rgb_array')")
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        threads = min(num_envs, os.cpu_count() or 1) if threads is None else threads
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= num_envs:
            raise ValueError(f"threads must be an int in 1..={num_envs}, got {threads!r}")
        w, h = frame_size(size, width, height)
        self._native = Envs(str(scenario), _split(num_envs, threads), w, h, str(renderer))
        self.num_envs = num_envs
        self.threads = threads
        self.render_mode = render_mode
        self.single_observation_space = observation_space(w, h)
        self.single_action_space = action_space()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = MultiDiscrete(np.full(num_envs, len(DECISIONS)))
        self.action_names = DECISIONS
        self.scenario = self._native.scenario_name
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)
        self._last_images = None

    def _draw_seeds(self, count: int) -> list:
        return [int(s) for s in self.np_random.integers(_SEED_BOUND, size=count)]

    def reset(self, *, seed=None, options=None):
        """Reset every env. ``seed`` may be an int (env ``i`` gets ``seed + i``), a list of
        ``num_envs`` seeds, or None (seeds drawn from ``np_random``)."""
        if isinstance(seed, (list, tuple)):
            if len(seed) != self.num_envs:
                raise ValueError(f"got {len(seed)} seeds for {self.num_envs} envs")
            super().reset(seed=seed[0])
            seeds = [int(s) for s in seed]
        else:
            super().reset(seed=seed)
            seeds = [seed + i for i in range(self.num_envs)] if seed is not None else self._draw_seeds(self.num_envs)
        images, _, _, _, missions, infos = self._native.reset(seeds)
        self._autoreset[:] = False
        return self._obs(images, missions), _batch_infos([json.loads(i) for i in infos])

    def step(self, actions):
        # A list mixing indices and names stays a list of objects: np.asarray would turn 13 into "13",
        # an answer word.
        actions = actions if isinstance(actions, np.ndarray) else np.asarray(actions, dtype=object)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"expected {self.num_envs} actions, got an array of shape {actions.shape}")
        indices = [action_index(a) for a in actions.tolist()]
        resets = [None] * self.num_envs
        done = np.flatnonzero(self._autoreset)
        for i, s in zip(done, self._draw_seeds(len(done))):
            resets[i] = s
        images, rewards, terminated, truncated, missions, infos = self._native.step(indices, resets)
        self._autoreset = terminated | truncated
        return (
            self._obs(images, missions),
            rewards.astype(np.float64),
            terminated,
            truncated,
            _batch_infos([json.loads(i) for i in infos]),
        )

    def _obs(self, images, missions):
        self._last_images = images
        return {"image": images, "mission": tuple(missions)}

    def render(self):
        if self.render_mode != "rgb_array" or self._last_images is None:
            return None
        return tuple(image.copy() for image in self._last_images)

    def expert_actions(self) -> np.ndarray:
        """The scripted expert's action for every env's current state."""
        return np.array([self._native.expert_action(i) for i in range(self.num_envs)], dtype=np.int64)

    def close_extras(self, **kwargs):
        self._native.close()
