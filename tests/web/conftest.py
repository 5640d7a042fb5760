"""tests/web: the victim page and the trail picture, rendered and read back."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
