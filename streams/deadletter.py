"""Build the dead-letter record for a rejected message: raw bytes, where from, and why."""

from __future__ import annotations

import base64

from streams.contracts import DeadLetter, Rejection

MAX_RAW_BYTES = 64 * 1024


def dead_letter(
    raw: bytes, source_topic: str, partition: int | None, offset: int | None,
    rejection: Rejection, rejected_ts_ms: int,
) -> DeadLetter:
    """Keep the raw input verbatim (UTF-8 if it is text, else base64) so it can be replayed.

    Examples:
        >>> dl = dead_letter(b"{oops", "bank.transfers.v1", 2, 17, Rejection("malformed_json", "x"), 0)
        >>> (dl.raw, dl.raw_encoding, dl.reason, dl.offset)
        ('{oops', 'utf-8', 'malformed_json', 17)
        >>> dead_letter(b"\\xff", "t", None, None, Rejection("r", ""), 0).raw_encoding
        'base64'
    """
    clipped = raw[:MAX_RAW_BYTES]
    try:
        text, encoding = clipped.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(clipped).decode("ascii"), "base64"
    detail = rejection.detail if len(raw) <= MAX_RAW_BYTES else f"{rejection.detail} (raw clipped)"
    return DeadLetter(
        source_topic=source_topic, partition=partition, offset=offset,
        reason=rejection.reason, detail=detail, raw=text, raw_encoding=encoding,  # type: ignore[arg-type]
        rejected_ts_ms=rejected_ts_ms,
    )
