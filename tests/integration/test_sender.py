"""The worker's producer (topologies/sender.py) against a real broker: a batch's flush future
completes only once every message of that batch is acknowledged, and a lost batch fails it.

``runtime.batches`` acks input offsets on that future, so a future that resolved early would
let a crash lose messages, and one that never resolved would stall an agent."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from kafka_helpers import messages_to_end

from streams.topics import TopicSpec
from topologies.broker import EmbeddedBroker, create_topics
from topologies.sender import ConfluentSender, DeliveredFirst, _Pending

pytestmark = pytest.mark.integration

TOPIC = TopicSpec("test.sender.v1", "n", "internal", None, partitions=4)


def test_each_flush_completes_once_its_own_messages_are_on_the_broker(module_broker: EmbeddedBroker) -> None:
    create_topics(module_broker.bootstrap, (TOPIC,))
    sender = ConfluentSender(module_broker.url)

    async def run() -> list[int]:
        first, second = sender.channel(), sender.channel()  # two agents sharing one producer
        sizes = []
        for batch in range(6):
            channel = first if batch % 2 else second
            for i in range(50 * (batch + 1)):
                n = batch * 1000 + i
                channel.send(TOPIC.name, str(n).encode(), str(n).encode(), [("batch", str(batch).encode())])
            future = await channel.flush()
            await asyncio.wait_for(future, 30)
            sizes.append(50 * (batch + 1))
            # librdkafka's count of messages whose delivery report is not yet served: the last one
            # may still be inside the poll that resolved the future, every other one is done.
            # (Not the broker's high watermark: Tansu reports the last batch's base offset + 1.)
            assert len(sender.producer) <= 1, "the flush completed before its messages were acknowledged"
        empty = await first.flush()  # nothing sent since the last flush: done at once
        assert empty.done() and empty.exception() is None
        return sizes

    try:
        sizes = asyncio.run(run())
    finally:
        sender.close()
    messages = list(messages_to_end(module_broker.bootstrap, [(TOPIC.name, p) for p in range(4)]))
    values = sorted(int(m.value()) for m in messages)
    assert values == sorted(b * 1000 + i for b, size in enumerate(sizes) for i in range(size))
    assert all(m.key() == m.value() and dict(m.headers())["batch"] == str(int(m.value()) // 1000).encode()
               for m in messages)


def test_a_batch_the_broker_never_acknowledges_fails_its_flush(tmp_path) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    create_topics(broker.bootstrap, (TOPIC,))
    sender = ConfluentSender(broker.url, extra={"message.timeout.ms": 2000, "log_level": 0})

    async def run() -> BaseException | None:
        channel = sender.channel()
        channel.send(TOPIC.name, b"k", b"before")
        await asyncio.wait_for(await channel.flush(), 30)  # delivered: the broker is up
        broker.__exit__(None, None, None)  # memory-only broker: gone, and nothing will ack
        channel.send(TOPIC.name, b"k", b"after")
        future = await channel.flush()
        # what a stalled worker's log would say while it waits (runtime.stalled_acks): at least
        # "after". librdkafka's count (rd_kafka_outq_len) also holds "before" while its report is
        # inside the poll that resolved its flush, and requests queued for the lost broker.
        note = DeliveredFirst(channel).stall_note()
        held = re.fullmatch(r"librdkafka holds (\d+) messages, delivery-report thread alive", note)
        assert held and int(held[1]) >= 1, note
        try:
            await asyncio.wait_for(future, 30)
        except RuntimeError as exc:
            return exc
        return None

    try:
        failure = asyncio.run(run())
    finally:
        sender.producer.purge()
        sender._stop.set()
    assert failure is not None and "produce failed" in str(failure)


def test_a_delivery_report_after_the_loop_closed_is_dropped_quietly() -> None:
    """At shutdown librdkafka's poll thread can serve a report after the event loop closed:
    nobody awaits that future any more, and the thread must live on to serve the rest."""
    loop = asyncio.new_event_loop()
    pending = _Pending(threading.Lock(), loop)
    pending.sent, pending.sealed = 1, True
    loop.close()
    pending.delivered(None, None)  # raised "Event loop is closed" on the poll thread
    assert pending.acked == 1
