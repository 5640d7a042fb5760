"""Consumer lag and recovery time, as an SRE needs them, from the worker's own bookkeeping.

Lag per partition is ``end - next offset to process``. The end is the larger of the
broker's high watermark (from fetch responses) and one past the newest offset this worker
has actually fetched: a broker's watermark alone is not trusted, because some brokers
(Tansu among them) report the base offset of the newest record batch, under-counting the
end whenever that batch holds several records. The processed side is the offset
committed after its batch's state and sends were acknowledged (``runtime.batches``), so
lag also covers events fetched but not yet safely done.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any


def partition_lag(highwater: int | None, fetched: int | None, committed: int | None) -> int:
    """Messages in the partition not yet processed and committed.

    ``fetched`` is the offset of the newest record fetched; ``committed`` and ``highwater``
    are "next offset" positions, as Kafka commits them and as the broker reports its end.

    Examples:
        >>> partition_lag(highwater=100, fetched=None, committed=90)
        10
        >>> partition_lag(highwater=90, fetched=119, committed=90)  # watermark behind reality
        30
        >>> partition_lag(highwater=None, fetched=None, committed=None)
        0
        >>> partition_lag(highwater=50, fetched=None, committed=None)  # nothing processed yet
        50
    """
    end = max(highwater or 0, fetched + 1 if fetched is not None else 0)
    return max(end - (committed or 0), 0)


def consumer_lag(app: Any) -> dict[tuple[str, int], int]:
    """Lag of every partition assigned to this worker's stream consumer, by (topic, partition)."""
    consumer = getattr(app, "consumer", None)
    if consumer is None:
        return {}
    try:
        assigned = consumer.assignment()
    except Exception:  # noqa: BLE001 - not started or mid-rebalance: report nothing this round
        return {}
    highwaters: Mapping[Any, int] = app.monitor.tp_end_offsets or {}
    fetched: Mapping[Any, int | None] = consumer._read_offset  # noqa: SLF001 - Faust keeps no public view
    committed: Mapping[Any, int | None] = consumer._committed_offset  # noqa: SLF001
    changelogs = app.tables.changelog_topics  # read by recovery and standbys, never committed
    return {
        (tp.topic, tp.partition): partition_lag(highwaters.get(tp), fetched.get(tp), committed.get(tp))
        for tp in assigned if tp.topic not in changelogs
    }


class RecoveryClock:
    """Seconds from a rebalance starting to this worker processing again (tables recovered)."""

    def __init__(self) -> None:
        self._started: float | None = None

    def started(self) -> None:
        if self._started is None:
            self._started = time.monotonic()

    def completed(self) -> float | None:
        """The duration of the rebalance that just completed, once per rebalance."""
        if self._started is None:
            return None
        took, self._started = time.monotonic() - self._started, None
        return took
