"""Exact event-time windows over one direction of an account's money flow.

Each flow keeps its recent events (time, amount, counterparty) in time order, so every
window figure is recomputed from the events themselves and never drifts. The three
columns live in one ``array('q')`` (times, then amounts, then counterparties): one
allocation and one ``frombytes`` to decode, one ``tobytes`` to encode.

Size is bounded twice: events that no allowed query can see expire (older than the
watermark minus ``RETENTION_MS``), and at most ``MAX_EVENTS`` are kept (a merchant's
7-day fan-in then saturates at that count, which is documented).

Lateness policy (money features; docs/features.md "Late events"): the *watermark* is the
latest event time the owner has applied. An event at most ``ALLOWED_LATENESS_MS`` behind
it is inserted in its place and counted in every window that covers it; every query at or
after ``watermark - ALLOWED_LATENESS_MS`` is then exactly what a brute-force recount of all
accepted events gives. An event further behind is refused before it reaches a flow
(``too_late``, checked by ``engine.rejection``): the caller dead-letters it (reason
``late_event``) instead of letting one delivery order change figures that decisions were
already taken on.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections import Counter

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WINDOWS_MS: tuple[int, ...] = (10 * MINUTE_MS, HOUR_MS, DAY_MS, 7 * DAY_MS)
WINDOW_NAMES: tuple[str, ...] = ("10m", "1h", "24h", "7d")
HORIZON_MS = WINDOWS_MS[-1]
ALLOWED_LATENESS_MS = 6 * HOUR_MS  # docs/features.md "Late events": why 6 hours
RETENTION_MS = HORIZON_MS + ALLOWED_LATENESS_MS
MAX_EVENTS = 256


def too_late(ts_ms: int, watermark_ms: int) -> bool:
    """Whether an event at ``ts_ms`` is beyond the allowed lateness behind ``watermark_ms``.

    Examples:
        >>> too_late(0, ALLOWED_LATENESS_MS), too_late(0, ALLOWED_LATENESS_MS + 1)
        (False, True)
    """
    return ts_ms < watermark_ms - ALLOWED_LATENESS_MS


def _uncount(counts: dict[int, int], counterparties: array[int]) -> None:
    """Take events out of a window's per-counterparty counts."""
    for cp in counterparties:
        left = counts[cp] - 1
        if left:
            counts[cp] = left
        else:
            del counts[cp]


