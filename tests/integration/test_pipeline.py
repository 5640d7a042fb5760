"""End to end against a real broker and a real worker process: freezes, dead letters, parity."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka import Producer
from kafka_helpers import consume_all, decoded, produce, settle_exact

from features.engine import ENGINE_VERSION, FEATURE_NAMES
from features.replay import raw_records
from features.signals import TransferIn
from models.labels import read_labels
from models.replay import replay_decisions
from models.scorer import Scorer
from streams.codec import freeze_request_to_json
from streams.topics import (
    ACCOUNT_SIGNALS,
    CASE_UPDATES,
    DEADLETTER,
    FEATURE_LOG,
    FREEZE_REQUESTS,
    IDENTITY_SIGNALS,
    INPUT_TOPICS,
    REGISTRY,
    TRANSFERS,
)

pytestmark = pytest.mark.integration


def _key_of(topic: str, line: bytes) -> bytes:
    obj = json.loads(line)
    if topic == TRANSFERS.name:
        return f"{obj['src_bank']}:{obj['src_account']}".encode()
    return str(obj.get("msisdn_a") or f"{obj.get('bank')}:{obj.get('account')}").encode()


def test_simulated_traffic_is_frozen_live_exactly_as_replay_decides(
    module_broker, worker, model_dir: Path, parity_world: Path,
) -> None:
    """Each event is sent once the worker has settled the previous one, so live and offline see
    the same order; then both must emit the same freeze requests, byte for byte in substance."""
    producer = Producer({"bootstrap.servers": module_broker.bootstrap, "linger.ms": 0,
                         "partitioner": "murmur2_random"})
    records = list(raw_records(parity_world))
    # The opening registry snapshot (every account's links, before any other event) commutes:
    # an identity's counts reach each account in order whatever order the links came in.
    opening = next(i for i, (topic, _) in enumerate(records) if topic != REGISTRY.name)
    for topic, line in records[:opening]:
        producer.produce(topic, line, key=_key_of(topic, line))
    producer.flush(30)
    settle_exact(worker, opening, timeout_s=120)
    for count, (topic, line) in enumerate(records[opening:], start=opening + 1):
        producer.produce(topic, line, key=_key_of(topic, line))
        producer.flush(10)
        settle_exact(worker, count)
    # Holds only: the simulated world is over a week old (calibration.LIVE_WORLD_AGE_DAYS), so
    # the worker clock releases its holds at once (expiry), which replay, having no clock, does not model.
    live = {r["request_id"]: r for r in decoded(consume_all(module_broker.bootstrap, FREEZE_REQUESTS.name))
            if r["action"] == "hold"}

    offline, _ = replay_decisions(parity_world, Scorer(model_dir).load())
    expected = {r.request_id: freeze_request_to_json(r) for r in offline.holds}
    assert live, "the worker emitted no freeze request"
    assert {r["reason"] for r in live.values()} == {"model", "trace"}
    differ = [(r["bank"], r["account"], r["reason"], r["trigger_event_id"], r["case_id"], r["hop"], side)
              for side, group in (("live", live), ("offline", expected))
              for rid, r in group.items() if rid not in (expected if side == "live" else live)]
    assert not differ, differ
    for request_id, request in live.items():
        mine = {k: v for k, v in request.items() if k != "emitted_ts"}
        assert mine == {k: v for k, v in expected[request_id].items() if k != "emitted_ts"}
    labels = read_labels(parity_world / "labels.csv")
    _assert_same_vectors(module_broker, parity_world, model_dir)
    mules_held = [r for r in live.values() if labels[f"{r['bank']}:{r['account']}"].is_mule]
    assert len(mules_held) >= len(live) * 0.8, "most holds should be true mules"


def _assert_same_vectors(broker, world: Path, model_dir: Path) -> None:  # noqa: ANN001
    """Every scored event: the live feature vector equals the offline replay's, value for value."""
    offline: dict[tuple[str, str, str], list[float | None]] = {}

    def collect(key: str, signal: object, vector: np.ndarray) -> None:
        direction = "in" if isinstance(signal, TransferIn) else "out"
        offline[(key, signal.transfer_id, direction)] = [  # type: ignore[attr-defined]
            None if math.isnan(v) else v for v in vector.tolist()]

    scorer = Scorer(model_dir).load()
    replay_decisions(world, scorer, on_vector=collect)
    live = {(r["account"], r["transfer_id"], r["direction"]): r
            for r in decoded(consume_all(broker.bootstrap, FEATURE_LOG.name))}
    assert len(offline) > 100, "the world should score many events"
    assert set(live) == set(offline), (sorted(set(live) ^ set(offline))[:5], len(live), len(offline))
    version = scorer.version
    differ = []
    for event, record in live.items():
        assert list(record["features"]) == list(FEATURE_NAMES)
        assert record["engine_version"] == ENGINE_VERSION and record["model_version"] == version
        if list(record["features"].values()) != offline[event]:
            differ.append((event, {n: (a, b) for n, a, b in zip(FEATURE_NAMES, record["features"].values(),
                                                                 offline[event], strict=True) if a != b}))
    assert not differ, (len(differ), differ[:3])


