"""The observation and action spaces shared by the single and the vector env."""

import string

import numpy as np
from gymnasium import spaces

from sandtable._native import action_names, answer_vocabulary

#: The moves, in index order: ``ACTIONS[i]`` is action ``i``.
ACTIONS = tuple(action_names())
#: Every word a question may be answered with: action ``len(ACTIONS) + k`` answers ``ANSWERS[k]``.
ANSWERS = tuple(answer_vocabulary())
#: Every action's name, moves then answer words: ``Discrete(len(DECISIONS))`` is the action space.
DECISIONS = ACTIONS + ANSWERS

#: Missions are printable ASCII (the scenario templates and object names are).
MISSION_CHARSET = frozenset(chr(c) for c in range(32, 127))
MISSION_MAX_LENGTH = 512


def frame_size(size, width, height):
    """Resolve ``size`` (square) or ``width``/``height`` into (width, height)."""
    width = size if width is None else width
    height = size if height is None else height
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"frame {name} must be an int, got {value!r}")
    return int(width), int(height)


def observation_space(width: int, height: int) -> spaces.Dict:
    """``image``: an RGB frame; ``mission``: the mission or question text."""
    return spaces.Dict(
        {
            "image": spaces.Box(0, 255, (height, width, 3), np.uint8),
            "mission": spaces.Text(MISSION_MAX_LENGTH, min_length=0, charset=MISSION_CHARSET),
        }
    )


def action_space() -> spaces.Discrete:
    """One ``Discrete`` for moving and answering: the moves of ``ACTIONS``, then one action per
    word of ``ANSWERS``. An answer ends a question's episode; where the scenario asks no question
    it does nothing (a ``noop``), so the space is the same for every scenario."""
    return spaces.Discrete(len(DECISIONS))


def action_index(action) -> int:
    """An action index from an int (or numpy integer), a move's name or an answer word;
    ValueError otherwise."""
    if isinstance(action, str):
        if action in DECISIONS:
            return DECISIONS.index(action)
        raise ValueError(f"unknown action `{action}` (expected a move, {', '.join(ACTIONS)}, or an answer word of ANSWERS)")
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, bool) or not isinstance(action, (int, np.integer)):
        raise ValueError(f"unknown action {action!r}: expected an index in 0..={len(DECISIONS) - 1} or a name")
    action = int(action)
    if not -(2**63) <= action < 2**63:
        raise ValueError(f"unknown action {action}: expected an index in 0..={len(DECISIONS) - 1}")
    # Other out-of-range indices are refused by Rust, with the action names.
    return action
