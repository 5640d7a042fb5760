"""Timestamps at the edges: RFC 3339 with an offset, or epoch milliseconds, to UTC epoch ms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

BANGKOK = timezone(timedelta(hours=7), "ICT")
MIN_TS_MS = 1_420_070_400_000  # 2015-01-01: PromptPay and the decree are later; older is a bug.
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01


def parse_ts(value: object) -> int | None:
    """Epoch ms from an int or an RFC 3339 string with offset; None if neither (naive is invalid).

    Examples:
        >>> parse_ts("2026-11-22T10:00:00+07:00")
        1795316400000
        >>> parse_ts(1795316400000)
        1795316400000
        >>> parse_ts("2026-11-22T10:00:00") is None
        True
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return int(dt.timestamp() * 1000)


def format_ts(ts_ms: int) -> str:
    """RFC 3339 in Bangkok time, millisecond precision, for what banks read.

    Examples:
        >>> format_ts(1795316400000)
        '2026-11-22T10:00:00.000+07:00'
    """
    return datetime.fromtimestamp(ts_ms / 1000, BANGKOK).isoformat(timespec="milliseconds")


def utc_iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="milliseconds")
