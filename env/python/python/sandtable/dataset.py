"""``sandtable.Dataset``: a dataset recorded by ``sandtable record``, episode by episode, as numpy.

The layout is docs/dataset.md's: ``info.json``, ``episodes.jsonl`` and safetensors shards of
one row per frame. Shards are opened lazily and only an episode's rows are read.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "sandtable-dataset"
FORMAT_VERSION = 1
_TENSORS = ("frames", "actions", "rewards", "terminated", "truncated")


@dataclass
class Episode:
    """One episode's rows: L + 1 frames for L decisions (``actions[-1]`` is -1)."""

    index: int
    scenario: str
    seed: int
    mission: str
    answer: object
    given_answer: object
    success: bool
    episode_return: float
    frames: np.ndarray  # uint8 [L+1, H, W, 3]
    actions: np.ndarray  # int64 [L+1], indices into Dataset.action_vocabulary
    rewards: np.ndarray  # float32 [L+1]
    terminated: np.ndarray  # bool [L+1]
    truncated: np.ndarray  # bool [L+1]

    def __len__(self) -> int:
        return len(self.actions)


class Dataset:
    """A recorded dataset: ``len(ds)`` episodes, ``ds[i]`` an :class:`Episode`, iteration in order."""

    def __init__(self, root):
        from safetensors import safe_open

        self._safe_open = safe_open
        self.root = Path(root)
        info_path = self.root / "info.json"
        try:
            self.info = json.loads(info_path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{info_path}: no such file (not a sandtable dataset)") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{info_path}:{e.lineno}:{e.colno}: {e.msg}") from None
        if self.info.get("format") != FORMAT or self.info.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{info_path}: unsupported format {self.info.get('format')!r} "
                f"v{self.info.get('format_version')!r} (expected {FORMAT} v{FORMAT_VERSION})"
            )
        total = self.info["total_episodes"]
        lines = (self.root / "episodes.jsonl").read_text().splitlines()[:total]
        if len(lines) != total:
            raise ValueError(f"{self.root / 'episodes.jsonl'}: {len(lines)} episodes, info.json says {total}")
        self.episodes = [json.loads(line) for line in lines]
        self.action_vocabulary = tuple(self.info["action_vocabulary"])
        self.answer_vocabulary = tuple(self.info["answer_vocabulary"])
        self.fps = self.info["fps"]
        # Where each episode's rows are: (shard file, first row).
        self._where = []
        for shard in self.info["shards"]:
            row = 0
            for e in range(shard["first_episode"], shard["first_episode"] + shard["episodes"]):
                self._where.append((shard["file"], row))
                row += self.episodes[e]["length"]
            if row != shard["frames"]:
                raise ValueError(f"{self.root / shard['file']}: {shard['frames']} rows, its episodes add up to {row}")
        if len(self._where) != total:
            raise ValueError(f"{info_path}: the shards hold {len(self._where)} episodes, total_episodes is {total}")

    @property
    def frame_shape(self) -> tuple:
        """(H, W, 3)."""
        return tuple(self.info["features"]["frames"]["shape"])

    def __len__(self) -> int:
        return len(self.episodes)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, i: int) -> Episode:
        if not -len(self) <= i < len(self):
            raise IndexError(f"episode {i} is out of range for {len(self)} episodes")
        i %= len(self)
        meta = self.episodes[i]
        file, start = self._where[i]
        stop = start + meta["length"]
        with self._safe_open(str(self.root / file), framework="np") as f:
            t = {name: f.get_slice(name)[start:stop] for name in _TENSORS + ("episode_index", "frame_index")}
        if not (np.all(t["episode_index"] == meta["index"]) and np.array_equal(t["frame_index"], np.arange(stop - start))):
            raise ValueError(f"{self.root / file}: episode {i}'s rows are not where episodes.jsonl puts them")
        return Episode(
            index=meta["index"],
            scenario=meta["scenario"],
            seed=meta["seed"],
            mission=meta["mission"],
            answer=meta["answer"],
            given_answer=meta["given_answer"],
            success=meta["success"],
            episode_return=meta["return"],
            frames=t["frames"],
            actions=t["actions"],
            rewards=t["rewards"],
            terminated=t["terminated"].astype(np.bool_),
            truncated=t["truncated"].astype(np.bool_),
        )
