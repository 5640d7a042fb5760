"""Pseudonyms: one per person however the number is spelled, and never under a guessable key."""

from __future__ import annotations

import json

import pytest
from factories import NOW_MS, make_registry, make_telecom

from streams import codec, privacy
from streams.contracts import RegistryLink, Rejection, TelecomEvent
from streams.deadletter import redact
from streams.privacy import PseudonymKeyError, pseudonymise, using_development_key

PHONES = ("0812345678", "081-234-5678", "+66 81-234-5678", "66812345678", "+66 081 234 5678", "+660812345678",
          "0066812345678", "0066 81 234 5678", "812345678", "81-234-5678")


@pytest.mark.parametrize("phone", PHONES)
def test_every_spelling_of_a_thai_number_has_one_pseudonym(phone: str) -> None:
    reg = codec.decode_registry(json.dumps(make_registry(msisdn=phone)).encode(), NOW_MS)
    tel = codec.decode_telecom(json.dumps(make_telecom(msisdn_a=phone)).encode(), NOW_MS)  # the fast path
    assert isinstance(reg, RegistryLink) and isinstance(tel, TelecomEvent)
    assert reg.msisdn_hash == tel.msisdn_a_hash == pseudonymise("ph", "66812345678")
    assert json.loads(redact(json.dumps({"msisdn": phone}).encode()))["msisdn"] == reg.msisdn_hash


@pytest.mark.parametrize("national_id", ["１１００７００１２３４５６", "๑๑๐๐๗๐๐๑๒๓๔๕๖", "-1100700123456"])
def test_national_ids_outside_the_schema_are_rejected_not_hashed_apart(national_id: str) -> None:
    result = codec.decode_registry(json.dumps(make_registry(national_id=national_id)).encode(), NOW_MS)
    assert isinstance(result, Rejection) and result.reason == "bad_national_id"


@pytest.mark.parametrize("imei", ["352099001761481", "35-209900-176148-1", "35 209900 176148 1", " 352099001761481 ",
                                  "３５２０９９００１７６１４８１"])
def test_every_spelling_of_an_imei_has_one_pseudonym(imei: str) -> None:
    raw = json.dumps(make_telecom(kind="sim_swap", imei=imei)).encode()
    for event in (codec.decode_telecom(raw, NOW_MS), codec._decode(raw, NOW_MS, codec._telecom)):  # fast, full
        assert isinstance(event, TelecomEvent) and event.imei_hash == pseudonymise("imei", "352099001761481")


@pytest.mark.parametrize("key", ["", "short"])
def test_an_empty_or_short_key_is_refused_at_first_use(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("MULEGUARD_PSEUDONYM_KEY", key)
    monkeypatch.setattr(privacy, "_KEY", None)  # as in a fresh process
    with pytest.raises(PseudonymKeyError, match="at least 16"):
        pseudonymise("ph", "66812345678")
    with pytest.raises(PseudonymKeyError):  # a configuration error, not a dead letter per message
        codec.decode_registry(json.dumps(make_registry()).encode(), NOW_MS)


def test_using_development_key_says_whether_dev_key_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MULEGUARD_PSEUDONYM_KEY", raising=False)
    monkeypatch.setattr(privacy, "_KEY", None)
    assert using_development_key()
    monkeypatch.setenv("MULEGUARD_PSEUDONYM_KEY", "a-production-key-of-32-characters")
    monkeypatch.setattr(privacy, "_KEY", None)
    assert not using_development_key()
    assert pseudonymise("ph", "66812345678") != privacy._digest("ph", "66812345678", privacy.DEV_KEY.encode())
