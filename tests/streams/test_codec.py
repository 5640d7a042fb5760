from __future__ import annotations

import base64
import json

import jsonschema
import pytest
from factories import NOW_MS, T0_MS, make_registry, make_report, make_telecom, make_transfer, raw

from streams import codec
from streams.contracts import Rejection, Transfer
from streams.deadletter import dead_letter
from streams.privacy import pseudonymise
from streams.schemas_path import schema_for


def test_valid_transfer_becomes_satang_and_hashed_phone() -> None:
    record = codec.decode_transfer(raw(make_transfer(amount=1500.25, ts="2026-11-01T07:00:00+07:00")), NOW_MS)
    assert isinstance(record, Transfer)
    assert record.amount_satang == 150_025
    assert record.ts_ms == T0_MS
    assert record.src_msisdn_hash == pseudonymise("ph", "66812345678")


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"amount": -5}, "non_positive_amount"),
    ({"amount": 0}, "non_positive_amount"),
    ({"amount": "12.345"}, "bad_amount"),
    ({"amount": 5e12}, "absurd_amount"),
    ({"amount": "NaN"}, "bad_amount"),
    ({"amount": True}, "bad_amount"),
    ({"src_bank": "NOPE"}, "unknown_bank"),
    ({"channel": "pigeon"}, "unknown_channel"),
    ({"ts": "2026-11-01T07:00:00"}, "bad_timestamp"),
    ({"ts": 1_000}, "timestamp_out_of_range"),
    ({"transfer_id": ...}, "missing_field"),
    ({"transfer_id": 7}, "wrong_type"),
    ({"transfer_id": "x" * 500}, "too_long"),
    ({"src_msisdn": "call me"}, "bad_msisdn"),
    ({"dst_bank": "KBANK", "dst_account": "111-1-11111"}, "self_transfer"),
])
def test_bad_transfers_are_rejected_with_a_reason(overrides: dict, reason: str) -> None:
    record = codec.decode_transfer(raw(make_transfer(**overrides)), NOW_MS)
    assert isinstance(record, Rejection)
    assert record.reason == reason


@pytest.mark.parametrize(("payload", "reason"), [
    (b"{not json", "malformed_json"),
    (b"[1, 2]", "not_an_object"),
    (b"\xff\xfe", "malformed_json"),
    (b"{" + b" " * 70_000 + b"}", "oversized"),
])
def test_garbage_is_rejected(payload: bytes, reason: str) -> None:
    for decode in (codec.decode_transfer, codec.decode_telecom, codec.decode_registry, codec.decode_report):
        result = decode(payload)
        assert isinstance(result, Rejection) and result.reason == reason


def test_future_and_stale_timestamps_are_rejected_only_against_a_clock() -> None:
    future = make_transfer(ts=T0_MS + 3_600_000)
    assert isinstance(codec.decode_transfer(raw(future)), Transfer)
    result = codec.decode_transfer(raw(future), now_ms=T0_MS)
    assert isinstance(result, Rejection) and result.reason == "timestamp_in_future"
    a_year_later = T0_MS + codec.MAX_EVENT_AGE_MS + 1
    assert isinstance(codec.decode_transfer(raw(make_transfer()), now_ms=a_year_later - 1), Transfer)
    result = codec.decode_transfer(raw(make_transfer()), now_ms=a_year_later)
    assert isinstance(result, Rejection) and result.reason == "timestamp_too_old"


def test_other_topics_decode_and_hide_identifiers() -> None:
    tel = codec.decode_telecom(raw(make_telecom()), NOW_MS)
    reg = codec.decode_registry(raw(make_registry()), NOW_MS)
    rep = codec.decode_report(raw(make_report(transfer_ids=["a", "b", "a"])), NOW_MS)
    assert not isinstance(tel, Rejection) and tel.msisdn_a_hash.startswith("ph_")
    assert not isinstance(reg, Rejection) and reg.national_id_hash.startswith("nid_")
    assert "1100700123456" not in repr(reg) and "0811111111" not in repr(reg)
    assert not isinstance(rep, Rejection) and rep.transfer_ids == ("a", "b")
    missing_b = codec.decode_telecom(raw(make_telecom(msisdn_b=...)), NOW_MS)
    assert isinstance(missing_b, Rejection) and missing_b.reason == "missing_field"
    bad_nid = codec.decode_registry(raw(make_registry(national_id="12")), NOW_MS)
    assert isinstance(bad_nid, Rejection) and bad_nid.reason == "bad_national_id"


@pytest.mark.parametrize(("factory", "topic"), [
    (make_transfer, "bank.transfers.v1"), (make_telecom, "telecom.events.v1"),
    (make_registry, "registry.accounts.v1"), (make_report, "victim.reports.v1"),
])
def test_factories_follow_the_published_schemas(factory, topic: str) -> None:
    jsonschema.validate(factory(), schema_for(topic))


def test_dead_letter_keeps_raw_bytes_and_matches_schema() -> None:
    letter = dead_letter(b"\x00\xffbinary", "bank.transfers.v1", 3, 42, Rejection("malformed_json", "x"), T0_MS)
    encoded = json.loads(codec.encode_dead_letter(letter))
    jsonschema.validate(encoded, schema_for("deadletter.v1"))
    assert encoded["raw_encoding"] == "base64" and encoded["offset"] == 42
    assert base64.b64decode(encoded["raw"]) == b"\x00\xffbinary"  # byte for byte, for a replay after a fix
    assert (encoded["source_topic"], encoded["partition"], encoded["reason"]) == ("bank.transfers.v1", 3,
                                                                                 "malformed_json")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32"])
