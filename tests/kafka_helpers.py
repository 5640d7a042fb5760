"""Helpers for tests that talk to a real broker and a real worker process."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from streams import topics


class RunningWorker:
    def __init__(self, process, web_port: int, log: Path) -> None:
        self.process, self.web_port, self.log = process, web_port, log

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics", timeout=5) as resp:
            return resp.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith("#") or line.split("{", 1)[0].split(" ", 1)[0] != name:
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def alive(self) -> bool:
        return self.process.poll() is None


def pace(started: float, sent: int, rate: float | None) -> None:
    """Sleep until message number ``sent`` is due at ``rate`` per second from ``started`` (None: now)."""
    if rate:
        delay = started + sent / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def produce(bootstrap: str, messages: list[tuple[str, bytes, bytes]], rate: float | None = None) -> None:
    """Send (topic, key, value) in order, optionally paced at ``rate`` messages per second."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "partitioner": "murmur2_random"})
    started = time.monotonic()
    for i, (topic, key, value) in enumerate(messages):
        pace(started, i, rate)
        producer.produce(topic, value, key=key)
        producer.poll(0)
    producer.flush(30)


def messages_to_end(bootstrap: str, partitions: list[tuple[str, int]], timeout_s: float = 120.0) -> Iterator:
    """Every message of ``partitions`` (topic, partition) from the start to the end of each.

    The end is the consumer's partition EOF, not a pause in the news: a loaded broker can
    pause for seconds, and an idle gap then ends a read early (CI met that flake twice)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{time.time_ns()}",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([TopicPartition(t, p, 0) for t, p in partitions])
    pending, deadline = set(partitions), time.monotonic() + timeout_s
    try:
        while pending:
            assert time.monotonic() < deadline, f"could not read to the end of {sorted(pending)}"
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard((message.topic(), message.partition()))
                continue
            yield message
    finally:
        consumer.close()


def read_to_end(bootstrap: str, topic: str, partitions: int | None = None,
                timeout_s: float = 120.0) -> list[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of a topic from the start to the end of each partition."""
    count = partitions or topics.BY_NAME[topic].partitions
    return [(m.key(), m.value()) for m in messages_to_end(bootstrap, [(topic, p) for p in range(count)], timeout_s)]


def consume_all(bootstrap: str, topic: str, timeout_s: float = 120.0, until=None) -> list[bytes]:  # noqa: ANN001
    """The values on ``topic``: to the end of every partition, or, given ``until``, from the
    start until ``until(values)`` holds (a wait for output still on its way) or time runs out."""
    from confluent_kafka import Consumer, TopicPartition

    if until is None:
        return [value for _, value in read_to_end(bootstrap, topic, timeout_s=timeout_s) if value is not None]
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{time.time_ns()}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(topics.BY_NAME[topic].partitions)])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not until(values):
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            values.append(message.value())
    finally:
        consumer.close()
    return values


def decoded(values: list[bytes]) -> list[dict]:
    return [json.loads(v) for v in values]


INPUT_TOPICS = tuple(t.name for t in topics.INPUT_TOPICS)
SIGNAL_TOPICS = (topics.ACCOUNT_SIGNALS.name, topics.IDENTITY_SIGNALS.name)


def settle(worker: RunningWorker, inputs: int, quiet_s: float = 3.0, timeout_s: float = 240.0) -> None:
    """Wait until the worker consumed ``inputs`` input messages and its internal topics went quiet."""
    deadline = time.monotonic() + timeout_s
    while sum(worker.metric("muleguard_events_consumed_total", topic=t) for t in INPUT_TOPICS) < inputs:
        assert time.monotonic() < deadline, "worker did not consume all input in time"
        assert worker.alive(), "worker died"
        time.sleep(0.5)
    last, since = -1.0, time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, "worker did not settle in time"
        now = sum(worker.metric("muleguard_events_consumed_total", topic=t) for t in SIGNAL_TOPICS)
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.25)


def settle_exact(worker: RunningWorker, inputs: int, timeout_s: float = 60.0) -> None:
    """Wait until every input and every internal signal the worker sent has been consumed."""
    from topologies.demo import message_counts, settled

    deadline = time.monotonic() + timeout_s
    while True:
        counts = message_counts(worker.web_port)
        if counts is not None and settled(*counts, inputs):
            return
        consumed, sent = counts or ({}, {})
        assert time.monotonic() < deadline, f"worker did not settle: consumed {consumed}, sent {sent}"
        assert worker.alive(), "worker died"
        time.sleep(0.003)
