"""Every kind of bad input on every input topic, in the same partitions as good traffic: each bad
message lands in ``deadletter.v1`` with its reason (and in the rejection metric), without any
identifier in clear, and the good traffic around it gives exactly the uninterrupted outcome.
A poison message (valid JSON, impossible content) never blocks its partition."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka_helpers import read_to_end
from reliability_helpers import (
    Message,
    Producer,
    Scenario,
    Workers,
    check_outcome,
    settle_group,
    topics_of,
)

from streams.codec import MAX_EVENT_AGE_MS
from streams.topics import DEADLETTER, REGISTRY, TELECOM, TRANSFERS, VICTIM_REPORTS
from topologies.broker import EmbeddedBroker

pytestmark = pytest.mark.integration
GROUP = "muleguard"
DAY_MS = 86_400_000
PHONE, NID = "0891234567", "3100600012345"  # raw identifiers carried by bad messages


def _bad(now_ms: int, good: dict[str, dict]) -> list[tuple[str, bytes | None, str]]:
    """(topic, raw value, expected reason), each built from a good message of that topic."""

    def edit(topic: str, **changes: object) -> bytes:
        value = {**good[topic], **changes}
        return json.dumps({k: v for k, v in value.items() if v is not ...}).encode()

    t, tel, reg, rep = TRANSFERS.name, TELECOM.name, REGISTRY.name, VICTIM_REPORTS.name
    pad = "x" * 70_000
    cases = [
        (t, b"{not json", "malformed_json"),
        (t, None, "malformed_json"),  # a null value (tombstone)
        (tel, b"", "malformed_json"),
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


def _interleave(phase: list[Message], bad: list[tuple[str, bytes | None, str]], topic: str) -> list[Message]:
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


@dataclass
class Run:
    bootstrap: str
    worker: object  # RunningWorker, stopped once the tests of this module are done
    state_dir: Path
    scenario: Scenario
    bad: list[tuple[str, bytes | None, str]]
    telecom: list[Message]


@pytest.fixture(scope="module")
def run(model_dir: Path, scenario: Scenario, tmp_path_factory) -> Iterator[Run]:
    """One worker fed the whole scenario with every bad message interleaved, phase by phase."""
    root = tmp_path_factory.mktemp("bad-input")
    now_ms = int(time.time() * 1000)
    telecom = _telecom(now_ms)
    good = {topic: json.loads(next(v for t, _, v in phase if t == topic))
            for topic, phase in ((TRANSFERS.name, scenario.transfers), (REGISTRY.name, scenario.registry),
                                 (VICTIM_REPORTS.name, scenario.reports), (TELECOM.name, telecom))}
    bad = _bad(now_ms, good)
    with EmbeddedBroker(log_path=root / "broker.log") as broker:
        workers = Workers(broker, model_dir, root)
        try:
            worker = workers.start("w1")
            producer = Producer(broker.bootstrap, **{"message.max.bytes": 1_000_000})
            phases = [
                _interleave(scenario.registry, bad, REGISTRY.name) + _interleave(telecom, bad, TELECOM.name),
                _interleave(scenario.transfers, bad, TRANSFERS.name),
                scenario.forwards,
                _interleave(scenario.reports, bad, VICTIM_REPORTS.name),
            ]
            for phase in phases:
                producer.send(phase)
                settle_group(broker.bootstrap, GROUP, dict(producer.ends), alive=worker.alive)
            yield Run(broker.bootstrap, worker, root / "w1" / "state", scenario, bad, telecom)
        finally:
            workers.stop_all()


def test_every_input_topic_gets_every_kind_of_bad_message(run: Run) -> None:
    assert {topic for topic, _, _ in run.bad} == {TRANSFERS.name, TELECOM.name, REGISTRY.name, VICTIM_REPORTS.name}
    assert len({reason for _, _, reason in run.bad}) >= 19


def test_each_bad_message_is_dead_lettered_with_its_reason_and_counted(run: Run) -> None:
    letters = [json.loads(v) for _, v in read_to_end(run.bootstrap, DEADLETTER.name) if v]
    want = Counter((topic, reason) for topic, _, reason in run.bad)
    got = Counter((letter["source_topic"], letter["reason"]) for letter in letters)
    assert got == want, {"missing": want - got, "unexpected": got - want}
    for (topic, reason), count in want.items():
        assert run.worker.metric("muleguard_events_rejected_total", topic=topic, reason=reason) == count, (
            topic, reason)
    assert all(letter["offset"] is not None and letter["partition"] is not None for letter in letters)


def test_good_traffic_around_bad_messages_is_processed_exactly(run: Run, expected) -> None:
    """Poison first in its partition, then good events: the outcome is the clean run's."""
    assert run.worker.metric("muleguard_signals_sent_total", topic="muleguard.identity-signals.v1") >= len(
        run.telecom)
    check_outcome(run.bootstrap, GROUP, expected)


def _spellings(scenario: Scenario, telecom: list[Message]) -> set[bytes]:
    """Every raw phone number in the input as banks may write it, and every national ID."""
    out: set[bytes] = {NID.encode(), PHONE.encode(), ("66" + PHONE[1:]).encode()}
    calls = [json.loads(v) for _, _, v in telecom]
    for phone in scenario.phones + [c[k] for c in calls for k in ("msisdn_a", "msisdn_b")]:
        out |= {phone.encode(), ("66" + phone[1:]).encode()}
    return out | {nid.encode() for nid in scenario.national_ids}


def test_no_raw_identifier_in_any_output_state_log_or_metric(run: Run) -> None:
    """Phones and national IDs of the input appear nowhere the worker writes: output, dead-letter,
    internal and changelog topics, RocksDB state (files and decoded values), its log, its metrics."""
    from rocksdict import AccessType, Rdict

    secrets = _spellings(run.scenario, run.telecom)
    assert len(secrets) > 2000
    pattern = re.compile(b"|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))
    found: list[str] = []

    def scan(where: str, data: bytes | None) -> None:
        if data and (hit := pattern.search(data)):
            found.append(f"{where}: {hit.group().decode()}")

    inputs = {TRANSFERS.name, TELECOM.name, REGISTRY.name, VICTIM_REPORTS.name}
    topics = {t: n for t, n in topics_of(run.bootstrap).items() if t not in inputs and not t.startswith("__")}
    assert {"freeze.requests.v1", "deadletter.v1", "muleguard.account-signals.v1"} <= set(topics)
    assert any(t.endswith("-changelog") for t in topics)
    for topic, partitions in topics.items():
        for key, value in read_to_end(run.bootstrap, topic, partitions):
            scan(topic, key)
            scan(topic, value)
    files = [f for f in run.state_dir.rglob("*") if f.is_file()]
    assert any(f.suffix == ".sst" or f.suffix == ".log" for f in files), "the worker wrote no RocksDB files"
    for f in files:
        scan(str(f.relative_to(run.state_dir)), f.read_bytes())
    for db_dir in {f.parent for f in files if f.name == "CURRENT"}:
        db = Rdict(str(db_dir), access_type=AccessType.read_only(), options=None)
        try:
            for key, value in db.items():
                scan(db_dir.name, bytes(key) + b"|" + bytes(value))
        finally:
            db.close()
    scan("worker log", run.worker.log.read_bytes())
    scan("/metrics", run.worker.metrics().encode())
    assert not found, found[:10]
