"""Child processes that never outlive their parent (a killed demo or test leaves no broker)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def die_with_parent() -> None:
    """``preexec_fn`` for Popen: the kernel sends SIGTERM to the child when its parent dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so ``finally`` blocks (stopping children) run."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a running process has used so far (Linux ``/proc``), or None
    where there is no ``/proc`` or the process is gone. The benchmarks and the demo report
    the embedded broker's share with it: on a 2-core machine it can be the bottleneck."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cores_used(cpu_before: float | None, cpu_after: float | None, seconds: float) -> float | None:
    """CPU seconds used between two ``cpu_seconds`` readings per wall-clock second (1.0 is a
    whole core), rounded for a report; None if either reading is missing."""
    if cpu_before is None or cpu_after is None:
        return None
    return round((cpu_after - cpu_before) / seconds, 2)
