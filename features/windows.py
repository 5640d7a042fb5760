"""Exact event-time windows over one direction of an account's money flow.

Each flow keeps its recent events (time, amount, counterparty) in time order, built from
paired ``add`` and ``expire_before`` operations like River's rolling statistics, so every
window figure is recomputed from the events themselves and never drifts. Size is bounded
twice: events older than the longest window expire, and at most ``MAX_EVENTS`` are kept
(a merchant's 7-day fan-in then saturates at that count, which is documented).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WINDOWS_MS: tuple[int, ...] = (10 * MINUTE_MS, HOUR_MS, DAY_MS, 7 * DAY_MS)
WINDOW_NAMES: tuple[str, ...] = ("10m", "1h", "24h", "7d")
HORIZON_MS = WINDOWS_MS[-1]
MAX_EVENTS = 256


class Flow:
    """Events of one direction (in or out), sorted by time, within ``HORIZON_MS``.

    Examples:
        >>> f = Flow()
        >>> f.add(1_000, 500, 7); f.add(2_000, 300, 8); f.add(3_000, 200, 7)
        >>> f.window(3_000, 10 * MINUTE_MS)
        (3, 1000, 500, 2)
        >>> f.window(3_000, 1_500)
        (2, 500, 300, 2)
    """

    __slots__ = ("ts", "amount", "cp")

    def __init__(self) -> None:
        self.ts: array[int] = array("q")
        self.amount: array[int] = array("q")
        self.cp: array[int] = array("I")

    def __len__(self) -> int:
        return len(self.ts)

    def add(self, ts_ms: int, amount_satang: int, counterparty: int) -> None:
        """Insert in time order; a late event lands in its place, not at the end."""
        ts = self.ts
        if not ts or ts_ms >= ts[-1]:
            ts.append(ts_ms)
            self.amount.append(amount_satang)
            self.cp.append(counterparty)
        else:
            i = bisect_right(ts, ts_ms)
            ts.insert(i, ts_ms)
            self.amount.insert(i, amount_satang)
            self.cp.insert(i, counterparty)
        if len(ts) > MAX_EVENTS:
            self._drop_first(len(ts) - MAX_EVENTS)

    def expire_before(self, ts_ms: int) -> None:
        """Forget events strictly older than ``ts_ms``."""
        n = bisect_right(self.ts, ts_ms - 1)
        if n:
            self._drop_first(n)

    def _drop_first(self, n: int) -> None:
        del self.ts[:n]
        del self.amount[:n]
        del self.cp[:n]

    def window(self, at_ms: int, span_ms: int) -> tuple[int, int, int, int]:
        """(count, sum, max, distinct counterparties) of events in ``(at_ms - span_ms, at_ms]``."""
        ts = self.ts
        hi = bisect_right(ts, at_ms)
        lo = bisect_right(ts, at_ms - span_ms, 0, hi)
        if lo == hi:
            return (0, 0, 0, 0)
        amounts = self.amount[lo:hi]
        return (hi - lo, sum(amounts), max(amounts), len(set(self.cp[lo:hi])))

    def sum_between(self, start_ms: int, end_ms: int) -> int:
        """Sum of amounts with ``start_ms < ts <= end_ms``."""
        ts = self.ts
        return sum(self.amount[bisect_right(ts, start_ms):bisect_right(ts, end_ms)])

    def last_ts_before(self, at_ms: int) -> int | None:
        """Time of the latest event strictly before ``at_ms``."""
        i = bisect_right(self.ts, at_ms - 1)
        return self.ts[i - 1] if i else None

    def to_bytes(self) -> bytes:
        return len(self.ts).to_bytes(2, "little") + self.ts.tobytes() + self.amount.tobytes() \
            + self.cp.tobytes()

    @classmethod
    def from_bytes(cls, buf: memoryview, pos: int) -> tuple[Flow, int]:
        n = int.from_bytes(buf[pos:pos + 2], "little")
        pos += 2
        flow = cls()
        for arr, width in ((flow.ts, 8), (flow.amount, 8), (flow.cp, 4)):
            arr.frombytes(buf[pos:pos + n * width])
            pos += n * width
        return flow, pos
