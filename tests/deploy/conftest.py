"""Fixtures for tests of deploy/: the integration fixtures (real broker, real worker) reused,
and a real Prometheus server scraping that worker on loopback."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


def _integration_fixtures():
    spec = importlib.util.spec_from_file_location(
        "_muleguard_integration_fixtures", HERE.parent / "integration" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


_integration = _integration_fixtures()
module_broker = _integration.module_broker  # a fresh embedded broker for each test module
worker = _integration.worker  # a real `muleguard worker` process on that broker
