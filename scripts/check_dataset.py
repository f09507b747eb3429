#!/usr/bin/env python3
"""Check a sandtable dataset from outside Rust, with Python's safetensors and numpy.

Usage: python3 scripts/check_dataset.py DATASET_DIR

Loads every shard listed in info.json, compares dtypes, shapes, row counts, SHA-256, the
episode/frame bookkeeping and the action range with info.json and episodes.jsonl, and exits
non-zero with a message naming the file on the first disagreement.
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file


def fail(path, message):
    print(f"error: {path}: {message}", file=sys.stderr)
    sys.exit(1)


def main(root: Path) -> None:
    info = json.loads((root / "info.json").read_text())
    if info["format"] != "sandtable-dataset" or info["format_version"] != 1:
        fail(root / "info.json", f"unsupported format {info['format']} v{info['format_version']}")
    episodes = [json.loads(line) for line in (root / "episodes.jsonl").read_text().splitlines()]
    episodes = episodes[: info["total_episodes"]]
    if len(episodes) != info["total_episodes"]:
        fail(root / "episodes.jsonl", f"{len(episodes)} episodes, info.json says {info['total_episodes']}")
    features = info["features"]
    vocab = len(info["action_vocabulary"])
    frames_seen = 0
    for shard in info["shards"]:
        path = root / shard["file"]
        raw = path.read_bytes()
        if len(raw) != shard["bytes"]:
            fail(path, f"{len(raw)} bytes, info.json says {shard['bytes']}")
        if hashlib.sha256(raw).hexdigest() != shard["sha256"]:
            fail(path, "SHA-256 differs from info.json")
        tensors = load_file(str(path))
        rows = shard["frames"]
        for name, feature in features.items():
            t = tensors.get(name)
            if t is None:
                fail(path, f"no tensor `{name}`")
            if str(t.dtype) != feature["dtype"]:
                fail(path, f"`{name}` is {t.dtype}, info.json says {feature['dtype']}")
            if list(t.shape) != [rows] + feature["shape"]:
                fail(path, f"`{name}` has shape {list(t.shape)}, expected {[rows] + feature['shape']}")
        ep_index, fr_index, actions = tensors["episode_index"], tensors["frame_index"], tensors["actions"]
        first = shard["first_episode"]
        row = 0
        for e in range(first, first + shard["episodes"]):
            length = episodes[e]["length"]
            if not np.all(ep_index[row : row + length] == e):
                fail(path, f"episode {e}'s rows are not where episodes.jsonl puts them")
            if not np.array_equal(fr_index[row : row + length], np.arange(length)):
                fail(path, f"episode {e}'s frame_index is not 0..{length}")
            acts = actions[row : row + length]
            if acts[-1] != -1 or np.any(acts[:-1] < 0) or np.any(acts[:-1] >= vocab):
                fail(path, f"episode {e} has actions outside 0..{vocab} (or no -1 on its last frame)")
            row += length
        if row != rows:
            fail(path, f"{rows} rows, but its episodes add up to {row}")
        for flag in ("terminated", "truncated"):
            if not np.isin(tensors[flag], (0, 1)).all():
                fail(path, f"`{flag}` holds values other than 0 and 1")
        frames_seen += rows
    if frames_seen != info["total_frames"]:
        fail(root / "info.json", f"total_frames is {info['total_frames']}, the shards hold {frames_seen}")
    h, w, _ = features["frames"]["shape"]
    print(
        f"ok: {info['total_episodes']} episodes, {frames_seen} frames of {h}x{w} in {len(info['shards'])} shards; "
        f"numpy {np.__version__}"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(Path(sys.argv[1]))