class Flow:
    """Events of one direction (in or out), sorted by time, within ``RETENTION_MS``.

    Examples:
        >>> f = Flow()
        >>> f.add(1_000, 500, 7); f.add(2_000, 300, 8); f.add(3_000, 200, 7)
        >>> f.window(3_000, 10 * MINUTE_MS)
        (3, 1000, 500, 2)
        >>> f.window(3_000, 1_500)
        (2, 500, 300, 2)
        >>> f.count_distinct(3_000, 1_500), f.count_distinct(1_500, 10 * MINUTE_MS)
        ((2, 2), (1, 1))
        >>> f.nested(3_000, (1_500, 10 * MINUTE_MS))
        [(2, 500, 300, 2), (3, 1000, 500, 2)]
    """

    __slots__ = ("data", "n", "_distinct")

    def __init__(self) -> None:
        self.data: array[int] = array("q")  # ts[0:n] + amount[n:2n] + counterparty[2n:3n]
        self.n = 0
        # The last ``count_distinct`` window as (lo, hi, events per counterparty in [lo, hi)):
        # derived, never encoded; kept so the next window is counted from its difference.
        self._distinct: tuple[int, int, dict[int, int]] | None = None

    def __len__(self) -> int:
        return self.n

    @property
    def ts(self) -> array[int]:
        return self.data[:self.n]

    @property
    def amount(self) -> array[int]:
        return self.data[self.n:2 * self.n]

    @property
    def cp(self) -> array[int]:
        return self.data[2 * self.n:]

    def add(self, ts_ms: int, amount_satang: int, counterparty: int) -> None:
        """Insert in time order; a late event lands in its place, not at the end."""
        data, n = self.data, self.n
        i = n if not n or ts_ms >= data[n - 1] else bisect_right(data, ts_ms, 0, n)
        if i < n:
            self._distinct = None  # a late event shifts the positions it counted
        data.insert(2 * n + i, counterparty)
        data.insert(n + i, amount_satang)
        data.insert(i, ts_ms)
        self.n = n = n + 1
        if n > MAX_EVENTS:
            self._drop_first(n - MAX_EVENTS)

    def expire_before(self, ts_ms: int) -> None:
        """Forget events strictly older than ``ts_ms``."""
        k = bisect_right(self.data, ts_ms - 1, 0, self.n)
        if k:
            self._drop_first(k)

    def _drop_first(self, k: int) -> None:
        data, n = self.data, self.n
        distinct = self._distinct
        if distinct is not None:  # keep the counted window in step (see ``count_distinct``)
            lo, hi, counts = distinct
            if k >= hi:
                self._distinct = None
            else:
                if k > lo:
                    _uncount(counts, data[2 * n + lo:2 * n + k])
                    lo = k
                self._distinct = (lo - k, hi - k, counts)
        del data[2 * n:2 * n + k]
        del data[n:n + k]
        del data[:k]
        self.n = n - k

    def window(self, at_ms: int, span_ms: int) -> tuple[int, int, int, int]:
        """(count, sum, max, distinct counterparties) of events in ``(at_ms - span_ms, at_ms]``."""
        return self.nested(at_ms, (span_ms,))[0]

    def count_distinct(self, at_ms: int, span_ms: int) -> tuple[int, int]:
        """(count, distinct counterparties) of ``window``, without the sums (a phone's call velocity).

        Asked again for a window that slid forward (the next call of a busy phone), it
        counts only the events that entered and left: a scam phone's day holds hundreds.
        """
        data, n = self.data, self.n
        if not n:
            return 0, 0
        hi = n if data[n - 1] <= at_ms else bisect_right(data, at_ms, 0, n)
        lo = bisect_right(data, at_ms - span_ms, 0, hi)
        cps = 2 * n
        last = self._distinct
        if last is None or lo < last[0] or hi < last[1] or lo > last[1]:
            counts = Counter(data[cps + lo:cps + hi])
        else:
            last_lo, last_hi, counts = last
            _uncount(counts, data[cps + last_lo:cps + lo])
            for cp in data[cps + last_hi:cps + hi]:
                counts[cp] = counts.get(cp, 0) + 1
        self._distinct = (lo, hi, counts)
        return hi - lo, len(counts)

    def nested(self, at_ms: int, spans_ms: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
        """``window`` for several spans, shortest first, in one pass over the longest.

        Windows ending at the same time are nested, so each ring between two spans is
        summed once and the shorter windows' figures are carried outwards.
        """
        data, n = self.data, self.n
        if not n:
            return [(0, 0, 0, 0)] * len(spans_ms)
        # A scored event is usually the newest: no search for the windows' common end.
        inner = n if data[n - 1] <= at_ms else bisect_right(data, at_ms, 0, n)
        out: list[tuple[int, int, int, int]] = []
        figures = (0, 0, 0, 0)
        count = total = biggest = 0
        seen: set[int] = set()
        oldest, cps = data[0], 2 * n
        for span in spans_ms:
            if not inner:  # every event is counted: the longer windows hold the same
                out.append(figures)
                continue
            start = at_ms - span
            lo = 0 if oldest > start else bisect_right(data, start, 0, inner)
            if lo < inner:
                if inner - lo == 1:  # the usual ring of a quiet account: no slices
                    amount = data[n + lo]
                    total += amount
                    if amount > biggest:
                        biggest = amount
                    seen.add(data[cps + lo])
                    count += 1
                else:
                    ring = data[n + lo:n + inner]
                    total += sum(ring)
                    top = max(ring)
                    if top > biggest:
                        biggest = top
                    seen.update(data[cps + lo:cps + inner])
                    count += inner - lo
                inner = lo
                figures = (count, total, biggest, len(seen))
            out.append(figures)
        return out

    def sum_between(self, start_ms: int, end_ms: int) -> int:
        """Sum of amounts with ``start_ms < ts <= end_ms``."""
        data, n = self.data, self.n
        if not n:
            return 0
        return sum(data[n + bisect_right(data, start_ms, 0, n):n + bisect_right(data, end_ms, 0, n)])

    def count_below(self, start_ms: int, end_ms: int, limit: int) -> int:
        """Events with ``start_ms < ts <= end_ms`` and an amount under ``limit``."""
        data, n = self.data, self.n
        if not n:
            return 0
        lo, hi = bisect_right(data, start_ms, 0, n), bisect_right(data, end_ms, 0, n)
        below = 0
        for amount in data[n + lo:n + hi]:  # a plain loop: a generator costs more to start than a few events
            if amount < limit:
                below += 1
        return below

    def last_ts_before(self, at_ms: int) -> int | None:
        """Time of the latest event strictly before ``at_ms``."""
        i = bisect_right(self.data, at_ms - 1, 0, self.n)
        return self.data[i - 1] if i else None

    def to_bytes(self) -> bytes:
        return self.n.to_bytes(2, "little") + self.data.tobytes()

    @classmethod
    def from_bytes(cls, buf: memoryview, pos: int) -> tuple[Flow, int]:
        return cls.from_columns(buf, pos + 2, buf[pos] | buf[pos + 1] << 8)

    @classmethod
    def from_columns(cls, buf: memoryview, pos: int, n: int) -> tuple[Flow, int]:
        """A flow of ``n`` events from ``data.tobytes()`` at ``pos`` (the size kept elsewhere)."""
        end = pos + 24 * n
        flow = cls.__new__(cls)
        flow.data = data = array("q")
        data.frombytes(buf[pos:end])
        flow.n = n
        flow._distinct = None
        return flow, end
