"""The simulator's only I/O: write a world to a data directory, or produce it to Kafka.

Data directory layout (read by ``features.replay`` and ``models.dataset``):
``<topic>.jsonl`` per input topic (compact JSON, one record a line, event-time order),
``labels.csv`` (``bank,account,is_mule,mule_since,kind``), ``cases.jsonl`` (one case a line)
and ``config.json`` (the ``WorldConfig`` that made it, so the directory can be regenerated).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.simulator.world import World
from streams.topics import INPUT_TOPICS

PROGRESS_EVERY = 10_000
# How long librdkafka retries an event before reporting it undelivered: the Java producer's
# delivery.timeout.ms default, not librdkafka's 5 minutes, so a dead broker fails a run in time.
DELIVERY_TIMEOUT_MS = 120_000
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def default_workers() -> int:
    """Formatting processes for ``write_dir``: one per core the process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def write_dir(world: World, out_dir: str | Path, workers: int | None = None) -> dict[str, int]:
    """Write every topic, the labels, the cases and the config; return lines per file.

    Topic files are formatted by ``workers`` processes (default: one per core), a chunk of
    one topic's rows at a time, and written in order, so the bytes do not depend on the
    number of workers; at most a few chunks are in flight, so memory stays bounded.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = {f"{t.name}.jsonl": 0 for t in INPUT_TOPICS}
    handles = {
        t.name: (out / f"{t.name}.jsonl").open("w", encoding="utf-8", buffering=1 << 20)
        for t in INPUT_TOPICS
    }
    try:
        for topic, lines, text in world.topic_texts(default_workers() if workers is None else workers):
            handles[topic].write(text)
            counts[f"{topic}.jsonl"] += lines
    finally:
        for fh in handles.values():
            fh.close()
    counts["labels.csv"] = _write_labels(world, out / "labels.csv")
    counts["endpoints.csv"] = write_endpoints(world, out / "endpoints.csv")
    cases = world.cases()
    with (out / "cases.jsonl").open("w", encoding="utf-8") as fh:
        for case in cases:
            fh.write(_encode(case) + "\n")
    counts["cases.jsonl"] = len(cases)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(world.config), indent=1) + "\n")
    return counts


def _write_labels(world: World, path: Path) -> int:
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["bank", "account", "is_mule", "mule_since", "kind"])
        for bank, account, is_mule, since, kind in world.labels():
            writer.writerow([bank, account, is_mule, "" if since is None else since, kind])
            rows += 1
    return rows


def write_endpoints(world: World, path: Path) -> int:
    """The allow-list the AOC would keep: cash-out endpoints, registered merchants, payroll payers.

    Tracing stops at these and flags them for review instead of holding them.
    """
    rows = list(world.allow_list())
    with path.open("w", encoding="utf-8") as fh:
        fh.write("bank,account,kind\n")
        fh.writelines(f"{bank},{account},{kind}\n" for bank, account, kind in rows)
    return len(rows)


class DeliveryError(RuntimeError):
    """Events the broker never acknowledged: streaming stops at the first one."""

    def __init__(self, undelivered: int, sent: int, reason: str) -> None:
        super().__init__(f"{undelivered:,} of {sent:,} events sent were not delivered ({reason})")
        self.undelivered = undelivered
        self.sent = sent


def _make_producer(bootstrap: str, config: dict[str, Any] | None = None) -> Any:
    """A confluent-kafka producer; a seam so tests can swap in a recorder.

    ``config``: more librdkafka settings, e.g. the cluster's security (SASL, TLS), and the
    ``on_delivery`` callback.
    """
    from confluent_kafka import Producer

    return Producer({"message.timeout.ms": DELIVERY_TIMEOUT_MS, **(config or {}), "bootstrap.servers": bootstrap,
                     "linger.ms": 5})


def stream_to_kafka(
    world: World,
    bootstrap: str,
    rate: float | None,
    speedup: float | None,
    on_progress: Callable[[int], None] | None = None,
    client_config: dict[str, str] | None = None,
) -> int:
    """Produce every event in event-time order, keyed per topic; return how many were sent.

    Pacing: ``rate`` events per second, or event time divided by ``speedup`` (``speedup=60``
    plays an hour a minute), or as fast as the broker takes them when both are None.
    Raises ``DeliveryError`` if the broker did not acknowledge every event: an event librdkafka
    gave up on (``DELIVERY_TIMEOUT_MS``) means the broker is gone or refuses, so producing stops.
    """
    if rate is not None and speedup is not None:
        raise ValueError("give rate or speedup, not both")
    if (rate is not None and rate <= 0) or (speedup is not None and speedup <= 0):
        raise ValueError("rate and speedup must be > 0")
    failed = 0
    reason = ""

    def on_delivery(err: Any, _msg: Any) -> None:
        nonlocal failed, reason
        if err is not None:
            failed += 1
            reason = reason or err.str()  # a KafkaError, e.g. "Local: Message timed out"

    producer = _make_producer(bootstrap, {**(client_config or {}), "on_delivery": on_delivery})
    sent = 0
    wall0 = time.monotonic()
    first_ts: int | None = None
    for topic, ts_ms, key, line in world.records():
        if failed:
            break
        if first_ts is None:
            first_ts = ts_ms
        due = (
            sent / rate
            if rate is not None
            else (ts_ms - first_ts) / 1000.0 / speedup
            if speedup is not None
            else 0.0
        )
        ahead = wall0 + due - time.monotonic()
        if ahead > 0.001:
            producer.poll(0)
            time.sleep(ahead)
        payload = line.encode()
        while True:
            try:
                producer.produce(topic, key=key.encode(), value=payload)
                break
            except BufferError:  # local queue full: let librdkafka deliver, then retry
                producer.poll(0.05)
        sent += 1
        if sent % PROGRESS_EVERY == 0:
            producer.poll(0)
            if on_progress is not None:
                on_progress(sent)
    left = producer.flush()  # waits for every delivery report (or DELIVERY_TIMEOUT_MS)
    undelivered = failed + (left or 0)
    if on_progress is not None:
        on_progress(sent)
    if undelivered:
        raise DeliveryError(undelivered, sent, reason or "still queued after flush")
    return sent
