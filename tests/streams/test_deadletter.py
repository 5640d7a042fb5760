"""Dead letters: built for any rejected input without raising, and with no identifier's digits in clear."""

from __future__ import annotations

import base64
import json
import re
import unicodedata

import jsonschema
import pytest
from factories import NOW_MS, make_registry, make_transfer

from streams import codec
from streams.contracts import DeadLetter, Rejection
from streams.deadletter import dead_letter, redact
from streams.schemas_path import schema_for
from topologies.agents.ingest import dead_letter_bytes

SECRETS = ("0812345678", "812345678", "1100700123456")
DECODERS = {"bank.transfers.v1": codec.decode_transfer, "registry.accounts.v1": codec.decode_registry,
            "freeze.acks.v1": codec.decode_ack}


def _digits_in_clear(letter: DeadLetter) -> list[str]:
    """The secrets whose digits (any script) are still in the raw or the detail, separators dropped."""
    raw = letter.raw if letter.raw_encoding == "utf-8" else base64.b64decode(letter.raw).decode("latin-1")
    digits = "".join(str(unicodedata.digit(c)) if c.isdecimal() else "" for c in raw.replace("\x00", "")
                     + "|" + letter.detail)
    return [s for s in SECRETS if s in digits]


@pytest.mark.parametrize("depth", [9, 600, 900, 20_000])
def test_nesting_rejected_as_too_deep_gets_a_dead_letter(depth: int) -> None:
    raw = b'{"x":' + b"[" * depth + b"]" * depth + b',"note":"0812345678"}'
    rejection = codec.decode_transfer(raw, NOW_MS)
    assert isinstance(rejection, Rejection) and rejection.reason == "too_deep"
    letter = dead_letter(raw, "bank.transfers.v1", 0, 1, rejection, NOW_MS)  # raised RecursionError from 600
    assert letter.reason == "too_deep" and "##########" in letter.raw and not _digits_in_clear(letter)


def test_redaction_masks_what_is_too_deep_to_walk() -> None:
    """Whatever the reason given, a document json.loads reads but redaction cannot recurse into."""
    raw = b'{"x":' + b"[" * 900 + b'"0812345678"' + b"]" * 900 + b"}"
    assert b"##########" in redact(raw)


def test_a_lone_surrogate_does_not_break_the_dead_letter() -> None:
    raw = json.dumps(make_transfer(amount="x", note="\ud800 0812345678", channel="\ud800")).encode()
    letter = dead_letter(raw, "bank.transfers.v1", 0, 1, codec.decode_transfer(raw, NOW_MS), NOW_MS)
    jsonschema.validate(json.loads(codec.encode_dead_letter(letter)), schema_for("deadletter.v1"))
    assert not _digits_in_clear(letter)


def test_the_ingest_agent_sends_a_minimal_dead_letter_if_building_one_fails() -> None:
    """A Rejection without a detail string breaks ``dead_letter``; the agent must still send one."""
    raw = b'{"note": "tel 081-234-5678", "id": "1100700123456"}'
    encoded = dead_letter_bytes(raw, "bank.transfers.v1", 2, 7, Rejection("bad_amount", None), NOW_MS)  # type: ignore[arg-type]
    letter = json.loads(encoded)
    jsonschema.validate(letter, schema_for("deadletter.v1"))
    assert (letter["reason"], letter["partition"], letter["offset"], letter["raw_encoding"]) == ("bad_amount", 2, 7,
                                                                                                "base64")
    assert re.sub(rb"\D", b"", base64.b64decode(letter["raw"])) == b""


T = make_transfer(src_msisdn=..., src_device_id=...)
LEAKS = {  # found by the audit: each kept a phone's or a national ID's digits
    "en-dash": ("bank.transfers.v1", json.dumps({**T, "amount": "x", "note": "victim 081–234–5678"},
                                                ensure_ascii=False).encode()),
    "slash, underscore": ("bank.transfers.v1",
                          json.dumps({**T, "amount": "x", "remark": "id 1/1007/00123/45/6 tel 081_234_5678"}).encode()),
    "malformed UTF-16": ("registry.accounts.v1", '{"bank":"KBANK","account":"1","msisdn":"0812345678",'
                         .encode("utf-16-le")),
    "UTF-16 cut at an odd byte": ("registry.accounts.v1", '{"msisdn":"0812345678",'.encode("utf-16-be")[:-1]),
    "Thai digits, malformed": ("bank.transfers.v1", '{"note": "โทร ๐๘๑-๒๓๔-๕๖๗๘"'.encode()),
    "enum field": ("bank.transfers.v1", json.dumps({**T, "channel": "0812345678"}).encode()),
    "bank field": ("registry.accounts.v1", json.dumps(make_registry(bank="081 234 5678")).encode()),
    "tab in a detail": ("freeze.acks.v1", json.dumps({"request_id": "a" * 32, "ts": NOW_MS, "bank": "SCB",
                                                      "account": "9", "status": "081\t234\t5678"}).encode()),
}


@pytest.mark.parametrize("case", sorted(LEAKS))
def test_dead_letters_hide_numbers_however_they_are_written(case: str) -> None:
    topic, raw = LEAKS[case]
    rejection = DECODERS[topic](raw, NOW_MS)
    assert isinstance(rejection, Rejection)
    assert not _digits_in_clear(dead_letter(raw, topic, 0, 1, rejection, NOW_MS)), case


def test_redaction_keeps_what_locates_the_problem() -> None:
    msg = make_transfer(amount="12.345", note="ref 2026-11-01", src_msisdn=..., src_device_id=...)
    assert json.loads(redact(json.dumps(msg).encode())) == msg
