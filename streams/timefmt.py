"""Timestamps at the edges: RFC 3339 with an offset, or epoch milliseconds, to UTC epoch ms."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

BANGKOK = timezone(timedelta(hours=7), "ICT")
MIN_TS_MS = 1_420_070_400_000  # 2015-01-01: PromptPay and the decree are later; older is a bug.
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
# RFC 3339's date-time (what the schemas' "format": "date-time" means). ``fromisoformat`` alone
# also takes "2026-11-22 10:00+07:00", "20261122T100000+0700", week dates and hour-only times.
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
                      r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})")


def parse_ts(value: object) -> int | None:
    """Epoch ms from an int or an RFC 3339 string with offset; None if neither (naive is invalid).

    Examples:
        >>> parse_ts("2026-11-22T10:00:00+07:00")
        1795316400000
        >>> parse_ts(1795316400000)
        1795316400000
        >>> parse_ts("2026-11-22T10:00:00") is None, parse_ts("2026-11-22 10:00:00+07:00") is None
        (True, True)
        >>> parse_ts("2038-04-27T16:29:58.279Z")  # exact: a float product was 1 ms short here
        2155998598279
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or len(value) > 40 or not _RFC3339.fullmatch(value):
        return None
    try:
        dt = datetime.fromisoformat(value.upper())  # it refuses RFC 3339's lowercase "t" and "z"
    except ValueError:
        return None
    return (dt - _EPOCH) // _ONE_MS  # exact integers: float seconds * 1000 came out 1 ms short


def format_ts(ts_ms: int) -> str:
    """RFC 3339 in Bangkok time, millisecond precision, for what banks read.

    Examples:
        >>> format_ts(1795316400000)
        '2026-11-22T10:00:00.000+07:00'
    """
    return datetime.fromtimestamp(ts_ms / 1000, BANGKOK).isoformat(timespec="milliseconds")


def utc_iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="milliseconds")
