"""Produce through confluent-kafka's C producer, with per-batch delivery futures.

Faust's own produce path (``Topic.publish_message``, ``ProducerBuffer``, aiokafka's
``Sender``) costs tens of microseconds of Python per message and was the largest item in
the worker's profile. librdkafka does the same work in C on its own thread. Semantics are
kept by ``flush()``: it returns a future that completes when every message queued since the
previous flush is acknowledged by the broker, and ``runtime.batches`` acks a batch's input
events (so their offsets can be committed) only after that future succeeds.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from topologies.broker import bootstrap_of
from topologies.settings import KafkaSecurity


class _Pending:
    """Deliveries of one batch, resolved on the event loop once all are acknowledged.

    ``sent`` is written only by the loop's thread (after each produce); ``acked`` and the
    seal are under ``lock``, which the delivery callbacks take on librdkafka's poll thread.
    ``delivered`` is a bound method, so a send allocates no closure and takes no lock.
    """

    __slots__ = ("sent", "acked", "future", "error", "sealed", "lock", "loop")

    def __init__(self, lock: threading.Lock, loop: asyncio.AbstractEventLoop) -> None:
        self.sent = self.acked = 0
        self.future: asyncio.Future | None = None
        self.error: BaseException | None = None
        self.sealed = False
        self.lock, self.loop = lock, loop

    def delivered(self, err: Any, _message: Any) -> None:  # librdkafka's poll thread
        with self.lock:
            if err is not None and self.error is None:
                self.error = RuntimeError(f"produce failed: {err}")
            self.acked += 1
            if self.sealed and self.acked == self.sent:
                try:
                    self.loop.call_soon_threadsafe(_resolve, self)
                except RuntimeError:  # the loop closed (shutdown): nobody awaits the future
                    pass


class ConfluentSender:
    """One librdkafka producer for the worker; each agent sends through its own ``channel()``."""

    def __init__(self, broker_url: str, extra: dict[str, Any] | None = None,
                 security: KafkaSecurity | None = None) -> None:
        """``security`` defaults to the ``MULEGUARD_KAFKA_*`` environment, as the Faust app's does."""
        from confluent_kafka import Producer

        self.producer = Producer({
            **(security or KafkaSecurity.from_env()).librdkafka(),
            "bootstrap.servers": bootstrap_of(broker_url),
            "linger.ms": 2,
            "acks": "all",
            # Keeps each partition's order through retries: features/origin.py relies on it.
            "enable.idempotence": True,
            # Same partitioner as Java clients and aiokafka: one key, one partition, whoever sends.
            "partitioner": "murmur2_random",
            "queue.buffering.max.messages": 1_000_000,
            **(extra or {}),
        })
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="muleguard-sender", daemon=True)
        self._poller.start()

    def channel(self) -> SendChannel:
        """A channel for one agent: its flush covers only what that agent sent."""
        return SendChannel(self, asyncio.get_running_loop())

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.05)

    def close(self, timeout_s: float = 10.0) -> None:
        self.producer.flush(timeout_s)
        self._stop.set()


class SendChannel:
    """``send`` queues in librdkafka; ``await flush()`` hands back the batch's delivery future."""

    def __init__(self, sender: ConfluentSender, loop: asyncio.AbstractEventLoop) -> None:
        self.sender, self.loop = sender, loop
        self.produce = sender.producer.produce
        self._current = _Pending(sender.lock, loop)
        self._flushed: list[asyncio.Future] = []

    def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]] | None = None) -> None:
        pending = self._current
        while True:
            try:
                self.produce(topic, value, key, headers=headers, on_delivery=pending.delivered)
                break
            except BufferError:  # local queue full: let librdkafka drain it
                self.sender.producer.poll(0.01)
        pending.sent += 1  # counted once queued: a delivery before this finds the batch unsealed

    async def flush(self) -> asyncio.Future:
        """The future of everything sent since the last flush (already done if nothing is pending)."""
        pending, self._current = self._current, _Pending(self.sender.lock, self.loop)
        future = self.loop.create_future()
        with self.sender.lock:
            pending.future = future
            pending.sealed = True
            if pending.acked == pending.sent:
                _resolve(pending)
        self._flushed.append(future)
        return future

    def _take_flushes(self) -> list[asyncio.Future]:
        """The delivery futures of the flushes since the last call (``runtime.batches``' protocol)."""
        taken, self._flushed = self._flushed, []
        return taken

    def stall_note(self) -> str:
        """For ``runtime.stalled_acks``: what librdkafka still holds, and whether the thread
        that serves its delivery reports is alive."""
        poller = "alive" if self.sender._poller.is_alive() else "DEAD"
        return f"librdkafka holds {len(self.sender.producer)} messages, delivery-report thread {poller}"


class DeliveredFirst:
    """A ``runtime.batches`` flush entry that waits until the channel's sends are acknowledged,
    so the entries after it (state) are written only once everything the batch sent is out.

    Why: a keyed state that records a signal as applied (features/origin.py) must never be
    persisted while what applying it sent could still be lost. A failed send raises here and
    stops the agent: the batch is never acked, so it is processed again after restart.
    """

    def __init__(self, channel: SendChannel) -> None:
        self.channel = channel

    async def flush(self) -> None:
        future = await self.channel.flush()
        await future

    def _take_flushes(self) -> list[asyncio.Future]:
        return self.channel._take_flushes()

    def stall_note(self) -> str:
        return self.channel.stall_note()


def _resolve(pending: _Pending) -> None:
    future = pending.future
    if future is None or future.done():
        return
    if pending.error is not None:
        future.set_exception(pending.error)
    else:
        future.set_result(None)
