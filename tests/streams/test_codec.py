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
