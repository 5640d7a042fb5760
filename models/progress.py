"""Progress on long steps: a counter line on stderr, only on a terminal or when asked."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def counter(desc: str, *, unit: str = "items", total: int | None = None,
            enabled: bool | None = None) -> Iterator[Callable[[int], None]]:
    """Yields ``tick(done)``; redraws at most 5 times a second. ``enabled=None``: stderr is a TTY."""
    stream = sys.stderr
    show = stream.isatty() if enabled is None else enabled
    started = time.monotonic()
    last = [0.0, 0]

    def draw(done: int, final: bool = False) -> None:
        elapsed = time.monotonic() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        if total:
            filled = int(30 * min(done / total, 1.0))
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,}"
        else:
            bar = f"{done:,}"
        stream.write(f"\r{desc}: {bar} {unit} ({rate:,.0f}/s, {elapsed:.0f}s)" + ("\n" if final else ""))
        stream.flush()

    def tick(done: int) -> None:
        last[1] = done
        now = time.monotonic()
        if show and now - last[0] >= 0.2:
            last[0] = now
            draw(done)

    yield tick
    if show:
        draw(last[1], final=True)
