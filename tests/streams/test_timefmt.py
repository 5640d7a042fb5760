"""Times at the edges: exact to the millisecond."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from streams.timefmt import BANGKOK, MAX_TS_MS, MIN_TS_MS, format_ts, parse_ts

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def test_every_millisecond_parses_exactly() -> None:
    """``int(dt.timestamp() * 1000)`` came out 1 ms short for 3% of the times from 2038 on."""
    rng = random.Random(7)
    samples = [2_155_998_598_279] + [rng.randrange(MIN_TS_MS, MAX_TS_MS) for _ in range(20_000)]
    for ts_ms in samples:
        moment = EPOCH + timedelta(milliseconds=ts_ms)
        for spelling in (moment.isoformat(timespec="milliseconds"),
                         moment.astimezone(BANGKOK).isoformat(timespec="milliseconds"), format_ts(ts_ms)):
            assert parse_ts(spelling) == ts_ms, spelling
