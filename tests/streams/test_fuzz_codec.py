"""Property-based fuzzing of every input decoder: it never raises, and what it returns is
either a record that satisfies its contract or a ``Rejection`` with a known reason.

Inputs per decoder: arbitrary bytes, arbitrary JSON documents, and near-valid records (a
valid message with fields dropped, retyped or replaced by edge values), which reach the
deep branches that random bytes never do. 10,600 generated examples in all (1,200 byte strings
and 300 JSON documents each fed to all four decoders, 4 x 1,700 near-valid records, 300 to check
the generator, 1,500 for the dead-letter redaction): about 12 s of CPU, nearly all of it hypothesis' own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from factories import T0_MS, make_registry, make_report, make_telecom, make_transfer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams import codec
from streams.contracts import (
    BANKS,
    CHANNELS,
    REPORT_CHANNELS,
    TELECOM_KINDS,
    RegistryLink,
    Rejection,
    TelecomEvent,
    Transfer,
    VictimReport,
)
from streams.deadletter import IDENTIFIER_FIELDS, dead_letter
from streams.timefmt import MAX_TS_MS, MIN_TS_MS

NOW_MS = T0_MS + 3_600_000


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)
# Values on the edges of the contract's rules; a near-valid message puts some of them in some fields.
EDGE_VALUES: tuple[object, ...] = (
    None, True, 0, -1, 1, 7, 1.5, -0.0, 10**20, "", " ", "0", "-0.00", "0.001", "0.01", "1e3", "1E+999999999",
    "1e-999999999", "NaN", "Infinity", "1000000000.01", "1000000000.00", "12.345", "x" * 129, "x" * 128, "\u0000",
    "2026-11-01T07:00:00", "2026-11-01T07:00:00+07:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
    "2026-13-01T00:00:00Z", "+66812345678", "081-234-5678", "12", "1-1007-00123-45-6", "KBANK", "SCB", "ZZZ",
    "mobile", "pigeon", "call", "sms", "sim_swap", "scam_report", "hotline_1441", [], [""], ["a"] * 101, ["a", "a"],
    [1], {"$": 1}, {"ts": 1}, [[[[[[[[[1]]]]]]]]], MIN_TS_MS - 1, MIN_TS_MS, MAX_TS_MS, MAX_TS_MS + 1,
    NOW_MS, NOW_MS + codec.FUTURE_TOLERANCE_MS + 1, NOW_MS - codec.MAX_EVENT_AGE_MS - 1, 86_400, 86_401,
)
EXTRA_FIELDS = ("amount", "ts", "kind", "channel", "msisdn_b", "unexpected")
# Edits are drawn as one short byte string (hypothesis draws and shrinks those cheaply): 8 bytes
# of a number (an int, or a decimal string with 3 places), then 3 bytes per edit naming a field
# and either a catalogue value, the number, or deletion.
edits = st.binary(max_size=20)


def near_valid(factory: Callable[..., dict[str, Any]], spec: bytes) -> bytes:
    """A valid message of the topic with the fields ``spec`` names dropped or replaced."""
    msg = factory()
    fields = sorted(msg) + list(EXTRA_FIELDS)
    raw_number = int.from_bytes(spec[:8].ljust(8, b"\0"), "little", signed=True) >> (spec[0] % 48 if spec else 0)
    number: object = raw_number if raw_number % 2 else f"{raw_number / 1000:.3f}"
    for i in range(8, len(spec) - 2, 3):
        op = int.from_bytes(spec[i:i + 3], "little")
        name, choice = fields[op % len(fields)], (op // len(fields)) % (len(EDGE_VALUES) + 2)
        if choice == len(EDGE_VALUES):
            msg.pop(name, None)
        else:
            msg[name] = number if choice > len(EDGE_VALUES) else EDGE_VALUES[choice]
    return json.dumps(msg, allow_nan=True).encode()


DECODERS: dict[str, tuple[Callable[..., object], Callable[..., dict[str, Any]], type]] = {
    "transfer": (codec.decode_transfer, make_transfer, Transfer),
    "telecom": (codec.decode_telecom, make_telecom, TelecomEvent),
    "registry": (codec.decode_registry, make_registry, RegistryLink),
    "report": (codec.decode_report, make_report, VictimReport),
}


def _text_ok(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= codec.MAX_ID_CHARS and bool(value.strip())


def _ts_ok(ts_ms: int, now_ms: int | None) -> bool:
    if not MIN_TS_MS <= ts_ms <= MAX_TS_MS:
        return False
    return now_ms is None or ts_ms <= now_ms + codec.FUTURE_TOLERANCE_MS


def _hash_ok(value: str | None, prefix: str, required: bool = False) -> bool:
    return (value is None and not required) or (isinstance(value, str) and value.startswith(prefix + "_"))


def satisfies_contract(record: object, now_ms: int | None) -> bool:
    """The invariants every consumer of a decoded record relies on."""
    if isinstance(record, Transfer):
        return (
            _text_ok(record.transfer_id) and _text_ok(record.src_account) and _text_ok(record.dst_account)
            and record.src_bank in BANKS and record.dst_bank in BANKS and record.src_key != record.dst_key
            and type(record.amount_satang) is int and 0 < record.amount_satang <= codec.MAX_AMOUNT_SATANG
            and record.channel in CHANNELS and _ts_ok(record.ts_ms, now_ms)
            and (now_ms is None or record.ts_ms >= now_ms - codec.MAX_EVENT_AGE_MS)
            and _hash_ok(record.src_msisdn_hash, "ph") and _hash_ok(record.src_device_id, "dev")
        )
    if isinstance(record, TelecomEvent):
        return (
            _text_ok(record.event_id) and record.kind in TELECOM_KINDS and _ts_ok(record.ts_ms, now_ms)
            and _hash_ok(record.msisdn_a_hash, "ph", required=True)
            and _hash_ok(record.msisdn_b_hash, "ph", required=record.kind in ("call", "sms"))
            and (record.duration_s is None or 0 <= record.duration_s <= 86_400)
            and _hash_ok(record.imei_hash, "imei")
        )
    if isinstance(record, RegistryLink):
        return (
            record.bank in BANKS and _text_ok(record.account) and _ts_ok(record.opened_ts_ms, now_ms)
            and _ts_ok(record.ts_ms, now_ms) and record.ts_ms >= record.opened_ts_ms
            and _hash_ok(record.msisdn_hash, "ph") and _hash_ok(record.national_id_hash, "nid")
            and _hash_ok(record.device_id, "dev")
        )
    if isinstance(record, VictimReport):
        return (
            _text_ok(record.report_id) and record.victim_bank in BANKS and _text_ok(record.victim_account)
            and 0 < len(record.transfer_ids) <= codec.MAX_TRANSFER_IDS
            and len(set(record.transfer_ids)) == len(record.transfer_ids)
            and all(isinstance(i, str) and 0 < len(i) <= codec.MAX_ID_CHARS for i in record.transfer_ids)
            and record.channel in REPORT_CHANNELS and _ts_ok(record.ts_ms, now_ms)
            and (now_ms is None or record.ts_ms >= now_ms - codec.MAX_EVENT_AGE_MS)
        )
    return False


def check(name: str, raw: bytes, now_ms: int | None) -> object:
    decode, _, record_type = DECODERS[name]
    result = decode(raw, now_ms)  # must not raise: an exception fails the property
    if isinstance(result, Rejection):
        assert result.reason in codec.REJECTION_REASONS and result.reason != "invalid", result
        assert isinstance(result.detail, str)
    else:
        assert isinstance(result, record_type), result
        assert satisfies_contract(result, now_ms), result
    return result


clocks = st.sampled_from([None, NOW_MS])


@fuzz(1200)
@given(raw=st.binary(max_size=300), now_ms=clocks)
def test_arbitrary_bytes(raw: bytes, now_ms: int | None) -> None:
    for name in DECODERS:
        check(name, raw, now_ms)


@fuzz(300)
@given(doc=json_values, now_ms=clocks)
def test_arbitrary_json(doc: object, now_ms: int | None) -> None:
    for name in DECODERS:
        check(name, json.dumps(doc).encode(), now_ms)


@pytest.mark.parametrize("name", sorted(DECODERS))
@fuzz(1700)
@given(spec=edits, now_ms=clocks)
def test_near_valid_records(name: str, spec: bytes, now_ms: int | None) -> None:
    check(name, near_valid(DECODERS[name][1], spec), now_ms)


FAST_PATHS = {"transfer": (codec._fast_transfer, codec._transfer), "telecom": (codec._fast_telecom, codec._telecom)}
_IDS = ("111-1-11111", "222-2-22222", " 111-1-11111 ", "", " ", "x" * 128, "x" * 129, None, 5, ["a"])
_TIMES = (T0_MS, NOW_MS + codec.FUTURE_TOLERANCE_MS, NOW_MS + codec.FUTURE_TOLERANCE_MS + 1,
          NOW_MS - codec.MAX_EVENT_AGE_MS, NOW_MS - codec.MAX_EVENT_AGE_MS - 1, MIN_TS_MS - 1, MAX_TS_MS + 1,
          "2026-11-01T07:00:00+07:00", "2026-11-01T07:00:00", "0001-01-01T00:00:00+14:00", True, 1.5e12, None,
          "2026-11-01 07:00:00+07:00", "20261101T070000+0700", "2026-11-01T07+07:00", "2026-11-01t00:00:00z")
_PHONES = ("0812345678", "+66812345678", "081-234-5678\n", " 0812345678", "12", "", 66812345678, None,
           "+66 081 234 5678", "0066812345678", "812345678", "๐๘๑๒๓๔๕๖๗๘")
_HASHED = ("dev-1", " dev-1 ", "", " ", "x" * 129, 7, None, "35-209900-176148-1", "３５２０９９００１７６１４８１")
# Per field, the values a fast path must judge exactly as the full decoder does: valid ones,
# each rule's boundary on both sides, and other spellings of the same value.
FAST_PATH_VALUES: dict[str, dict[str, tuple[object, ...]]] = {
    "transfer": {
        "transfer_id": _IDS, "src_account": _IDS, "dst_account": _IDS, "ts": _TIMES,
        "src_bank": ("KBANK", "SCB", "ZZZ", "", None, 1), "dst_bank": ("KBANK", "SCB", "ZZZ", "", None, 1),
        "amount": ("1500.00", "0.5", "7", "0", "0.00", "0.001", 7, 0, -1, 1.5, 0.1, "1e3", " 5", "5 ", "1_000",
                   "+5", "1000000000.00", "1000000000.01", 1_000_000_000, 1_000_000_001, "\u0663", None, True,
                   "๑๒๓", "１２３", "5.", "0.010", "1e3"),
        "channel": ("mobile", "promptpay", "pigeon", "", None), "src_device_id": _HASHED, "src_msisdn": _PHONES,
    },
    "telecom": {
        "event_id": _IDS, "ts": _TIMES, "kind": ("call", "sms", "sim_swap", "sim_register", "scam_report", "fax", None),
        "msisdn_a": _PHONES, "msisdn_b": _PHONES, "imei": _HASHED,
        "cell_id": ("c-1", " c-1", "", " ", "x" * 129, 3, None),
        "duration_s": (0, 120, 86_400, 86_401, -1, True, 1.5, "5", None),
    },
}


def fast_path_case(name: str, edits: list[tuple[int, int]]) -> bytes:
    """A valid message of the topic with one to three fields set from ``FAST_PATH_VALUES``
    (a value of None drops the field)."""
    msg = DECODERS[name][1]()
    catalogue = FAST_PATH_VALUES[name]
    fields = sorted(catalogue)
    for field_choice, value_choice in edits:
        field = fields[field_choice % len(fields)]
        value = catalogue[field][value_choice % len(catalogue[field])]
        if value is None:
            msg.pop(field, None)
        else:
            msg[field] = value
    if name == "transfer" and edits and edits[0][1] % 5 == 0:  # a self-transfer now and then
        msg["dst_bank"], msg["dst_account"] = msg.get("src_bank"), msg.get("src_account")
    return json.dumps(msg).encode()


@pytest.mark.parametrize("name", sorted(FAST_PATHS))
@fuzz(1500)
@given(edits=st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=1, max_size=3),
       now_ms=clocks)
def test_fast_path_decodes_as_the_field_by_field_decoder(name: str, edits: list[tuple[int, int]],
                                                         now_ms: int | None) -> None:
    """With or without the fast path, a decoder gives the same record or the same rejection:
    the fast path may decline a message, but never accepts one the full decoder rejects, nor
    builds a different record."""
    fast, build = FAST_PATHS[name]
    raw = fast_path_case(name, edits)
    assert codec._decode(raw, now_ms, build, fast) == codec._decode(raw, now_ms, build), raw


@pytest.mark.parametrize(("name", "overrides"), [
    ("transfer", {}), ("transfer", {"amount": "1500"}), ("transfer", {"amount": "0.5"}), ("transfer", {"amount": 1500}),
    ("transfer", {"ts": "2026-11-01T07:00:00+07:00", "src_device_id": ..., "src_msisdn": ...}),
    ("telecom", {}), ("telecom", {"kind": "sim_swap", "msisdn_b": ..., "imei": "35-209900-176148-1"}),
])
def test_fast_path_takes_the_common_spellings(name: str, overrides: dict[str, Any]) -> None:
    fast, build = FAST_PATHS[name]
    raw = json.dumps(DECODERS[name][1](**overrides)).encode()
    record = fast(json.loads(raw), NOW_MS)
    assert record is not None and record == codec._decode(raw, NOW_MS, build)


def test_near_valid_generator_reaches_both_outcomes() -> None:
    """Guards the fuzzer itself: near-valid input must produce accepted records and many reasons."""
    outcomes: dict[str, set[str]] = {name: set() for name in DECODERS}

    @fuzz(300)
    @given(spec=edits)
    def collect(spec: bytes) -> None:
        for name in DECODERS:
            result = check(name, near_valid(DECODERS[name][1], spec), NOW_MS)
            outcomes[name].add(result.reason if isinstance(result, Rejection) else "accepted")

    collect()
    for name, seen in outcomes.items():
        assert "accepted" in seen and len(seen) >= 6, (name, seen)


@pytest.mark.parametrize(("name", "raw", "reason"), [
    ("transfer", b"[" * 60_000, "too_deep"),  # json.loads raised RecursionError: found by this suite
    ("report", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "too_deep"),
    ("transfer", json.dumps(make_transfer(amount="1E+999999999")).encode(), "bad_amount"),  # decimal overflow
    ("transfer", json.dumps(make_transfer(ts="0001-01-01T00:00:00+14:00")).encode(), "timestamp_out_of_range"),
    ("telecom", json.dumps(make_telecom(ts=NOW_MS - codec.MAX_EVENT_AGE_MS - 1)).encode(), "timestamp_too_old"),
    ("report", json.dumps(make_report(ts=NOW_MS + codec.FUTURE_TOLERANCE_MS + 1)).encode(), "timestamp_in_future"),
])
def test_inputs_that_escaped_or_passed_before(name: str, raw: bytes, reason: str) -> None:
    result = check(name, raw, NOW_MS)
    assert isinstance(result, Rejection) and result.reason == reason, result


def test_old_accounts_are_valid_but_old_registry_events_are_not() -> None:
    """``opened_ts`` is not an event time: an account opened years ago is normal."""
    years_ago = NOW_MS - 5 * codec.MAX_EVENT_AGE_MS
    old_account = codec.decode_registry(json.dumps(make_registry(opened_ts=years_ago, ts=NOW_MS)).encode(), NOW_MS)
    assert isinstance(old_account, RegistryLink) and old_account.opened_ts_ms == years_ago
    old_event = codec.decode_registry(json.dumps(make_registry(opened_ts=years_ago, ts=years_ago)).encode(), NOW_MS)
    assert isinstance(old_event, Rejection) and old_event.reason == "timestamp_too_old"


@fuzz(1500)
@given(digits=st.integers(0, 2**48))
def test_dead_letters_never_carry_raw_identifiers(digits: int) -> None:
    """Whatever is wrong with a message, its dead letter hides the phone and national ID in it."""
    which, mangle, cut = digits % 3, (digits >> 2) % 4, (digits >> 4) % 400 + 1
    phone, nid = f"0{6 + digits % 3}{digits % 10**8:08d}", f"{1 + digits % 8}{digits:012d}"
    name = ("transfer", "telecom", "registry")[which]
    msg = DECODERS[name][1]()
    for field in IDENTIFIER_FIELDS:
        if field in msg and field not in ("src_device_id", "device_id"):
            msg[field] = nid if field == "national_id" else phone
    raw = json.dumps(msg).encode()
    if mangle == 1:
        raw = raw[: cut % (len(raw) - 1) + 1]  # truncated: malformed JSON
    elif mangle == 2:
        raw = raw.replace(b'"', b"'")
    elif mangle == 3:
        msg["amount"] = -1
        msg["note"] = f"call {phone[:3]}-{phone[3:6]}-{phone[6:]} or id {nid}"
        raw = json.dumps(msg).encode()
    rejection = Rejection("bad_amount", f"something about {phone}")
    letter = dead_letter(raw, "t", 0, 0, rejection, NOW_MS)
    assert phone not in letter.raw and nid not in letter.raw and phone not in letter.detail
    assert phone[1:] not in letter.raw  # nor its 66-prefixed or +66 spelling's tail


def _outcome(parse: Callable[[bytes], Any], raw: bytes) -> tuple[str, Any]:
    try:
        return "value", parse(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return "error", str(exc)


def _stdlib_outcome(raw: bytes) -> tuple[str, Any]:
    """The decoder before orjson: ``json.loads`` with exact decimals."""
    from decimal import Decimal

    return _outcome(lambda b: json.loads(b, parse_float=Decimal), raw)


def _json_spellings(value: object) -> st.SearchStrategy[bytes]:
    text = json.dumps(value, ensure_ascii=False)
    return st.sampled_from([text.encode(), json.dumps(value).encode(), text.encode("utf-16"),
                            b"\xef\xbb\xbf" + text.encode(), f" {text}\n".encode()])


@fuzz(600)
@given(st.one_of(json_values.flatmap(_json_spellings), st.binary(max_size=40),
                 st.sampled_from([b'{"a": NaN}', b'{"a": 1, "a": 2}', b'{"a": "\\ud800"}', b'{"a": 1E2}',
                                  b'{"a": 18446744073709551616}', b'{"a": -0}', b'{"a": 0.1}', b'[1, 2.50]',
                                  b'{"a": [1, {"b": 2.5}]}', b'{"a": {"b": 0.1}}'])))
def test_json_parsing_answers_exactly_as_the_stdlib_decimal_decoder(raw: bytes) -> None:
    """orjson is only a shortcut: every value (types included: Decimal, never float) and
    every rejection message is what the stdlib decoder gives."""
    got, expected = _outcome(codec.parse_json, raw), _stdlib_outcome(raw)
    assert got == expected
    assert repr(got) == repr(expected)  # 1 == 1.0 == Decimal(1): the types must match too
