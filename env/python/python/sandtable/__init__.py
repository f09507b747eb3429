"""Gymnasium environments over sandtable's headless Bevy world.

``import sandtable`` registers every built-in scenario with Gymnasium, as
``sandtable/<CamelCaseName>-v0`` (for example ``sandtable/GoToObject-v0``).
``sandtable.make(path)`` opens any scenario file. See docs/python.md.
"""

import gymnasium

from sandtable._native import ResetNeeded, VulkanError
from sandtable.dataset import Dataset, Episode
from sandtable.env import ACTIONS, ANSWERS, DECISIONS, SandtableEnv
from sandtable.registration import SCENARIOS, env_id, register_builtins
from sandtable.vector import SandtableVectorEnv

__all__ = [
    "ACTIONS",
    "ANSWERS",
    "DECISIONS",
    "SCENARIOS",
    "Dataset",
    "Episode",
    "ResetNeeded",
    "SandtableEnv",
    "SandtableVectorEnv",
    "VulkanError",
    "env_id",
    "make",
    "make_vec",
]


def make(scenario: str, **kwargs) -> SandtableEnv:
    """An env playing ``scenario``: a built-in name or a path to a ``.ron`` scenario file."""
    return SandtableEnv(scenario=scenario, **kwargs)


def make_vec(scenario: str, num_envs: int, **kwargs) -> SandtableVectorEnv:
    """A native vector env of ``num_envs`` envs playing ``scenario`` on worker threads."""
    return SandtableVectorEnv(scenario=scenario, num_envs=num_envs, **kwargs)


register_builtins(gymnasium)