def test_malformed_message_goes_to_dead_letter_and_worker_keeps_going(module_broker, worker) -> None:
    before = worker.metric("muleguard_events_consumed_total", topic=TRANSFERS.name)
    good = json.dumps({
        "transfer_id": "after-garbage", "ts": int(time.time() * 1000), "src_bank": "KTB", "src_account": "1",
        "dst_bank": "BBL", "dst_account": "2", "amount": "10.00", "channel": "mobile"}).encode()
    produce(module_broker.bootstrap, [
        (TRANSFERS.name, b"k", b"{this is not json"),
        (TRANSFERS.name, b"k", json.dumps({"transfer_id": "neg", "amount": -1}).encode()),
        (TRANSFERS.name, b"k", good),
    ])
    letters = decoded(consume_all(module_broker.bootstrap, DEADLETTER.name,
                                  until=lambda v: len(v) >= 2, timeout_s=60))
    reasons = {letter["reason"] for letter in letters}
    assert "malformed_json" in reasons
    assert reasons & {"missing_field", "non_positive_amount"}
    assert any(letter["raw"] == "{this is not json" for letter in letters)
    deadline = time.monotonic() + 30
    while worker.metric("muleguard_events_consumed_total", topic=TRANSFERS.name) < before + 3:
        assert time.monotonic() < deadline, "worker stopped consuming after bad input"
        time.sleep(0.2)
    assert worker.alive()
    assert worker.metric("muleguard_events_rejected_total", topic=TRANSFERS.name, reason="malformed_json") >= 1


def test_a_transfer_sent_again_as_a_new_message_is_dead_lettered_not_counted_twice(module_broker, worker) -> None:
    transfer = json.dumps({
        "transfer_id": "sent-twice", "ts": int(time.time() * 1000), "src_bank": "KTB", "src_account": "dup-1",
        "dst_bank": "BBL", "dst_account": "dup-2", "amount": "2500.00", "channel": "mobile"}).encode()
    produce(module_broker.bootstrap, [(TRANSFERS.name, b"KTB:dup-1", transfer)] * 2)
    letters = decoded(consume_all(module_broker.bootstrap, DEADLETTER.name,
                                  until=lambda v: any(b"duplicate_id" in x for x in v), timeout_s=60))
    [letter] = [x for x in letters if x["reason"] == "duplicate_id"]
    assert "sent-twice" in letter["raw"] and "sent-twice" in letter["detail"]
    assert worker.metric("muleguard_events_rejected_total", reason="duplicate_id") == 1


def test_an_internal_signal_the_worker_cannot_apply_is_dead_lettered_and_work_goes_on(module_broker, worker) -> None:
    """A signal this version cannot read (from a newer one, or a bug) must not end the agent:
    the runtime acks a list when its agent leaves the loop, so the rest of the list would be
    committed unprocessed. It is dead-lettered with the error, and the agents go on."""
    before = worker.metric("muleguard_events_consumed_total", topic=ACCOUNT_SIGNALS.name)
    produce(module_broker.bootstrap, [(ACCOUNT_SIGNALS.name, b"KTB:newer-1", b'["?",1,2,"from a newer worker"]'),
                                      (IDENTITY_SIGNALS.name, b"ph_newer", b'["l",1,2]'),
                                      (CASE_UPDATES.name, b"case-newer", b'{"not": "a signal"}')])
    letters = decoded(consume_all(module_broker.bootstrap, DEADLETTER.name, timeout_s=60,
                                  until=lambda v: sum(b"processing_error" in x for x in v) >= 3))
    failed = {x["source_topic"]: x for x in letters if x["reason"] == "processing_error"}
    assert set(failed) == {ACCOUNT_SIGNALS.name, IDENTITY_SIGNALS.name, CASE_UPDATES.name}
    assert "ValueError" in failed[ACCOUNT_SIGNALS.name]["detail"]
    assert worker.metric("muleguard_events_rejected_total", topic=ACCOUNT_SIGNALS.name,
                         reason="processing_error") == 1
    transfer = json.dumps({
        "transfer_id": "after-newer", "ts": int(time.time() * 1000), "src_bank": "KTB", "src_account": "newer-1",
        "dst_bank": "BBL", "dst_account": "newer-2", "amount": "100.00", "channel": "mobile"}).encode()
    produce(module_broker.bootstrap, [(TRANSFERS.name, b"KTB:newer-1", transfer)])
    deadline = time.monotonic() + 30
    while worker.metric("muleguard_events_consumed_total", topic=ACCOUNT_SIGNALS.name) < before + 3:
        assert time.monotonic() < deadline, "the accounts agent stopped consuming"
        time.sleep(0.2)
    assert worker.alive()


def test_worker_reports_lag_per_partition_falling_to_zero_and_its_recovery_time(module_broker, worker) -> None:
    """After a burst the lag gauge covers every partition of every input topic and returns to 0."""
    burst = [(TRANSFERS.name, str(i).encode(), b"{not json") for i in range(400)]
    produce(module_broker.bootstrap, burst)
    deadline = time.monotonic() + 120
    while True:
        text = worker.metrics()
        lag = {line.split("{", 1)[1].split("}", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in text.splitlines() if line.startswith("muleguard_consumer_lag_messages{")}
        per_topic = {spec.name: sum(f'topic="{spec.name}"' in k for k in lag) for spec in INPUT_TOPICS}
        if per_topic == {spec.name: spec.partitions for spec in INPUT_TOPICS} and not any(lag.values()):
            break
        assert time.monotonic() < deadline, f"lag did not fall to zero: {lag}"
        time.sleep(1)
    assert worker.metric("muleguard_recovery_seconds") > 0
