"""Build the dead-letter record for a rejected message: its raw content, where from, and why.

The raw content is kept so an operator can see what the producer sent, but never with a
phone number, national ID, IMEI or device id in clear (docs/privacy.md): identifier fields
are replaced by their pseudonym, and any other long run of digits by ``#`` of the same length.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from streams.contracts import DeadLetter, Rejection
from streams.privacy import normalise_msisdn, pseudonymise

MAX_RAW_BYTES = 64 * 1024

# Fields of the input contracts that hold personal identifiers, and their pseudonym kind.
IDENTIFIER_FIELDS: dict[str, str] = {
    "src_msisdn": "ph", "msisdn_a": "ph", "msisdn_b": "ph", "msisdn": "ph",
    "national_id": "nid", "imei": "imei", "src_device_id": "dev", "device_id": "dev",
}
# Fields kept verbatim: what an operator needs to find the message's subject and fix it.
VERBATIM_FIELDS: frozenset[str] = frozenset({
    "transfer_id", "event_id", "report_id", "ts", "opened_ts", "src_bank", "src_account", "dst_bank",
    "dst_account", "bank", "account", "victim_bank", "victim_account", "amount", "channel", "kind",
    "transfer_ids", "duration_s",
})
# 9+ digits, possibly split by spaces, dashes, dots or parentheses: phones (9-11), national
# IDs (13), IMEIs (15). Shorter numbers (amounts, durations, years) stay readable.
_DIGIT_RUN = re.compile(r"\d(?:[\s\-.()]*\d){8,}")
_DIGIT_RUN_BYTES = re.compile(rb"\d(?:[\s\-.()]*\d){8,}")


def mask_digits(text: str) -> str:
    """Every digit of every long digit run replaced by ``#``.

    Examples:
        >>> mask_digits("call 081-234-5678 about 1500.00 THB")
        'call ###-###-#### about 1500.00 THB'
    """
    return _DIGIT_RUN.sub(lambda m: re.sub(r"\d", "#", m.group()), text)


def _mask_bytes(raw: bytes) -> bytes:
    return _DIGIT_RUN_BYTES.sub(lambda m: re.sub(rb"\d", b"#", m.group()), raw)


def _pseudonym(kind: str, value: object) -> str:
    """The identifier's pseudonym if it is a valid one, else only its shape (digits as 9)."""
    if isinstance(value, str) and value.strip():
        if kind == "ph" and (normal := normalise_msisdn(value)) is not None:
            return pseudonymise("ph", normal)
        digits = value.replace("-", "").replace(" ", "")
        if kind == "nid" and digits.isdigit() and len(digits) == 13:
            return pseudonymise("nid", digits)
        if kind in ("imei", "dev"):
            return pseudonymise(kind, value.strip())
    shape = re.sub(r"[^\W\d_]", "a", re.sub(r"\d", "9", str(value)))[:24]
    return f"redacted:{type(value).__name__}:{shape}"


def _scrub(value: Any) -> Any:
    """Any JSON value with long digit runs masked, whatever its depth or type."""
    if isinstance(value, str):
        return mask_digits(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return mask_digits(repr(value)) if len(repr(value)) >= 9 else value
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {mask_digits(str(k)): _scrub(v) for k, v in value.items()}
    return mask_digits(str(value))


def redact(raw: bytes) -> bytes:
    """The message with no identifier in clear (see the module docstring).

    Examples:
        >>> redact(b'{"msisdn_a": "bad", "account": "123-4-56789"}')
        b'{"msisdn_a":"redacted:str:aaa","account":"123-4-56789"}'
        >>> redact(b'{"national_id": 1100700123456')
        b'{"national_id": #############'
    """
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return _mask_bytes(raw)
    if not isinstance(obj, dict):
        return _mask_bytes(raw)
    clean = {
        mask_digits(str(k)): _pseudonym(IDENTIFIER_FIELDS[k], v) if k in IDENTIFIER_FIELDS
        else v if k in VERBATIM_FIELDS and not isinstance(v, dict | list) or k == "transfer_ids" and _flat(v)
        else _scrub(v)
        for k, v in obj.items()
    }
    return json.dumps(clean, ensure_ascii=False, separators=(",", ":")).encode()


def _flat(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value)


def dead_letter(
    raw: bytes, source_topic: str, partition: int | None, offset: int | None,
    rejection: Rejection, rejected_ts_ms: int,
) -> DeadLetter:
    """The redacted input (UTF-8 if it is text, else base64), where it came from and why.

    Examples:
        >>> dl = dead_letter(b"{oops", "bank.transfers.v1", 2, 17, Rejection("malformed_json", "x"), 0)
        >>> (dl.raw, dl.raw_encoding, dl.reason, dl.offset)
        ('{oops', 'utf-8', 'malformed_json', 17)
        >>> dead_letter(b"\\xff", "t", None, None, Rejection("r", ""), 0).raw_encoding
        'base64'
    """
    clipped = redact(raw[:MAX_RAW_BYTES])
    try:
        text, encoding = clipped.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(clipped).decode("ascii"), "base64"
    detail = mask_digits(rejection.detail)
    detail = detail if len(raw) <= MAX_RAW_BYTES else f"{detail} (raw clipped)"
    return DeadLetter(
        source_topic=source_topic, partition=partition, offset=offset,
        reason=rejection.reason, detail=detail, raw=text, raw_encoding=encoding,  # type: ignore[arg-type]
        rejected_ts_ms=rejected_ts_ms,
    )
