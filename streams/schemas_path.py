"""Where the published JSON Schemas live, and loading one by topic name."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SCHEMA_DIR = Path(__file__).parent / "schemas"


@cache
def schema_for(topic: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{topic}.json").read_text())
