"""Build the dead-letter record for a rejected message: its raw content, where from, and why.

The raw content is kept so an operator can see what the producer sent, but never with a
phone number, national ID, IMEI or device id in clear (docs/privacy.md): identifier fields
are replaced by their pseudonym, and any other long run of digits by ``#`` of the same length.
"""

from __future__ import annotations

import base64
import codecs
import json
import re
from typing import Any

from streams.contracts import DeadLetter, Rejection
from streams.privacy import normalise_imei, normalise_msisdn, normalise_national_id, pseudonymise

MAX_RAW_BYTES = 64 * 1024

# Fields of the input contracts that hold personal identifiers, and their pseudonym kind.
IDENTIFIER_FIELDS: dict[str, str] = {
    "src_msisdn": "ph", "msisdn_a": "ph", "msisdn_b": "ph", "msisdn": "ph",
    "national_id": "nid", "imei": "imei", "src_device_id": "dev", "device_id": "dev",
}
# Fields kept verbatim: what an operator needs to find the message's subject and fix it.
# Enum fields (banks, channel, kind) are not among them: a valid code has no digits, so
# masking shows it unchanged, and an invalid one may be anything, a phone number too.
VERBATIM_FIELDS: frozenset[str] = frozenset({
    "transfer_id", "event_id", "report_id", "ts", "opened_ts", "src_account", "dst_account", "account",
    "victim_account", "amount", "transfer_ids", "duration_s",
})
# 9+ digits (any script), possibly split by up to 3 characters that are neither letters nor
# digits ("081-234-5678", "081 – 234 – 5678", "1/1007/00123/45/6", "081_234_5678"): phones
# (9-11), national IDs (13), IMEIs (15). Shorter numbers (amounts, durations, years) stay readable.
_DIGIT_RUN = re.compile(r"\d(?:[\W_]{0,3}\d){8,}")
# The same in bytes no decoding reads (UTF-16 cut at an odd byte): ASCII digits apart by up to
# 15 other bytes, enough for 3 separator characters in UTF-32.
_DIGIT_RUN_BYTES = re.compile(rb"[0-9](?:[^0-9A-Za-z]{0,15}[0-9]){8,}")


def mask_digits(text: str) -> str:
    """Every digit of every long digit run replaced by ``#``.

    Examples:
        >>> mask_digits("call 081-234-5678 about 1500.00 THB"), mask_digits("tel 081–234–5678")
        ('call ###-###-#### about 1500.00 THB', 'tel ###–###–####')
    """
    return _DIGIT_RUN.sub(lambda m: re.sub(r"\d", "#", m.group()), text)


def _mask_bytes(raw: bytes) -> bytes:
    return _DIGIT_RUN_BYTES.sub(lambda m: re.sub(rb"[0-9]", b"#", m.group()), raw)


def _mask_raw(raw: bytes) -> bytes:
    """``raw`` with long digit runs masked, unparsed: read as text in the encoding the JSON
    decoders would read it in (UTF-16 puts a zero byte between ASCII digits; Thai digits are
    not ASCII), bytes that do not decode kept as they are, so the rest stays byte for byte.

    Examples:
        >>> _mask_raw('{"msisdn": "0812345678",'.encode("utf-16-le")).decode("utf-16-le")
        '{"msisdn": "##########",'
    """
    encoding = json.detect_encoding(raw)
    if encoding in ("utf-16", "utf-32"):  # with a byte-order mark: keep it and its byte order
        encoding += "-be" if raw.startswith((codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)) else "-le"
    errors = "surrogateescape" if encoding.startswith("utf-8") else "surrogatepass"
    try:
        return mask_digits(raw.decode(encoding, errors)).encode(encoding, errors)
    except UnicodeError:
        return _mask_bytes(raw)


def _pseudonym(kind: str, value: object) -> str:
    """The identifier's pseudonym if it is a valid one, else only its shape (digits as 9)."""
    if isinstance(value, str) and value.strip():
        if kind == "ph" and (normal := normalise_msisdn(value)) is not None:
            return pseudonymise("ph", normal)
        if kind == "nid" and (digits := normalise_national_id(value)) is not None:
            return pseudonymise("nid", digits)
        if kind in ("imei", "dev"):
            return pseudonymise(kind, normalise_imei(value) if kind == "imei" else value.strip())
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
        return _mask_raw(raw)
    if not isinstance(obj, dict):
        return _mask_raw(raw)
    try:
        clean = {
            mask_digits(str(k)): _pseudonym(IDENTIFIER_FIELDS[k], v) if k in IDENTIFIER_FIELDS
            else v if k in VERBATIM_FIELDS and not isinstance(v, dict | list) or k == "transfer_ids" and _flat(v)
            else _scrub(v)
            for k, v in obj.items()
        }
        text = json.dumps(clean, ensure_ascii=False, separators=(",", ":"))
    except RecursionError:  # parsed, but too deep to walk: mask it unparsed
        return _mask_raw(raw)
    return text.encode("utf-8", "backslashreplace")  # a lone surrogate ("\ud800" in JSON) as that escape


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
    clipped = raw[:MAX_RAW_BYTES]
    # Nesting refused as too deep would exhaust the recursion limit if parsed: mask it unparsed.
    clipped = _mask_raw(clipped) if rejection.reason == "too_deep" else redact(clipped)
    try:
        text, encoding = clipped.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(clipped).decode("ascii"), "base64"
    detail = mask_digits(rejection.detail).encode("utf-8", "backslashreplace").decode()  # lone surrogates
    detail = detail if len(raw) <= MAX_RAW_BYTES else f"{detail} (raw clipped)"
    return DeadLetter(
        source_topic=source_topic, partition=partition, offset=offset,
        reason=rejection.reason, detail=detail, raw=text, raw_encoding=encoding,  # type: ignore[arg-type]
        rejected_ts_ms=rejected_ts_ms,
    )


def minimal_dead_letter(
    raw: bytes, source_topic: str, partition: int | None, offset: int | None, reason: str, rejected_ts_ms: int,
) -> DeadLetter:
    """For when ``dead_letter`` itself failed: nothing parsed or decoded, only the raw bytes
    with ASCII digit runs masked, in base64, so the message still leaves its partition.

    Examples:
        >>> minimal_dead_letter(b"tel 081-234-5678", "t", 0, 1, "bad_amount", 0).raw
        'dGVsICMjIy0jIyMtIyMjIw=='
    """
    masked = base64.b64encode(_mask_bytes(raw[:MAX_RAW_BYTES])).decode("ascii")
    return DeadLetter(
        source_topic=source_topic, partition=partition, offset=offset, reason=reason,
        detail="the dead letter could not be built; raw is masked byte-wise", raw=masked, raw_encoding="base64",
        rejected_ts_ms=rejected_ts_ms,
    )
