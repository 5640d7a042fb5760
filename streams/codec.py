"""Bytes to records and back. ``decode_*`` never raises: bad input becomes a ``Rejection``.

Decoding is where the wire's loose forms (THB as number or string, time as RFC 3339 or
epoch ms, raw phone numbers) become the strict internal ones (satang, UTC ms, keyed
hashes), so the rest of the code never sees either a float amount or a raw identifier.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import orjson

from streams.contracts import (
    ACK_STATUSES,
    APPEAL_DECIDERS,
    APPEAL_OUTCOMES,
    AUDIT_KINDS,
    BANKS,
    CHANNELS,
    REPORT_CHANNELS,
    TELECOM_KINDS,
    AuditRecord,
    DeadLetter,
    FeatureLogRecord,
    FreezeRequest,
    HoldAck,
    HoldAppeal,
    RefundProposal,
    RefundShare,
    RegistryLink,
    Rejection,
    TelecomEvent,
    Transfer,
    VictimReport,
)
from streams.privacy import (
    PseudonymKeyError,
    normalise_imei,
    normalise_msisdn,
    normalise_national_id,
    pseudonymise,
)
from streams.timefmt import MAX_TS_MS, MIN_TS_MS, format_ts, parse_ts

# The input contract's limits (docs/reliability.md states them for the banks and operators).
MAX_MESSAGE_BYTES = 64 * 1024  # the largest valid message is < 15 KiB (a report with 100 ids)
MAX_ID_CHARS = 128
MAX_AMOUNT_SATANG = 100_000_000_000  # 1 bn THB in one transfer is not a real retail transfer.
MAX_TRANSFER_IDS = 100
MAX_JSON_DEPTH = 8  # valid messages nest 2 deep; deeper input must not reach the recursive parser
FUTURE_TOLERANCE_MS = 10 * 60 * 1000  # clock skew between a bank and us, not more
# An event more than a year older than its ingest is a bad clock or an old file re-sent: the
# longest feature window is 7 days and a year covers any bank's backfill after an outage.
MAX_EVENT_AGE_MS = 366 * 24 * 3600 * 1000
# JSON coders built once: json.loads/dumps with options build a new coder on every call.
_JSON_DECIMAL = json.JSONDecoder(parse_float=Decimal).decode
_JSON_OUT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_JSON_OUT_ASCII = json.JSONEncoder(separators=(",", ":")).encode

# Every reason a decoder can give (the ``reason`` label of muleguard_events_rejected_total).
# ``invalid`` is the never-raise safety net: seeing it means a decoder bug, not bad input.
REJECTION_REASONS: frozenset[str] = frozenset({
    "oversized", "malformed_json", "too_deep", "not_an_object", "missing_field", "wrong_type", "too_long",
    "bad_amount", "non_positive_amount", "absurd_amount", "unknown_bank", "unknown_channel", "unknown_kind",
    "bad_timestamp", "timestamp_out_of_range", "timestamp_in_future", "timestamp_too_old",
    "bad_msisdn", "bad_national_id", "self_transfer",
    # freeze.acks.v1 and hold.appeals.v1
    "unknown_status", "bad_request_id", "unknown_outcome", "unknown_decider", "not_police",
    "invalid",
})

T = TypeVar("T")
# The schema's amount string: ASCII digits, at most 2 decimals. Decimal() alone would also take
# Thai and full-width digits, "1_000", "1e3", "+5", " 5" and "5.", none of which the schema allows.
_AMOUNT_TEXT = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")


class _BadInputError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail


def parse_amount_satang(value: object) -> int:
    """THB (number or decimal string, <= 2 decimals) to positive integer satang.

    Examples:
        >>> parse_amount_satang("1234.5"), parse_amount_satang(Decimal("0.01")), parse_amount_satang(7)
        (123450, 1, 700)
    """
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise _BadInputError("bad_amount", f"amount must be a number or decimal string, got {type(value).__name__}")
    if isinstance(value, str) and not _AMOUNT_TEXT.fullmatch(value):
        if _AMOUNT_TEXT.fullmatch(value.removeprefix("-")):  # well formed but negative: say so
            raise _BadInputError("non_positive_amount", f"amount must be > 0, got {_shown(value)}")
        raise _BadInputError("bad_amount", f"amount {_shown(value)} is not digits with at most 2 decimals")
    try:
        thb = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise _BadInputError("bad_amount", f"amount {_shown(value)} is not a decimal") from None
    if not thb.is_finite():
        raise _BadInputError("bad_amount", "amount is not finite")
    try:  # "1e999999999" overflows the decimal context rather than being merely absurd
        satang = thb * 100
        fractional = satang != satang.to_integral_value()
    except ArithmeticError:
        raise _BadInputError("bad_amount", f"amount {_shown(value)} is out of decimal range") from None
    if fractional:
        raise _BadInputError("bad_amount", "amount has more than 2 decimals")
    if satang <= 0:
        raise _BadInputError("non_positive_amount", f"amount must be > 0, got {thb}")
    if satang > MAX_AMOUNT_SATANG:
        raise _BadInputError("absurd_amount", f"amount {thb} THB exceeds {MAX_AMOUNT_SATANG // 100} THB")
    return int(satang)


def _shown(value: object, limit: int = 40) -> str:
    """A value quoted for a rejection's detail. Not ``repr``: its escapes (a tab as ``\\t``)
    would split a phone number's digits so that the dead letter's masking misses them."""
    return f"'{str(value)[:limit]}'"


def format_amount(satang: int) -> str:
    """Integer satang as a THB decimal string.

    Examples:
        >>> format_amount(123450), format_amount(5)
        ('1234.50', '0.05')
    """
    return f"{satang // 100}.{satang % 100:02d}"


class _Fields:
    """Typed access to one decoded JSON object, raising ``_BadInputError`` with a precise reason."""

    def __init__(self, obj: dict[str, Any], now_ms: int | None) -> None:
        self.obj, self.now_ms = obj, now_ms

    def _get(self, name: str, required: bool) -> Any:
        value = self.obj.get(name)
        if value is None and required:
            raise _BadInputError("missing_field", f"{name} is required")
        return value

    def text(self, name: str, required: bool = True) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise _BadInputError("wrong_type", f"{name} must be a non-empty string")
        if len(value) > MAX_ID_CHARS:
            raise _BadInputError("too_long", f"{name} is longer than {MAX_ID_CHARS} characters")
        return value

    def choice(self, name: str, allowed: frozenset[str], reason: str) -> str:
        value = self.text(name)
        if value not in allowed:
            raise _BadInputError(reason, f"{name} {_shown(value, MAX_ID_CHARS)} is not one of {sorted(allowed)}")
        return value  # type: ignore[return-value]

    def bank(self, name: str) -> str:
        return self.choice(name, BANKS, "unknown_bank")

    def ts(self, name: str = "ts", event_time: bool = True) -> int:
        """Epoch ms within 2015-2100 and, against an ingest clock, not ahead of it by more than
        ``FUTURE_TOLERANCE_MS`` nor (for event times) behind it by more than ``MAX_EVENT_AGE_MS``."""
        raw = self._get(name, True)
        try:
            ts_ms = parse_ts(raw)
        except (ValueError, OverflowError):  # e.g. year 1 with a positive offset
            ts_ms = None
        if ts_ms is None:
            raise _BadInputError("bad_timestamp", f"{name} must be RFC 3339 with offset or epoch ms")
        if not MIN_TS_MS <= ts_ms <= MAX_TS_MS:
            raise _BadInputError("timestamp_out_of_range", f"{name} {_shown(raw)} is outside 2015-2100")
        if self.now_ms is not None and ts_ms > self.now_ms + FUTURE_TOLERANCE_MS:
            raise _BadInputError("timestamp_in_future", f"{name} is {(ts_ms - self.now_ms) // 1000} s ahead")
        if event_time and self.now_ms is not None and ts_ms < self.now_ms - MAX_EVENT_AGE_MS:
            raise _BadInputError("timestamp_too_old", f"{name} is {(self.now_ms - ts_ms) // 86_400_000} days old")
        return ts_ms

    def phone_hash(self, name: str, required: bool = False) -> str | None:
        value = self.text(name, required)
        if value is None:
            return None
        normal = normalise_msisdn(value)
        if normal is None:
            raise _BadInputError("bad_msisdn", f"{name} is not a phone number")
        return pseudonymise("ph", normal)

    def id_hash(self, name: str, kind: str) -> str | None:
        value = self.text(name, False)
        if value is None:
            return None
        return pseudonymise(kind, normalise_imei(value) if kind == "imei" else value.strip())

    def national_id_hash(self, name: str) -> str | None:
        value = self.text(name, False)
        if value is None:
            return None
        digits = normalise_national_id(value)
        if digits is None:
            raise _BadInputError("bad_national_id", f"{name} must have 13 digits (0-9, dashes, spaces)")
        return pseudonymise("nid", digits)

    def positive_int(self, name: str) -> int | None:
        value = self._get(name, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 86_400:
            raise _BadInputError("wrong_type", f"{name} must be an integer 0..86400")
        return value


def _too_deep(raw: bytes) -> bool:
    """Brackets opened minus closed, ignoring those inside strings, ever above the limit.

    A cheap byte scan so that ``json.loads`` (recursive) never sees 60,000 nested ``[``:
    it would raise ``RecursionError``, which no ``ValueError`` handler catches. The scan
    reads UTF-8, where no byte of another character is a quote or a bracket; UTF-16 and
    UTF-32 input (the stdlib decoder takes those) is read as text first: there a character
    such as U+2200 holds a 0x22 byte, which a byte scan takes for a quote.

    Examples:
        >>> _too_deep(b'{"a": [[1]], "b": "[[[[[[[[[["}'), _too_deep(b"[" * 9)
        (False, True)
        >>> _too_deep(('{"n": "\u2200", "x": ' + "[" * 9 + "]" * 9 + "}").encode("utf-16-le"))
        True
    """
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:  # each bracket has such a byte
        return False
    encoding = json.detect_encoding(raw)
    if not encoding.startswith("utf-8"):
        try:
            raw = raw.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
        except UnicodeError:
            return False  # the parser refuses it as malformed_json, without recursing
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def parse_json(raw: bytes) -> Any:
    """What ``json.loads(raw, parse_float=Decimal)`` returns or raises, through orjson when
    that is the same answer (several times faster: JSON was a tenth of a worker's time).

    orjson reads floats as binary floats (an amount of 0.1 THB must stay exact) and refuses
    some input the stdlib accepts (NaN, UTF-16, a byte-order mark, lone surrogates, integers
    beyond 64 bits). A document holding a float, and anything orjson refuses, goes to the
    stdlib decoder, so which documents are accepted, and their values, stay the stdlib's.

    Examples:
        >>> parse_json(b'{"amount": 0.1, "n": 2}'), parse_json(b'{"amount": "0.10"}')
        ({'amount': Decimal('0.1'), 'n': 2}, {'amount': '0.10'})
    """
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _stdlib_json(raw)
    return _stdlib_json(raw) if _holds_float(obj) else obj


def _stdlib_json(raw: bytes) -> Any:
    return _JSON_DECIMAL(raw.decode(json.detect_encoding(raw), "surrogatepass"))  # as json.loads does


def _holds_float(obj: Any) -> bool:
    kind = type(obj)
    if kind is dict:
        values = obj.values()
    elif kind is list:
        values = obj
    else:
        return kind is float
    for value in values:
        kind = type(value)
        if kind is float or ((kind is dict or kind is list) and _holds_float(value)):
            return True
    return False


def _decode(raw: bytes | None, now_ms: int | None, build: Callable[[_Fields], T],
            fast: Callable[[dict[str, Any], int | None], T | None] | None = None) -> T | Rejection:
    if raw is None:  # a record with a null value (a tombstone): nothing to decode
        return Rejection("malformed_json", "the message has no value (null)")
    if len(raw) > MAX_MESSAGE_BYTES:
        return Rejection("oversized", f"{len(raw)} bytes > {MAX_MESSAGE_BYTES}")
    if _too_deep(raw):
        return Rejection("too_deep", f"JSON nests deeper than {MAX_JSON_DEPTH} levels")
    if fast is not None:
        record = _try_fast(fast, raw, now_ms)
        if record is not None:
            return record
    try:
        obj = parse_json(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return Rejection("malformed_json", str(exc)[:200])
    except RecursionError:  # _too_deep should have caught it; a worker must not crash on it
        return Rejection("too_deep", f"JSON nests too deep to parse (limit {MAX_JSON_DEPTH} levels)")
    if not isinstance(obj, dict):
        return Rejection("not_an_object", f"top level is {type(obj).__name__}")
    try:
        return build(_Fields(obj, now_ms))
    except _BadInputError as bad:
        return Rejection(bad.reason, bad.detail)
    except PseudonymKeyError:
        raise  # a misconfigured worker must stop, not dead-letter everything as invalid
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises".
        return Rejection("invalid", f"{type(exc).__name__}: {exc}"[:200])


def _try_fast(fast: Callable[[dict[str, Any], int | None], T | None], raw: bytes, now_ms: int | None) -> T | None:
    """The fast path's record, or None. orjson's floats are harmless here: a fast path declines
    a float where it reads a value, and the full decoder then parses the document again."""
    try:
        obj = orjson.loads(raw)
        return fast(obj, now_ms) if type(obj) is dict else None
    except PseudonymKeyError:
        raise
    except Exception:  # noqa: BLE001 - whatever the fast path trips on, the full decoder judges
        return None


def _transfer(f: _Fields) -> Transfer:
    src_bank, src_account = f.bank("src_bank"), f.text("src_account")
    dst_bank, dst_account = f.bank("dst_bank"), f.text("dst_account")
    if (src_bank, src_account) == (dst_bank, dst_account):
        raise _BadInputError("self_transfer", "source and destination are the same account")
    return Transfer(
        transfer_id=f.text("transfer_id"),  # type: ignore[arg-type]
        ts_ms=f.ts(),
        src_bank=src_bank,
        src_account=src_account,  # type: ignore[arg-type]
        dst_bank=dst_bank,
        dst_account=dst_account,  # type: ignore[arg-type]
        amount_satang=parse_amount_satang(f._get("amount", True)),
        channel=f.choice("channel", CHANNELS, "unknown_channel"),
        src_device_id=f.id_hash("src_device_id", "dev"),
        src_msisdn_hash=f.phone_hash("src_msisdn"),
    )


# Fast paths for the two busiest topics. Each accepts only what its field-by-field decoder
# accepts and builds the same record; anything else (every rejection, and rarer spellings such
# as an amount sent as a JSON number with a fraction) gets None and goes through the
# field-by-field decoder, which gives the reason. tests/streams/test_fuzz_codec.py holds them
# to that. Decoding was a sixth of a worker's time, mostly the per-field checks.
_PLAIN_AMOUNT = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,2}))?")


def _plain_text(value: object) -> bool:
    """What ``_Fields.text`` accepts: a string, not blank, not too long."""
    return type(value) is str and 0 < len(value) <= MAX_ID_CHARS and not value.isspace()


def _plain_event_ts(value: object, now_ms: int | None) -> int | None:
    """The event time (epoch ms) that ``_Fields.ts`` accepts, else None."""
    if type(value) is int:
        ts_ms: int | None = value
    else:
        try:
            ts_ms = parse_ts(value)
        except (ValueError, OverflowError):
            return None
    if ts_ms is None or not MIN_TS_MS <= ts_ms <= MAX_TS_MS:
        return None
    if now_ms is not None and not now_ms - MAX_EVENT_AGE_MS <= ts_ms <= now_ms + FUTURE_TOLERANCE_MS:
        return None
    return ts_ms


def _plain_amount_satang(value: object) -> int | None:
    """An amount ``parse_amount_satang`` accepts, as satang, if it is an int or a plain decimal string."""
    if type(value) is int:
        satang = value * 100
    elif type(value) is str and (match := _PLAIN_AMOUNT.fullmatch(value)):
        baht, fraction = match.groups()
        satang = int(baht) * 100 + (int(fraction.ljust(2, "0")) if fraction else 0)
    else:
        return None
    return satang if 0 < satang <= MAX_AMOUNT_SATANG else None


def _plain_phone_hash(value: object) -> str | None | bool:
    """``_Fields.phone_hash`` of a present value: the hash, or False where it would reject."""
    if not _plain_text(value):
        return False
    normal = normalise_msisdn(value)  # type: ignore[arg-type]
    return False if normal is None else pseudonymise("ph", normal)


def _fast_transfer(obj: dict[str, Any], now_ms: int | None) -> Transfer | None:
    get = obj.get
    transfer_id, src_bank, src_account = get("transfer_id"), get("src_bank"), get("src_account")
    dst_bank, dst_account, channel = get("dst_bank"), get("dst_account"), get("channel")
    if not (_plain_text(transfer_id) and _plain_text(src_account) and _plain_text(dst_account)
            and type(src_bank) is str and src_bank in BANKS and type(dst_bank) is str and dst_bank in BANKS
            and type(channel) is str and channel in CHANNELS
            and (src_bank != dst_bank or src_account != dst_account)):
        return None
    ts_ms, satang = _plain_event_ts(get("ts"), now_ms), _plain_amount_satang(get("amount"))
    if ts_ms is None or satang is None:
        return None
    device, msisdn = get("src_device_id"), get("src_msisdn")
    if device is not None:
        if not _plain_text(device):
            return None
        device = pseudonymise("dev", device.strip())
    if msisdn is not None and (msisdn := _plain_phone_hash(msisdn)) is False:
        return None
    return Transfer(transfer_id, ts_ms, src_bank, src_account, dst_bank, dst_account, satang,  # type: ignore[arg-type]
                    channel, device, msisdn)  # type: ignore[arg-type]


def _fast_telecom(obj: dict[str, Any], now_ms: int | None) -> TelecomEvent | None:
    get = obj.get
    kind, event_id, a, b = get("kind"), get("event_id"), get("msisdn_a"), get("msisdn_b")
    duration, cell_id, imei = get("duration_s"), get("cell_id"), get("imei")
    if not (type(kind) is str and kind in TELECOM_KINDS and _plain_text(event_id) and a is not None
            and (b is not None or kind not in ("call", "sms"))
            and (duration is None or (type(duration) is int and 0 <= duration <= 86_400))
            and (cell_id is None or _plain_text(cell_id))):
        return None
    ts_ms = _plain_event_ts(get("ts"), now_ms)
    if ts_ms is None or (a := _plain_phone_hash(a)) is False:
        return None
    if b is not None and (b := _plain_phone_hash(b)) is False:
        return None
    if imei is not None:
        if not _plain_text(imei):
            return None
        imei = pseudonymise("imei", normalise_imei(imei))
    return TelecomEvent(event_id, ts_ms, kind, a, b, duration, cell_id, imei)  # type: ignore[arg-type]


def _telecom(f: _Fields) -> TelecomEvent:
    kind = f.choice("kind", TELECOM_KINDS, "unknown_kind")
    b = f.phone_hash("msisdn_b", required=kind in ("call", "sms"))
    return TelecomEvent(
        event_id=f.text("event_id"),  # type: ignore[arg-type]
        ts_ms=f.ts(),
        kind=kind,
        msisdn_a_hash=f.phone_hash("msisdn_a", required=True),  # type: ignore[arg-type]
        msisdn_b_hash=b,
        duration_s=f.positive_int("duration_s"),
        cell_id=f.text("cell_id", False),
        imei_hash=f.id_hash("imei", "imei"),
    )


def _registry(f: _Fields) -> RegistryLink:
    opened = f.ts("opened_ts", event_time=False)  # accounts opened years ago are normal
    ts = f.ts("ts") if f.obj.get("ts") is not None else opened
    return RegistryLink(
        bank=f.bank("bank"),
        account=f.text("account"),  # type: ignore[arg-type]
        opened_ts_ms=opened,
        ts_ms=max(ts, opened),
        msisdn_hash=f.phone_hash("msisdn"),
        national_id_hash=f.national_id_hash("national_id"),
        device_id=f.id_hash("device_id", "dev"),
    )


def _report(f: _Fields) -> VictimReport:
    ids = f._get("transfer_ids", True)
    if not isinstance(ids, list) or not ids or len(ids) > MAX_TRANSFER_IDS:
        raise _BadInputError("wrong_type", f"transfer_ids must be a list of 1..{MAX_TRANSFER_IDS} ids")
    if not all(isinstance(i, str) and 0 < len(i) <= MAX_ID_CHARS for i in ids):
        raise _BadInputError("wrong_type", "transfer_ids must hold non-empty strings")
    return VictimReport(
        report_id=f.text("report_id"),  # type: ignore[arg-type]
        ts_ms=f.ts(),
        victim_bank=f.bank("victim_bank"),
        victim_account=f.text("victim_account"),  # type: ignore[arg-type]
        transfer_ids=tuple(dict.fromkeys(ids)),
        channel=f.choice("channel", REPORT_CHANNELS, "unknown_channel"),
        police_complaint_ref=f.text("police_complaint_ref", False),
    )


def decode_transfer(raw: bytes | None, now_ms: int | None = None) -> Transfer | Rejection:
    return _decode(raw, now_ms, _transfer, _fast_transfer)


def decode_telecom(raw: bytes | None, now_ms: int | None = None) -> TelecomEvent | Rejection:
    return _decode(raw, now_ms, _telecom, _fast_telecom)


def decode_registry(raw: bytes | None, now_ms: int | None = None) -> RegistryLink | Rejection:
    return _decode(raw, now_ms, _registry)


def decode_report(raw: bytes | None, now_ms: int | None = None) -> VictimReport | Rejection:
    return _decode(raw, now_ms, _report)


def freeze_request_to_json(req: FreezeRequest) -> dict[str, Any]:
    """The exact ``freeze.requests.v1`` object: schema fields only, no framework keys."""
    return {
        "request_id": req.request_id,
        "bank": req.bank,
        "account": req.account,
        "action": req.action,
        "amount": None if req.amount_satang is None else format_amount(req.amount_satang),
        "reason": req.reason,
        "score": req.score,
        "model_version": req.model_version,
        "top_reasons": list(req.top_reasons),
        "case_id": req.case_id,
        "hop": req.hop,
        "trigger_event_id": req.trigger_event_id,
        "event_ts": format_ts(req.event_ts_ms),
        "emitted_ts": format_ts(req.emitted_ts_ms),
        "legal_basis": req.legal_basis,
        "expires_ts": None if req.expires_ts_ms is None else format_ts(req.expires_ts_ms),
    }


def encode_freeze_request(req: FreezeRequest) -> bytes:
    return _JSON_OUT(freeze_request_to_json(req)).encode()


def decode_freeze_request(raw: bytes) -> FreezeRequest:
    """For consumers and tests (banks' side). Raises on bad input: it is our own output."""
    obj = json.loads(raw)
    amount = obj["amount"]
    return FreezeRequest(
        request_id=obj["request_id"],
        bank=obj["bank"],
        account=obj["account"],
        action=obj["action"],
        amount_satang=None if amount is None else parse_amount_satang(amount),
        reason=obj["reason"],
        score=obj["score"],
        model_version=obj["model_version"],
        top_reasons=tuple(obj["top_reasons"]),
        case_id=obj["case_id"],
        hop=obj["hop"],
        trigger_event_id=obj["trigger_event_id"],
        event_ts_ms=parse_ts(obj["event_ts"]),  # type: ignore[arg-type]
        emitted_ts_ms=parse_ts(obj["emitted_ts"]),  # type: ignore[arg-type]
        legal_basis=obj["legal_basis"],
        expires_ts_ms=None if obj["expires_ts"] is None else parse_ts(obj["expires_ts"]),
    )


def dead_letter_to_json(dl: DeadLetter) -> dict[str, Any]:
    return {
        "source_topic": dl.source_topic,
        "partition": dl.partition,
        "offset": dl.offset,
        "reason": dl.reason,
        "detail": dl.detail,
        "raw": dl.raw,
        "raw_encoding": dl.raw_encoding,
        "rejected_ts": format_ts(dl.rejected_ts_ms),
    }


def encode_dead_letter(dl: DeadLetter) -> bytes:
    return _JSON_OUT(dead_letter_to_json(dl)).encode()


# -- hold lifecycle: bank answers, appeals, refund proposals, audit ------------------------

MAX_NOTE_CHARS = 500


def _request_id(f: _Fields, name: str = "request_id") -> str:
    value = f.text(name)
    if not (len(value) == 32 and all(c in "0123456789abcdef" for c in value)):  # type: ignore[arg-type]
        raise _BadInputError("bad_request_id", f"{name} must be 32 lowercase hex digits")
    return value  # type: ignore[return-value]


def _ack(f: _Fields) -> HoldAck:
    status = f.choice("status", ACK_STATUSES, "unknown_status")
    raw_amount = f._get("held_amount", status == "held")
    if raw_amount is not None and status != "held":
        raise _BadInputError("wrong_type", f"held_amount is only for status held, not {status}")
    proposal_id = _request_id(f, "proposal_id") if f._get("proposal_id", False) is not None else None
    if proposal_id is not None and status != "refunded":
        raise _BadInputError("wrong_type", f"proposal_id is only for status refunded, not {status}")
    return HoldAck(
        request_id=_request_id(f), ts_ms=f.ts(), bank=f.bank("bank"), account=f.text("account"),  # type: ignore[arg-type]
        status=status, held_amount_satang=None if raw_amount is None else parse_amount_satang(raw_amount),
        reason=f.text("reason", False), proposal_id=proposal_id,
    )


def _appeal(f: _Fields) -> HoldAppeal:
    outcome = f.choice("outcome", APPEAL_OUTCOMES, "unknown_outcome")
    decided_by = f.choice("decided_by", APPEAL_DECIDERS, "unknown_decider")
    police_ref = f.text("police_complaint_ref", outcome == "police_extension")
    if outcome == "police_extension" and decided_by != "police":
        raise _BadInputError("not_police", "only the police extend a hold")
    note = f._get("note", False)
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_CHARS):
        raise _BadInputError("wrong_type", f"note must be a string of at most {MAX_NOTE_CHARS} characters")
    return HoldAppeal(
        appeal_id=f.text("appeal_id"), ts_ms=f.ts(), bank=f.bank("bank"), account=f.text("account"),  # type: ignore[arg-type]
        request_id=_request_id(f), outcome=outcome, decided_by=decided_by, police_complaint_ref=police_ref,
        note=note,
    )


def decode_ack(raw: bytes, now_ms: int | None = None) -> HoldAck | Rejection:
    """Examples:
        >>> decode_ack(b'{"request_id": "' + b"a" * 32 + b'", "ts": 1795316400000, "bank": "SCB",'
        ...            b' "account": "9", "status": "held", "held_amount": "10.5"}').held_amount_satang
        1050
        >>> decode_ack(b'{"request_id": "x", "ts": 1795316400000, "bank": "SCB", "account": "9",'
        ...            b' "status": "rejected"}').reason
        'bad_request_id'
        >>> paid = b'{"request_id": "' + b"a" * 32 + b'", "ts": 1795316400000, "bank": "SCB", "account": "9",'
        >>> decode_ack(paid + b' "status": "refunded", "proposal_id": "' + b"b" * 32 + b'"}').proposal_id[:4]
        'bbbb'
        >>> decode_ack(paid + b' "status": "released", "proposal_id": "' + b"b" * 32 + b'"}').reason
        'wrong_type'
    """
    return _decode(raw, now_ms, _ack)


def decode_appeal(raw: bytes, now_ms: int | None = None) -> HoldAppeal | Rejection:
    return _decode(raw, now_ms, _appeal)


def refund_proposal_to_json(proposal: RefundProposal) -> dict[str, Any]:
    return {
        "proposal_id": proposal.proposal_id,
        "ts": format_ts(proposal.ts_ms),
        "bank": proposal.bank,
        "account": proposal.account,
        "held_amount": format_amount(proposal.held_satang),
        "method": proposal.method,
        "shares": [{"case_id": s.case_id, "traced_amount": format_amount(s.traced_satang),
                    "amount": format_amount(s.amount_satang)} for s in proposal.shares],
    }


def encode_refund_proposal(proposal: RefundProposal) -> bytes:
    return _JSON_OUT(refund_proposal_to_json(proposal)).encode()


def _satang_or_zero(value: object) -> int:
    """Like ``parse_amount_satang`` but "0.00" is a valid share."""
    return 0 if value in ("0.00", "0", 0) else parse_amount_satang(value)


def _refund(f: _Fields) -> RefundProposal:
    shares = f._get("shares", True)
    if not isinstance(shares, list) or not shares:
        raise _BadInputError("wrong_type", "shares must be a non-empty list")
    return RefundProposal(
        proposal_id=f.text("proposal_id"), ts_ms=f.ts(), bank=f.bank("bank"), account=f.text("account"),  # type: ignore[arg-type]
        held_satang=_satang_or_zero(f._get("held_amount", True)), method=f.text("method"),  # type: ignore[arg-type]
        shares=tuple(RefundShare(str(s["case_id"]), _satang_or_zero(s["traced_amount"]), _satang_or_zero(s["amount"]))
                     for s in shares),
    )


def decode_refund_proposal(raw: bytes) -> RefundProposal | Rejection:
    return _decode(raw, None, _refund)


def audit_to_json(record: AuditRecord) -> dict[str, Any]:
    return {"audit_id": record.audit_id, "kind": record.kind, "ts": format_ts(record.ts_ms),
            "subject": record.subject, "request_id": record.request_id, "details": record.details}


def feature_log_to_json(record: FeatureLogRecord) -> dict[str, Any]:
    return {"account": record.account, "transfer_id": record.transfer_id, "direction": record.direction,
            "ts": format_ts(record.ts_ms), "engine_version": record.engine_version,
            "model_version": record.model_version, "score": record.score, "features": record.features}


def encode_feature_log(record: FeatureLogRecord) -> bytes:
    return _JSON_OUT_ASCII(feature_log_to_json(record)).encode()


def encode_audit(record: AuditRecord) -> bytes:
    return _JSON_OUT(audit_to_json(record)).encode()


def _audit(f: _Fields) -> AuditRecord:
    details = f._get("details", True)
    if not isinstance(details, dict):
        raise _BadInputError("wrong_type", "details must be an object")
    request_id = f._get("request_id", False)
    if request_id is not None and not isinstance(request_id, str):
        raise _BadInputError("wrong_type", "request_id must be a string or null")
    return AuditRecord(
        audit_id=f.text("audit_id"), kind=f.choice("kind", AUDIT_KINDS, "unknown_kind"), ts_ms=f.ts(),  # type: ignore[arg-type]
        subject=f.text("subject"), request_id=request_id, details=details,  # type: ignore[arg-type]
    )


def decode_audit(raw: bytes) -> AuditRecord | Rejection:
    """Audit records as consumers read them (Decimal numbers in ``details`` stay exact)."""
    return _decode(raw, None, _audit)
