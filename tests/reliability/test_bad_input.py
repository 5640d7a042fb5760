"""Every kind of bad input on every input topic, in the same partitions as good traffic: each bad
message lands in ``deadletter.v1`` with its reason (and in the rejection metric), without any
identifier in clear, and the good traffic around it gives exactly the uninterrupted outcome.
A poison message (valid JSON, impossible content) never blocks its partition."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from reliability_helpers import Message, Producer, Scenario, check_outcome, read_topic, settle_group

from streams.codec import MAX_EVENT_AGE_MS
from streams.topics import DEADLETTER, REGISTRY, TELECOM, TRANSFERS, VICTIM_REPORTS

pytestmark = pytest.mark.integration
GROUP = "muleguard"
DAY_MS = 86_400_000
PHONE, NID = "0891234567", "3100600012345"  # raw identifiers carried by bad messages


def _bad(now_ms: int, good: dict[str, dict]) -> list[tuple[str, bytes, str]]:
    """(topic, raw value, expected reason), each built from a good message of that topic."""

    def edit(topic: str, **changes: object) -> bytes:
        value = {**good[topic], **changes}
        return json.dumps({k: v for k, v in value.items() if v is not ...}).encode()

    t, tel, reg, rep = TRANSFERS.name, TELECOM.name, REGISTRY.name, VICTIM_REPORTS.name
    pad = "x" * 70_000
    cases = [
        (t, b"{not json", "malformed_json"),
        (t, b"[1, 2]", "not_an_object"),
        (t, b"[" * 200 + b"]" * 200, "too_deep"),
        (t, edit(t, transfer_id=...), "missing_field"),
        (t, edit(t, transfer_id=7), "wrong_type"),
        (t, edit(t, transfer_id="t" * 200), "too_long"),
        (t, edit(t, amount="-5.00"), "non_positive_amount"),
        (t, edit(t, amount=0), "non_positive_amount"),
        (t, edit(t, amount="2000000000.00"), "absurd_amount"),
        (t, edit(t, amount="1.234"), "bad_amount"),
        (t, edit(t, src_bank="XBANK"), "unknown_bank"),
        (t, edit(t, channel="pigeon"), "unknown_channel"),
        (t, edit(t, ts=now_ms + DAY_MS), "timestamp_in_future"),
        (t, edit(t, ts=now_ms - MAX_EVENT_AGE_MS - DAY_MS), "timestamp_too_old"),
        (t, edit(t, ts="2026-11-01T00:00:00"), "bad_timestamp"),
        (t, edit(t, ts=1000), "timestamp_out_of_range"),
        (t, edit(t, src_msisdn=f"call {PHONE}"), "bad_msisdn"),
        (t, edit(t, dst_bank=good[t]["src_bank"], dst_account=good[t]["src_account"]), "self_transfer"),
        (t, edit(t, note=pad), "oversized"),
        (tel, edit(tel, kind="fax"), "unknown_kind"),
        (tel, edit(tel, msisdn_b=...), "missing_field"),
        (tel, edit(tel, msisdn_a="12"), "bad_msisdn"),
        (tel, edit(tel, duration_s=-1), "wrong_type"),
        (tel, b'{"msisdn_a": "' + PHONE.encode() + b'", oops', "malformed_json"),
        (tel, edit(tel, ts=now_ms + DAY_MS), "timestamp_in_future"),
        (tel, edit(tel, note=pad), "oversized"),
        (reg, edit(reg, national_id=NID[:12]), "bad_national_id"),
        (reg, edit(reg, bank="XBANK", msisdn=PHONE, national_id=NID), "unknown_bank"),
        (reg, edit(reg, ts=now_ms - MAX_EVENT_AGE_MS - DAY_MS, national_id=NID), "timestamp_too_old"),
        (reg, edit(reg, account=...), "missing_field"),
        (reg, b'{"national_id": "' + NID.encode() + b'", "msisdn": ' + PHONE.encode(), "malformed_json"),
        (reg, edit(reg, note=pad), "oversized"),
        (rep, edit(rep, transfer_ids=[]), "wrong_type"),
        (rep, edit(rep, channel="carrier_pigeon"), "unknown_channel"),
        (rep, edit(rep, victim_bank="XBANK"), "unknown_bank"),
        (rep, edit(rep, ts=now_ms + DAY_MS), "timestamp_in_future"),
        (rep, edit(rep, report_id=...), "missing_field"),
        (rep, b"\xff\xfe not even text", "malformed_json"),
        (rep, edit(rep, note=pad), "oversized"),
    ]
    return cases


def _interleave(phase: list[Message], bad: list[tuple[str, bytes, str]], topic: str) -> list[Message]:
    """Each bad message right before a good one of the same key: same partition, poison first."""
    out = list(phase)
    mine = [b for b in bad if b[0] == topic]
    for i, (_, raw, _) in enumerate(mine):
        at = (i * len(phase)) // max(len(mine), 1)
        key = phase[at][1]
        out.insert(at + i, (topic, key, raw))
    return out


def _telecom(now_ms: int) -> list[Message]:
    """Good calls between phones no account is linked to: processed, and no account changes."""
    calls = []
    for i in range(5):
        value = {"event_id": f"call-{i}", "ts": now_ms - DAY_MS // 4 + i, "kind": "call",
                 "msisdn_a": f"06{i:08d}", "msisdn_b": f"06{i + 50:08d}", "duration_s": 60}
        calls.append((TELECOM.name, value["msisdn_a"].encode(), json.dumps(value).encode()))
    return calls


def test_bad_input_is_dead_lettered_with_reasons_and_never_blocks(fault_broker, workers, scenario: Scenario,
                                                                   expected) -> None:
    bootstrap = fault_broker.bootstrap
    now_ms = int(time.time() * 1000)
    telecom = _telecom(now_ms)
    good = {topic: json.loads(next(v for t, _, v in phase if t == topic))
            for topic, phase in ((TRANSFERS.name, scenario.transfers), (REGISTRY.name, scenario.registry),
                                 (VICTIM_REPORTS.name, scenario.reports), (TELECOM.name, telecom))}
    bad = _bad(now_ms, good)
    assert {topic for topic, _, _ in bad} == {TRANSFERS.name, TELECOM.name, REGISTRY.name, VICTIM_REPORTS.name}

    worker = workers.start("w1")
    producer = Producer(bootstrap, **{"message.max.bytes": 1_000_000})
    phases = [
        _interleave(scenario.registry, bad, REGISTRY.name) + _interleave(telecom, bad, TELECOM.name),
        _interleave(scenario.transfers, bad, TRANSFERS.name),
        scenario.forwards,
        _interleave(scenario.reports, bad, VICTIM_REPORTS.name),
    ]
    for phase in phases:
        producer.send(phase)
        settle_group(bootstrap, GROUP, dict(producer.ends), alive=worker.alive)

    letters = [json.loads(v) for _, v in read_topic(bootstrap, DEADLETTER.name) if v]
    want = Counter((topic, reason) for topic, _, reason in bad)
    got = Counter((letter["source_topic"], letter["reason"]) for letter in letters)
    assert got == want, {"missing": want - got, "unexpected": got - want}
    for (topic, reason), count in want.items():
        assert worker.metric("muleguard_events_rejected_total", topic=topic, reason=reason) == count, (topic, reason)
    for letter in letters:
        for identifier in (PHONE, NID, PHONE[1:], NID[:12]):
            assert identifier not in letter["raw"] + letter["detail"], letter
    assert all(letter["offset"] is not None and letter["partition"] is not None for letter in letters)
    assert worker.metric("muleguard_signals_sent_total", topic="muleguard.identity-signals.v1") >= len(telecom)

    check_outcome(bootstrap, GROUP, expected)  # the good traffic, exactly as if the bad were never sent
