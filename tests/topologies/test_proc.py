"""CPU accounting of child processes (how the demo and benchmarks report the broker's share)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from topologies.proc import cores_used, cpu_seconds

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_cpu_seconds_counts_a_busy_child_and_not_an_idle_one() -> None:
    busy = subprocess.Popen([sys.executable, "-c",
                             "import time\nend = time.process_time() + 0.4\n"
                             "while time.process_time() < end: pass\ntime.sleep(30)"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while (cpu_seconds(busy.pid) or 0) < 0.4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cpu_seconds(busy.pid) >= 0.4
        assert cpu_seconds(idle.pid) < 0.3  # interpreter start-up only
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()
    assert cpu_seconds(busy.pid) is None  # reaped: nothing to read


def test_cores_used_is_cpu_per_wall_second_and_none_without_a_reading() -> None:
    assert cores_used(10.0, 13.0, 4.0) == 0.75
    assert cores_used(None, 13.0, 4.0) is None
    assert cores_used(10.0, None, 4.0) is None