@pytest.mark.parametrize("depth", [9, 2000])
def test_nesting_is_counted_in_every_encoding_the_decoders_read(encoding: str, depth: int) -> None:
    """U+2200 has a 0x22 (quote) byte in UTF-16: a byte scan took the nesting for a string."""
    payload = ('{"n": "\u2200", "x": ' + "[" * depth + "]" * depth + "}").encode(encoding)
    for decode in (codec.decode_transfer, codec.decode_telecom, codec.decode_registry, codec.decode_report,
                   codec.decode_ack, codec.decode_appeal):
        result = decode(payload, NOW_MS)  # raised RecursionError at depth 2000
        assert isinstance(result, Rejection) and result.reason == "too_deep", (decode.__name__, result)


def test_a_recursion_error_while_parsing_is_a_rejection() -> None:
    """Parsing a valid 8-deep document on a nearly exhausted stack (a worker's is deeper than a
    test's): whatever the headroom, the decoder answers, and where parsing ran out, too_deep."""
    import sys

    payload = b'{"x": [[[[[[[1.5]]]]]]], "bank": "SCB"}'  # a float: the recursive stdlib parser reads it
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit, reasons = sys.getrecursionlimit(), set()
    try:
        for headroom in range(12, 40):
            sys.setrecursionlimit(depth + headroom)
            result = codec.decode_registry(payload, NOW_MS)
            reasons.add(result.reason if isinstance(result, Rejection) else "accepted")
    finally:
        sys.setrecursionlimit(limit)
    assert "too_deep" in reasons and "missing_field" in reasons, reasons


AMOUNTS = ("1500.00", "0.5", "7", "0.01", "๑๒๓", "１２３", "1_000", "1e3", "+5.00", " 5.00", "5.00 ", "5.", ".5",
           "0.010", "12.345", "-5.00", "NaN", "Infinity", "0x10", "1,000.00")


@pytest.mark.parametrize("amount", AMOUNTS)
def test_amount_strings_are_accepted_exactly_as_the_schema_accepts_them(amount: str) -> None:
    msg = make_transfer(amount=amount)
    schema_ok = jsonschema.Draft202012Validator(schema_for("bank.transfers.v1")).is_valid(msg)
    result = codec.decode_transfer(raw(msg), NOW_MS)
    full = codec._decode(raw(msg), NOW_MS, codec._transfer)  # without the fast path
    assert isinstance(result, Transfer) == isinstance(full, Transfer) == schema_ok, (result, full)
    expected = "non_positive_amount" if amount.startswith("-") else "bad_amount"  # well formed, but negative
    assert schema_ok or result.reason == full.reason == expected


@pytest.mark.parametrize("amount", [0.07, 1.15, 0.29, 45000.1, 1500])
def test_the_schema_takes_every_number_with_two_decimals(amount: float) -> None:
    """``multipleOf: 0.01`` refused these in binary floating point (0.07 / 0.01 = 7.000000000000001)."""
    jsonschema.validate(make_transfer(amount=amount), schema_for("bank.transfers.v1"))
    assert isinstance(codec.decode_transfer(raw(make_transfer(amount=amount)), NOW_MS), Transfer)


@pytest.mark.parametrize("ts", ["2026-11-01 07:00:00+07:00", "20261101T070000+0700", "2026-W44-7T07:00+07:00",
                                "2026-11-01T07+07:00", "2026-11-01T07:00+07:00", "2026-11-01T07:00:00+0700",
                                "2026-11-01T07:00:00,5+07:00", "2026-305T07:00:00+07:00", "2026-11-01T07:00:00+07"])
def test_times_must_be_rfc_3339(ts: str) -> None:
    for decode in (codec.decode_transfer, lambda payload, now: codec._decode(payload, now, codec._transfer)):
        result = decode(raw(make_transfer(ts=ts)), NOW_MS)
        assert isinstance(result, Rejection) and result.reason == "bad_timestamp", result


@pytest.mark.parametrize("ts", ["2026-11-01T07:00:00+07:00", "2026-11-01t00:00:00z", "2026-11-01T00:00:00.000Z"])
def test_rfc_3339_spellings_are_read(ts: str) -> None:
    result = codec.decode_transfer(raw(make_transfer(ts=ts)), NOW_MS)
    assert isinstance(result, Transfer) and result.ts_ms == T0_MS


@pytest.mark.parametrize(("decode", "overrides", "reason"), [
    (codec.decode_ack, {"status": "lost"}, "unknown_status"),
    (codec.decode_ack, {"request_id": "x"}, "bad_request_id"),
    (codec.decode_appeal, {"outcome": "maybe"}, "unknown_outcome"),
    (codec.decode_appeal, {"decided_by": "judge"}, "unknown_decider"),
    (codec.decode_appeal, {"outcome": "police_extension", "police_complaint_ref": "p-1"}, "not_police"),
])
def test_answer_and_appeal_reasons_are_known_and_documented(decode, overrides: dict, reason: str) -> None:
    base = {"request_id": "a" * 32, "ts": T0_MS, "bank": "SCB", "account": "9", "status": "rejected",
            "appeal_id": "ap-1", "outcome": "filed", "decided_by": "owner"}
    result = decode(raw({**base, **overrides}), NOW_MS)
    assert isinstance(result, Rejection) and result.reason == reason
    assert reason in codec.REJECTION_REASONS


def test_every_rejection_reason_is_in_the_limits_table() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "reliability.md").read_text()
    assert {r for r in codec.REJECTION_REASONS if f"`{r}`" not in doc} == set()
