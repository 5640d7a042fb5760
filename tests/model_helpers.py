"""Helpers for tests that need several model versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def model_variant(model_dir: Path, out: Path, version: str, **changes: object) -> Path:
    """A copy of a model directory with another version name (and other manifest changes)."""
    shutil.copytree(model_dir, out)
    meta = json.loads((out / "meta.json").read_text())
    meta.update(version=version, **changes)
    (out / "meta.json").write_text(json.dumps(meta))
    return out
