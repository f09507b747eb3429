"""Shared fixtures: the `sandtable` CLI binary the Python results are compared with."""

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def sandtable_bin() -> str:
    """The release CLI: $SANDTABLE_BIN, else $CARGO_TARGET_DIR/release/sandtable, else target/."""
    candidates = [os.environ.get("SANDTABLE_BIN")]
    target = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
    candidates.append(str(Path(target) / "release" / "sandtable"))
    candidates.append(shutil.which("sandtable"))
    for c in candidates:
        if c and Path(c).is_file():
            return c
    pytest.fail("the sandtable CLI is not built: run `cargo build --release` (or set SANDTABLE_BIN)")
