"""Unit tests of topologies.runtime: the Faust patches and the batching helpers.

No broker: real Faust apps that are never started (their consumer, conductor,
monitor, tables and RocksDB stores are real objects), messages put straight on a
stream's channel queue.  The only fake is the aiokafka producer behind Faust's
producer in the direct-write tests, so that changelog acknowledgements (and
failures) happen exactly when a test says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import RecordMetadata, TopicPartition
from faust.exceptions import KeyDecodeError, ValueDecodeError
from faust.streams import current_event
from faust.transport import consumer as faust_consumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage
from hypothesis import given, settings
from hypothesis import strategies as st

from topologies import runtime

SRC = "src"


# -- fixtures and helpers -----------------------------------------------------


@pytest.fixture
def installed() -> Iterator[None]:
    """runtime.install() for the test, leaving the process as it found it."""
    was = runtime.installed()
    runtime.install()
    try:
        yield
    finally:
        if not was:
            runtime.uninstall()


_app_seq = iter(range(1_000_000))


def new_app(tmp_path: Path, store: str = "memory://", **kwargs: Any) -> faust.App:
    app = faust.App(
        f"rt-test-{next(_app_seq)}", broker="kafka://127.0.0.1:1", store=store,
        datadir=str(tmp_path / "data"), **kwargs,
    )
    app.flow_control.resume()  # as after a rebalance; queues accept events
    return app


def message(app: faust.App, partition: int, offset: int, key: bytes, value: bytes,
            generation_id: int | None = None) -> ConsumerMessage:
    return ConsumerMessage(
        SRC, partition, offset, 0.0, 0, None, key, value, None, len(key), len(value),
        TP(SRC, partition),
        generation_id=app.consumer_generation_id if generation_id is None else generation_id,
    )


def source_stream(app: faust.App) -> tuple[Any, Any]:
    """(topic, stream over it) with acks enabled for the topic, like an agent's."""
    topic = app.topic(SRC, key_type=str, key_serializer="raw", value_serializer="json")
    app.topics._acking_topics.add(SRC)
    return topic, app.stream(app.channel())


async def feed(app: faust.App, topic: Any, stream: Any, rows: list[tuple[int, str, float]],
               first_offset: int = 0) -> list[ConsumerMessage]:
    """Decode rows (partition, key, amount) and put them on the stream's queue."""
    messages = []
    offsets: dict[int, int] = {}
    for partition, key, amount in rows:
        offset = offsets.get(partition, first_offset)
        offsets[partition] = offset + 1
        msg = message(app, partition, offset, key.encode(), json.dumps({"amount": amount}).encode())
        msg.incref()  # what the conductor does per delivering channel
        await stream.channel.queue.put(await topic.decode(msg, propagate=True))
        messages.append(msg)
    return messages


async def acking_source(tmp_path: Path, partitions: int = 1) -> tuple[faust.App, Any, TP]:
    """(app, channel, partition 0) for driving the patched drain loop with fake fetches: an
    acking source topic, assigned (``partitions`` of it), delivered through Faust's conductor."""
    app = new_app(tmp_path)
    topic = app.topic(SRC, key_type=str, key_serializer="raw", value_serializer="json")
    chan = topic.clone(is_iterator=True)
    tp = TP(SRC, 0)
    app.topics.add(chan)
    app.topics._acking_topics.add(SRC)
    await app.topics.on_partitions_assigned({TP(SRC, p) for p in range(partitions)})
    app.consumer.callback = app.topics.on_message
    app.consumer.highwater = lambda tp: 0  # type: ignore[method-assign]  # feeds only the monitor
    return app, chan, tp


async def drain(app: faust.App, chan: Any, tp: TP, fetches: list[list[int]],
                before_fetch: Any = None) -> list[int]:
    """Run the patched drain loop over ``fetches`` (offsets of partition ``tp``, one list per
    fetch; ``before_fetch(i)`` runs before the i-th), then return the offsets delivered."""
    from aiokafka.structs import ConsumerRecord
    from mode import Service

    fetcher, pending = Service(), list(fetches)
    value = json.dumps({"amount": 1}).encode()

    async def wait_next_records(timeout: float) -> tuple[Any, Any]:
        if pending:
            if before_fetch is not None:
                before_fetch(len(fetches) - len(pending))
            offsets = pending.pop(0)
            return {tp: [ConsumerRecord(tp.topic, tp.partition, o, 0, 0, b"k", value, None, 1, 1, ())
                         for o in offsets]}, {tp}
        fetcher._stopped.set()
        return {}, {tp}

    app.consumer._wait_next_records = wait_next_records  # type: ignore[method-assign]
    await asyncio.wait_for(app.consumer._drain_messages(fetcher), 10)
    delivered = []
    while not chan.queue.empty():
        delivered.append(chan.queue.get_nowait().message.offset)
    return delivered


def recorded_seeks(consumer: Any) -> list[tuple[TP, int]]:
    """The seeks ``consumer`` makes from now on (partition, offset), recorded instead of made."""
    sought: list[tuple[TP, int]] = []

    async def seek(partition: TP, offset: int) -> None:
        sought.append((partition, offset))

    consumer._seek = seek
    return sought


def acked_offsets(app: faust.App) -> dict[int, list[int]]:
    return {tp.partition: sorted(offs) for tp, offs in app.consumer._acked.items() if offs}


class FakeAIOKafkaProducer:
    """Stands in for aiokafka.AIOKafkaProducer behind Faust's producer: real
    BatchBuilders, acknowledgements when the test calls ack()/fail()."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, BatchBuilder, asyncio.Future]] = []
        self.end: dict[tuple[str, int], int] = {}

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(1 << 20, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.sent.append((topic, partition, batch, fut))
        return fut

    def records(self) -> list[tuple[int, int]]:
        """(partition, record count) per batch sent."""
        return [(p, b._relative_offset) for _, p, b, _ in self.sent]

    def ack(self) -> None:
        for topic, partition, batch, fut in self.sent:
            if not fut.done():
                base = self.end.get((topic, partition), 0)
                self.end[(topic, partition)] = base + batch._relative_offset
                fut.set_result(RecordMetadata(topic, partition, TopicPartition(topic, partition),
                                              base, -1, 0, -1))

    def fail(self, exc: BaseException) -> None:
        for _, _, _, fut in self.sent:
            if not fut.done():
                fut.set_exception(exc)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


# -- install() ------------------------------------------------------------------


def test_install_is_idempotent_and_uninstall_restores_faust() -> None:
    was = runtime.installed()
    runtime.uninstall()
    original_drain = vars(faust_consumer.Consumer)["_drain_messages"]
    original_create_event = vars(faust.App)["create_event"]
    try:
        runtime.install()
        runtime.install()  # a second install must not record the first one's patches as originals
        assert runtime.installed()
        assert faust_consumer.Consumer._drain_messages is runtime._drain_messages
        assert faust.App.create_event is runtime._create_event
        patched = dict(runtime._ORIGINALS)  # (class, attribute) -> Faust's own
        assert patched[(faust_consumer.Consumer, "_drain_messages")] is original_drain
        assert all(vars(owner)[name] is not original for (owner, name), original in patched.items())
        runtime.uninstall()
        assert not runtime.installed()
        assert all(vars(owner)[name] is original for (owner, name), original in patched.items())
        assert vars(faust.App)["create_event"] is original_create_event
    finally:
        if was:
            runtime.install()


class MyEvent(faust.Event):
    pass


def test_create_event_uses_the_configured_event_class(installed: None, tmp_path: Path) -> None:
    app = new_app(tmp_path, Event=MyEvent)
    msg = message(app, 0, 0, b"k", b"{}")
    event = app.create_event("k", {}, None, msg)
    assert type(event) is MyEvent
    assert (event.key, event.value, event.message) == ("k", {}, msg)


# -- serialization: same results as Faust's Registry -----------------------------


def _outcome(fn: Any, data: bytes) -> tuple[str, str]:
    try:
        result = fn(data)
    except Exception as exc:  # noqa: BLE001 - comparing failure kinds
        return ("raise", type(exc).__name__)
    return ("ok", repr((type(result), result)))


class Point(faust.Record, serializer="json"):
    x: int
    y: float


CASES = [
    (None, "json", [1.5, 7, "acct1", {"a": [1, None]}, None, b"raw-bytes", Point(1, 2.0),
                    {"__faust": "not-a-namespace"}, {"__faust": {"ns": "no.such.Model"}}, [1, {"b": 2}],
                    {1: "int key", 2.5: "float key"}, datetime(2026, 11, 25, 3, 30, tzinfo=UTC),
                    uuid.UUID(int=7), Decimal("1500.25"), {"s": {1, 2}}]),
    (float, "json", [2.25, 3]),
    (int, None, [5]),
    (str, "raw", ["acct9"]),
    (bytes, "raw", [b"\x00\x01"]),
    (Point, "json", [Point(3, 4.5)]),
    (None, "json|binary", [{"k": 1}, "s"]),
    (None, "raw", [b"x"]),
]


@pytest.mark.parametrize(("typ", "serializer", "values"), CASES)
def test_fast_loaders_and_dumpers_equal_the_registry(
    installed: None, tmp_path: Path, typ: Any, serializer: Any, values: list[Any]
) -> None:
    app = new_app(tmp_path)
    reg = app.serializers
    pairs = [
        (runtime.key_dumper(app, typ, serializer), lambda v: reg.dumps_key(typ, v, serializer=serializer),
         runtime.key_loader(app, typ, serializer), lambda b: reg.loads_key(typ, b, serializer=serializer)),
        (runtime.value_dumper(app, typ, serializer), lambda v: reg.dumps_value(typ, v, serializer=serializer),
         runtime.value_loader(app, typ, serializer), lambda b: reg.loads_value(typ, b, serializer=serializer)),
    ]
    for fast_dump, dump, fast_load, load in pairs:
        for value in values:
            assert _outcome(fast_dump, value) == _outcome(dump, value)
            try:
                data = dump(value)
            except Exception:  # noqa: BLE001 - the registry cannot encode it either
                continue
            assert _outcome(fast_load, data) == _outcome(load, data)
        for garbage in (b"{not json", b"\xff\xfe", b"", None):
            assert _outcome(fast_load, garbage) == _outcome(load, garbage)


# -- consumer side: decode and delivery --------------------------------------------


def test_sync_decoder_builds_the_event_faust_would(installed: None, tmp_path: Path) -> None:
    app = new_app(tmp_path)
    topic = app.topic(SRC, key_type=str, key_serializer="raw", value_serializer="json")
    decode = runtime._sync_decoder(app, topic)
    assert decode is not None
    msg = message(app, 1, 7, b"acct1", b'{"amount": 12.5}')
    ours = decode(msg)
    theirs = asyncio.run(topic.decode(msg, propagate=True))
    assert (type(ours), ours.key, ours.value, ours.headers, ours.message) == (
        type(theirs), theirs.key, theirs.value, theirs.headers, theirs.message)
    with pytest.raises(ValueDecodeError):
        decode(message(app, 1, 8, b"acct1", b"{oops"))
    keyed = app.topic(SRC, key_type=Point, value_serializer="json")
    with pytest.raises(KeyDecodeError):
        runtime._sync_decoder(app, keyed)(message(app, 0, 0, b"not-a-point", b"{}"))  # type: ignore[misc]
    assert runtime._sync_decoder(app, app.channel()) is None  # not a Topic: Faust's own path


def test_fast_delivery_puts_decoded_events_and_defers_every_other_case(
    installed: None, tmp_path: Path
) -> None:
    async def scenario() -> None:
        app = new_app(tmp_path, stream_buffer_maxsize=2)
        topic = app.topic(SRC, key_type=str, key_serializer="raw", value_serializer="json")
        chan = topic.clone(is_iterator=True)
        conductor = app.topics
        conductor.add(chan)
        await conductor.on_partitions_assigned({TP(SRC, 0), TP(SRC, 1)})
        fast = runtime._FastDelivery(app)

        ok = message(app, 0, 0, b"a", b'{"amount": 1}')
        assert fast.deliver(ok)
        event = chan.queue.get_nowait()
        assert (event.key, event.value, event.message, ok.refcount) == ("a", {"amount": 1}, ok, 1)

        bad = message(app, 0, 1, b"a", b"{oops")
        assert not fast.deliver(bad)  # Faust's handler will decode and route the error
        assert bad.refcount == 0 and chan.queue.empty()

        for offset in (2, 3):
            assert fast.deliver(message(app, 0, offset, b"a", b"{}"))
        assert not fast.deliver(message(app, 0, 4, b"a", b"{}"))  # queue full: Faust's handler waits

        other = topic.clone(is_iterator=True)
        conductor.add(other)
        await conductor.on_partitions_assigned({TP(SRC, 0), TP(SRC, 1)})
        assert not runtime._FastDelivery(app).deliver(message(app, 1, 0, b"a", b"{}"))  # two channels

    asyncio.run(scenario())


def test_patched_drain_delivers_in_order_and_falls_back_to_faust_when_the_queue_is_full(
    installed: None, tmp_path: Path
) -> None:
    """The patched Consumer._drain_messages on a real (unstarted) aiokafka-driver
    consumer: only the fetch from the broker is replaced."""
    from aiokafka.structs import ConsumerRecord
    from mode import Service

    async def scenario() -> None:
        app = new_app(tmp_path, stream_buffer_maxsize=2)
        topic = app.topic(SRC, key_type=str, key_serializer="raw", value_serializer="json")
        chan = topic.clone(is_iterator=True)
        tps = {TP(SRC, 0), TP(SRC, 1)}
        app.topics.add(chan)
        await app.topics.on_partitions_assigned(tps)
        consumer = app.consumer
        slow_path: list[int] = []

        async def faust_handler(message: Any) -> None:  # what Faust wires at startup, counted
            slow_path.append(message.offset)
            await app.topics.on_message(message)

        consumer.callback = faust_handler
        consumer.highwater = lambda tp: 3  # type: ignore[method-assign]

        def record(partition: int, offset: int) -> ConsumerRecord:
            value = json.dumps({"amount": offset}).encode()
            return ConsumerRecord(SRC, partition, offset, 0, 0, b"k%d" % partition, value,
                                  None, 2, len(value), ())

        fetcher = Service()
        batches = [{TP(SRC, 0): [record(0, i) for i in range(3)],
                    TP(SRC, 1): [record(1, i) for i in range(2)]}]

        async def wait_next_records(timeout: float) -> tuple[Any, Any]:
            if batches:
                return batches.pop(), tps
            fetcher._stopped.set()
            return {}, tps

        consumer._wait_next_records = wait_next_records  # type: ignore[method-assign]
        received: list[tuple[int, int]] = []

        async def drain_queue() -> None:
            while len(received) < 5:
                event = await chan.queue.get()
                received.append((event.message.partition, event.message.offset))

        reader = asyncio.ensure_future(drain_queue())
        await asyncio.wait_for(consumer._drain_messages(fetcher), 10)
        await asyncio.wait_for(reader, 10)
        # Faust's scheduler order (round-robin over partitions), nothing lost or duplicated
        assert sorted(received) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
        assert [o for p, o in received if p == 0] == [0, 1, 2]
        assert consumer._read_offset[TP(SRC, 0)] == 2 and consumer._read_offset[TP(SRC, 1)] == 1
        assert app.monitor.tp_end_offsets[TP(SRC, 0)] == 3
        assert 0 < len(slow_path) < 5  # the fast path took some; a full queue went to Faust

    asyncio.run(scenario())


@pytest.mark.parametrize("step", ["_resume_streams", "_on_recovery_completed"])
def test_stream_records_are_held_back_from_resuming_until_flow_resumes(installed: None, step: str) -> None:
    """Faust resumes stream partitions, then seeks them: records fetched in between would be
    delivered twice. Then it resumes flow control, which empties every agent's queue:
    records delivered before that would be dropped unacked. So the drain loop holds stream
    records back from the partitions' resume until the whole step is done."""
    from types import SimpleNamespace

    stream_tp, changelog_tp = TP(SRC, 0), TP("app-table-changelog", 0)
    steps: list[str] = []

    def held() -> str:
        return "held" if consumer._muleguard_seek_pending else "flowing"

    class FakeConsumer:  # what runtime._perform_seek and Faust's step use of a consumer
        _muleguard_seek_pending = False

        def __init__(self) -> None:
            self._read_offset: dict[TP, int | None] = {}
            self._committed_offset: dict[TP, int | None] = {}
            self._thread = SimpleNamespace(seek=lambda tp, offset: steps.append(f"put back {tp.partition}@{offset}"))
            self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: topic == SRC),
                                       conf=SimpleNamespace(consumer_auto_offset_reset="earliest"))

        def assignment(self) -> set[TP]:
            return {stream_tp, changelog_tp}

        async def seek_to_committed(self) -> dict[TP, int]:
            return {stream_tp: 5}

        async def perform_seek(self) -> None:
            steps.append(f"seek: {held()}")
            await runtime._perform_seek(self)
            self._muleguard_held_back = {stream_tp: 9}  # the drain loop dropped a record fetched after it

        def resume_partitions(self, tps: set[TP]) -> None:
            steps.append(f"partitions resumed: {held()}")

        def resume_flow(self) -> None:
            return None

    async def no_op(*_args: Any, **_kwargs: Any) -> None:
        return None

    consumer = FakeConsumer()
    app = SimpleNamespace(
        consumer=consumer, consumer_generation_id=3, conf=SimpleNamespace(broker_request_timeout=1),
        on_rebalance_complete=SimpleNamespace(send=no_op),
        flow_control=SimpleNamespace(resume=lambda: steps.append(f"flow resumed, queues emptied: {held()}")),
        _fetcher=SimpleNamespace(maybe_start=no_op), on_rebalance_end=lambda: None,
        assignor=SimpleNamespace(assigned_standbys=lambda: set()))
    recovery = SimpleNamespace(
        app=app, log=SimpleNamespace(info=lambda *a: None, dev=lambda *a: None, warning=lambda *a: None),
        _wait=lambda coro, timeout=None: coro, _is_changelog_tp=lambda tp: tp.topic.endswith("-changelog"),
        completed=asyncio.Event(), _set_recovery_ended=lambda: None, tables=SimpleNamespace(
            values=lambda: [], on_actives_ready=lambda: None, on_standbys_ready=lambda: None))
    asyncio.run(getattr(runtime, step)(recovery, generation_id=3))
    assert steps == ["partitions resumed: held", "seek: held", "flow resumed, queues emptied: held", "put back 0@5"]
    assert consumer._muleguard_seek_pending is False and recovery.completed.is_set()
    assert consumer._read_offset[stream_tp] == 5


def test_resuming_flow_control_empties_the_agents_queues(installed: None, tmp_path: Path) -> None:
    """Why the hold above lasts until flow resumes: Faust's channel queues are mode's
    ``FlowControlQueue(clear_on_resume=True)``, and ``flow_control.resume()`` drops what
    they hold, unacked. If a Faust upgrade stops doing this, docs/runtime.md should say so."""
    async def scenario() -> None:
        app, chan, tp = await acking_source(tmp_path)
        for offset in range(3):  # as the drain loop puts events
            chan.queue.put_nowait(await chan.decode(message(app, 0, offset, b"k", b'{"amount": 1}')))
        assert chan.queue.qsize() == 3
        app.flow_control.resume()
        assert chan.queue.empty()

    asyncio.run(scenario())


def test_the_drain_loop_holds_back_stream_records_while_a_seek_is_pending(installed: None, tmp_path: Path) -> None:
    async def scenario() -> None:
        app, chan, tp = await acking_source(tmp_path)

        def seek_pending_for_the_first(i: int) -> None:
            app.consumer._muleguard_seek_pending = i == 0

        # the second fetch comes after the seek moved the position back
        assert await drain(app, chan, tp, [[0, 1], [0, 1, 2, 3]], seek_pending_for_the_first) == [0, 1, 2, 3]

    asyncio.run(scenario())


@pytest.mark.parametrize("reset", ["earliest", "latest"])
def test_the_seek_puts_back_partitions_whose_records_were_held_back(installed: None, tmp_path: Path,
                                                                     reset: str) -> None:
    """Records held back while the seek ran may have been fetched after it moved the position
    (the seek runs in the consumer thread); those partitions are sought once more: to their
    committed offset, and without one to their beginning (``earliest``, as the seek itself
    does) or to the first record held back (``latest``). The restarted worker of the crash
    test holds back offset 0 of every transfers partition, which has no commit yet."""
    from types import SimpleNamespace

    app = new_app(tmp_path, consumer_auto_offset_reset=reset)
    consumer = app.consumer
    tp, untouched, uncommitted = TP(SRC, 0), TP(SRC, 1), TP(SRC, 2)
    app.topics._acking_topics.add(SRC)
    sought: list[tuple[TP, int]] = []

    async def seek_to_committed() -> dict[TP, int]:
        return {tp: 1245, untouched: 77, uncommitted: None}

    async def seek_to_beginning(*partitions: TP) -> None:
        sought.extend((partition, 0) for partition in partitions)

    consumer.seek_to_committed = seek_to_committed  # type: ignore[method-assign]
    consumer._thread = SimpleNamespace(seek=lambda partition, offset: sought.append((partition, offset)),
                                       seek_to_beginning=seek_to_beginning)
    consumer._muleguard_seek_pending = True
    consumer._muleguard_held_back = {tp: 1250, uncommitted: 40}
    asyncio.run(consumer.perform_seek())
    assert consumer._muleguard_seek_pending is True  # until the step that sought is done
    runtime._release_held_back(consumer)
    put_back = [(uncommitted, 0), (tp, 1245), (uncommitted, 0)] if reset == "earliest" else \
        [(tp, 1245), (uncommitted, 40)]
    assert sought == put_back
    assert consumer._muleguard_seek_pending is False and consumer._muleguard_held_back == {}
    assert consumer._read_offset[tp] == 1245 and consumer._read_offset[untouched] == 77
    assert consumer._read_offset[uncommitted] == put_back[-1][1]


def test_a_partition_revoked_before_its_put_back_does_not_stop_the_others(installed: None,
                                                                          tmp_path: Path) -> None:
    """The hold ends in a ``finally``, also when another rebalance interrupted the step and
    took a partition away: aiokafka refuses to seek it, and the rest are still put back."""
    from types import SimpleNamespace

    from aiokafka.errors import IllegalStateError

    consumer = new_app(tmp_path).consumer
    revoked, kept = TP(SRC, 0), TP(SRC, 1)
    sought: list[TP] = []

    def seek(partition: TP, offset: int) -> None:
        if partition == revoked:
            raise IllegalStateError(f"No current assignment for partition {partition}")
        sought.append(partition)

    consumer._thread = SimpleNamespace(seek=seek)
    consumer._muleguard_seek_pending = True
    consumer._muleguard_sought = {revoked: 10, kept: 20}
    consumer._muleguard_held_back = {revoked: 12, kept: 25}
    runtime._release_held_back(consumer)
    assert sought == [kept] and consumer._read_offset[kept] == 20 and revoked not in consumer._read_offset
    assert consumer._muleguard_seek_pending is False


def test_the_seek_never_moves_the_committed_offset_backwards(installed: None, tmp_path: Path) -> None:
    """A commit that finishes while the seek asks the broker leaves a newer committed offset
    than the broker's answer. Faust commits nothing while acked offsets start more than one
    past its committed offset: taking the older answer would stall the partition for good."""
    from types import SimpleNamespace

    app = new_app(tmp_path)
    consumer = app.consumer
    raced, fresh, behind = TP(SRC, 0), TP(SRC, 1), TP(SRC, 2)

    async def seek_to_committed() -> dict[TP, int]:
        consumer._committed_offset[raced] = 160  # the commit lands while the broker answers
        consumer._committed_offset[behind] = 40
        return {raced: 80, fresh: 12, behind: 50}

    consumer.seek_to_committed = seek_to_committed  # type: ignore[method-assign]
    consumer._thread = SimpleNamespace(seek=lambda partition, offset: None)
    consumer._muleguard_rewind = {raced: 80}  # a rewind asked for before: the seek covers it
    asyncio.run(consumer.perform_seek())
    assert "_muleguard_rewind" not in consumer.__dict__
    assert consumer._committed_offset[raced] == 160
    assert consumer._committed_offset[fresh] == 12 and consumer._committed_offset[behind] == 50
    consumer._acked[raced] = list(range(160, 215))
    assert consumer._new_offset(raced) == 215  # with 80 kept, this was None: nothing committed


def test_a_delivery_that_outlasts_a_rebalance_leaves_the_seeks_offsets_alone(
        installed: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offset 5 of the old generation is still being delivered (Faust's conductor awaits
    flow control, the producer buffer, a lock) while a rebalance seeks the partition back to
    its committed offset 3. Setting the read offset to 5 afterwards made the new generation's
    fetch drop 3 and 4 as already read; acks then started above a hole and Faust never
    committed the partition again (the rebalance test's stall on 2026-11-24)."""
    from types import SimpleNamespace

    async def scenario() -> None:
        app, chan, tp = await acking_source(tmp_path)
        consumer = app.consumer

        async def seek_to_committed() -> dict[TP, int]:
            return {tp: 3}

        consumer.seek_to_committed = seek_to_committed  # type: ignore[method-assign]
        consumer._thread = SimpleNamespace(seek=lambda partition, offset: None)
        deliver, rebalanced = consumer.callback, []

        async def slow_delivery(message: Any) -> None:
            if message.offset == 5 and not rebalanced:
                rebalanced.append(True)
                app.consumer_generation_id += 1  # the rebalance, while this delivery waits
                await consumer.perform_seek()
            await deliver(message)

        consumer.callback = slow_delivery
        monkeypatch.setattr(runtime._FastDelivery, "deliver", lambda self, message: False)
        delivered = await drain(app, chan, tp, [[0, 1, 2, 3, 4, 5], [3, 4, 5, 6]])
        assert delivered == [0, 1, 2, 3, 4, 5, 3, 4, 5, 6]  # the new generation reads from 3
        assert consumer._read_offset[tp] == 6

    asyncio.run(scenario())


@pytest.mark.parametrize("meanwhile", ["nothing", "committed past it"])
def test_a_hole_below_acked_offsets_is_read_again_from_the_committed_offset(installed: None, tmp_path: Path,
                                                                            meanwhile: str) -> None:
    """Acked offsets more than one past the committed offset are never committed, and nothing
    but a rebalance would fill the hole (the rebalance test's worker sat at committed 960 with
    1011-1316 acked). Once the same hole has been seen for long enough, the drain loop reads
    the partition again from the committed offset; records fetched before that seek are
    dropped. A hole filled meanwhile is left alone."""
    async def scenario() -> None:
        app, chan, tp = await acking_source(tmp_path)
        consumer = app.consumer
        sought = recorded_seeks(consumer)
        consumer.assignment = lambda: {tp}  # type: ignore[method-assign]
        consumer._committed_offset[tp] = 3
        consumer._acked[tp] = [6, 7]  # 3-5 never delivered in this generation
        assert consumer._new_offset(tp) is None  # Faust's commit is stuck
        assert runtime.rewind_holes(older_than_s=3600, consumers=[consumer]) == []  # seen once
        [(rewound, line)] = runtime.rewind_holes(older_than_s=0, consumers=[consumer])
        assert rewound == tp and f"{SRC}[0]: offsets 3-5 never acked" in line and line.endswith("from 3 again")
        if meanwhile == "nothing":
            delivered = await drain(app, chan, tp, [[8, 9], [3, 4, 5, 6, 7, 8, 9]])
            assert sought == [(tp, 3)]
            assert delivered == [3, 4, 5, 6, 7, 8, 9]  # [8, 9] of the first fetch came before the seek
            consumer._acked[tp] += [3, 4, 5]  # the copies' acks (those of 6-7 are there already)
            assert consumer._new_offset(tp) == 8  # the commit moves again
        else:
            consumer._committed_offset[tp] = 8
            consumer._acked[tp] = []
            delivered = await drain(app, chan, tp, [[8, 9], [10]])
            assert sought == []
            assert delivered == [8, 9, 10]
        assert runtime.rewind_holes(older_than_s=0, consumers=[consumer]) == []

    asyncio.run(scenario())


def test_a_fetch_that_raced_a_seek_is_fetched_again(installed: None, tmp_path: Path) -> None:
    """aiokafka's fetched_records (consumer thread) raises KeyError when a seek made from
    the main thread deletes a partition's records under it; the drain loop must go on, not
    crash the Fetcher service and with it the worker."""
    async def scenario() -> None:
        app, chan, tp = await acking_source(tmp_path)

        def race(fetch: int) -> None:
            if fetch == 1 and not raced:
                raced.append(fetch)
                raise KeyError(tp)

        raced: list[int] = []
        delivered = await drain(app, chan, tp, [[0, 1], [2, 3]], before_fetch=race)
        assert raced == [1] and delivered == [0, 1, 2, 3]

    asyncio.run(scenario())


def test_a_seek_whose_records_the_consumer_thread_took_meanwhile_does_not_raise(installed: None) -> None:
    """The other side of the race: the consumer thread deletes the partition's fetched
    records between aiokafka's ``tp in self._records`` and ``del`` in the main thread's
    seek, which raised KeyError into the drain loop."""
    from types import SimpleNamespace

    from aiokafka.consumer.fetcher import Fetcher

    class TakenMeanwhile(dict):
        def __contains__(self, key: object) -> bool:
            return True  # it was there when asked, gone when deleted

    sought: list[tuple[TP, int]] = []
    fetcher = SimpleNamespace(_subscriptions=SimpleNamespace(seek=lambda tp, offset: sought.append((tp, offset))),
                              _records=TakenMeanwhile(), _wait_consume_future=None, _notify=lambda future: None)
    tp = TP(SRC, 0)
    Fetcher.seek_to(fetcher, tp, 5)
    assert sought == [(tp, 5)]


@pytest.mark.parametrize("reread_finds", ["the skipped records", "the same gap"])
def test_a_gap_in_offsets_is_read_again_before_it_is_believed(installed: None, tmp_path: Path,
                                                               reread_finds: str) -> None:
    """Records fetched but never delivered leave a gap; Faust would mark it done and commit past
    it. The patched drain seeks back and reads again; only a gap seen twice (offsets that do not
    exist: compaction, transaction markers) is handed to Faust's gap bookkeeping."""
    async def scenario() -> None:
        app, chan, tp = await acking_source(tmp_path)
        consumer = app.consumer
        sought = recorded_seeks(consumer)
        again = list(range(3, 12)) if reread_finds == "the skipped records" else [10, 11]  # from the seek
        delivered = await drain(app, chan, tp, [[0, 1, 2], [10, 11], again])
        assert sought == [(tp, 3)]  # back to the first offset missing
        if reread_finds == "the skipped records":
            assert delivered == list(range(12))
            assert not consumer._gap[tp]
        else:
            assert delivered == [0, 1, 2, 10, 11]
            assert [(i.begin, i.end) for i in consumer._gap[tp]] == [(3, 10)]

    asyncio.run(scenario())


def test_one_record_missing_right_after_a_seek_is_read_again(installed: None, tmp_path: Path) -> None:
    """After a rebalance's seek to committed offset 10, a fetch that starts at 11 has lost
    record 10. Faust's read offset then holds 10 (the next offset, not the last one read), so
    this looked like no gap, and Faust's commit lets a gap of one through: record 10 was
    never processed and committed past."""
    from types import SimpleNamespace

    async def scenario() -> None:
        app, chan, tp = await acking_source(tmp_path)
        consumer = app.consumer
        sought = recorded_seeks(consumer)

        async def seek_to_committed() -> dict[TP, int]:
            return {tp: 10}

        consumer.seek_to_committed = seek_to_committed  # type: ignore[method-assign]
        consumer._thread = SimpleNamespace(seek=lambda partition, offset: None)
        await consumer.perform_seek()
        delivered = await drain(app, chan, tp, [[11, 12], [10, 11, 12]])
        assert sought == [(tp, 10)]
        assert delivered == [10, 11, 12]

    asyncio.run(scenario())


def test_records_held_back_after_the_seek_finished_mid_fetch_are_put_back(installed: None,
                                                                          tmp_path: Path) -> None:
    """The seek can finish while the drain loop is inside a fetch. Every record dropped while
    it was pending must be of a partition the seek puts back; a partition whose records come
    after it finished is delivered. (The loop once read the flag once per fetch and dropped
    the later records into a set nobody looked at again.)"""
    from aiokafka.structs import ConsumerRecord
    from mode import Service

    async def scenario() -> None:
        app, chan, tp0 = await acking_source(tmp_path, partitions=2)
        tp1 = TP(SRC, 1)
        consumer = app.consumer
        put_back: set[TP] = set()
        value = json.dumps({"amount": 1}).encode()

        def record(tp: TP, offset: int) -> Any:
            return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"k", value, None, 1, 1, ())

        def seek_finishes() -> None:  # the tail of runtime._perform_seek
            consumer._muleguard_seek_pending = False
            put_back.update(consumer._muleguard_held_back)
            consumer._muleguard_held_back = {}

        class FinishingMidFetch:  # a scheduler: the seek finishes between two records
            def iterate(self, records: Any) -> Iterator[tuple[TP, Any]]:
                if not records:
                    return
                yield tp0, record(tp0, 0)
                yield tp0, record(tp0, 1)
                seek_finishes()
                yield tp0, record(tp0, 2)
                yield tp1, record(tp1, 0)

        fetcher = Service()
        fetches = [{tp0: [], tp1: []}]

        async def wait_next_records(timeout: float) -> tuple[Any, Any]:
            if fetches:
                return fetches.pop(), {tp0, tp1}
            fetcher._stopped.set()
            return {}, {tp0, tp1}

        consumer.scheduler = FinishingMidFetch()
        consumer._wait_next_records = wait_next_records  # type: ignore[method-assign]
        consumer._muleguard_seek_pending = True
        await asyncio.wait_for(consumer._drain_messages(fetcher), 10)
        delivered = []
        while not chan.queue.empty():
            delivered.append(chan.queue.get_nowait().message.tp)
        assert put_back == {tp0}  # offsets 0-2 of tp0 come again from the seek
        assert delivered == [tp1]

    asyncio.run(scenario())


@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=6, unique=True),
       st.lists(st.integers(min_value=0, max_value=5), min_size=6, max_size=6))
@settings(max_examples=200, deadline=None)
def test_single_topic_round_robin_is_faust_scheduler_order(partitions: list[int], sizes: list[int]) -> None:
    from faust.transport.utils import DefaultSchedulingStrategy

    records = {TP(SRC, p): [(p, i) for i in range(sizes[p])] for p in partitions}
    assert list(runtime._round_robin(records)) == list(DefaultSchedulingStrategy().iterate(records))


# -- batches() ------------------------------------------------------------------------


def test_batches_yields_lists_and_acks_each_after_the_body(installed: None, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = new_app(tmp_path)
        topic, stream = source_stream(app)
        await feed(app, topic, stream, [(0, f"k{i}", 1.0) for i in range(7)])
        seen: list[list[str]] = []
        acked_when_seen: list[dict[int, list[int]]] = []
        async with contextlib.aclosing(runtime.batches(stream, 3, 0.01)) as it:
            async for events in it:
                seen.append([e.key for e in events])
                acked_when_seen.append(acked_offsets(app))
                assert all(not e.message.acked for e in events)
                if sum(map(len, seen)) == 7:
                    break
        assert seen == [["k0", "k1", "k2"], ["k3", "k4", "k5"], ["k6"]]
        assert acked_when_seen == [{}, {0: [0, 1, 2]}, {0: [0, 1, 2, 3, 4, 5]}]
        assert acked_offsets(app) == {0: list(range(7))}  # the last list: acked on leaving the loop
        assert not app.consumer._unacked_messages
        assert app.consumer._new_offset(TP(SRC, 0)) == 7  # what a commit would now commit

    asyncio.run(scenario())


def test_reorder_buffer_releases_in_order_after_the_hold_and_acks_only_what_it_released(
    installed: None, tmp_path: Path,
) -> None:
    """Events arriving within the hold are released in order-key order; a held event is not
    acked, so no commit passes it; an event far behind arrives late and is released as is."""
    async def scenario() -> None:
        app = new_app(tmp_path)
        topic, stream = source_stream(app)
        await feed(app, topic, stream, [(0, "a", 5.0), (0, "b", 3.0)])
        seen: list[list[float]] = []
        acked_at_release: list[dict[int, list[int]]] = []
        hold_s = 0.3
        order = lambda event: event.value["amount"]  # noqa: E731
        async with contextlib.aclosing(runtime.batches(stream, 10, 0.001, order=order, hold_s=hold_s)) as it:
            fed_late = False
            async for events in it:
                seen.append([e.value["amount"] for e in events])
                acked_at_release.append(acked_offsets(app))
                if not fed_late:
                    # offsets 2-4 arrive together after the first release: sorted among themselves
                    await feed(app, topic, stream, [(0, "c", 4.0), (0, "d", 1.0), (0, "e", 2.0)], first_offset=2)
                    fed_late = True
                if sum(map(len, seen)) == 5:
                    break
        assert seen == [[3.0, 5.0], [1.0, 2.0, 4.0]]
        assert acked_at_release == [{}, {0: [0, 1]}]  # nothing held is acked
        assert acked_offsets(app) == {0: [0, 1, 2, 3, 4]}

    asyncio.run(scenario())


def test_reorder_buffer_needs_an_order_for_a_hold(installed: None, tmp_path: Path) -> None:
    app = new_app(tmp_path)
    _, stream = source_stream(app)
    with pytest.raises(ValueError, match="order"):
        asyncio.run(anext(runtime.batches(stream, 10, 0.01, hold_s=0.1)))


def test_batches_skips_and_acks_events_of_an_old_generation(installed: None, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        app = new_app(tmp_path)
        topic, stream = source_stream(app)
        stale = message(app, 0, 0, b"old", b'{"amount": 1}', generation_id=app.consumer_generation_id - 1)
        stale.incref()
        await stream.channel.queue.put(await topic.decode(stale, propagate=True))
        await feed(app, topic, stream, [(0, "new", 1.0)], first_offset=1)
        async with contextlib.aclosing(runtime.batches(stream, 10, 0.01)) as it:
            async for events in it:
                assert [e.key for e in events] == ["new"]
                assert stale.acked and stale not in app.consumer._unacked_messages  # done with
                break
        assert acked_offsets(app) == {0: [1]}  # the skipped offset never reaches a commit

    with caplog.at_level(logging.INFO, logger=runtime.__name__):
        asyncio.run(scenario())
    assert f"Skipped 1 events of generation [-1] (flow active, generation now 0): {SRC}[0] 0-0" in caplog.text


class _Gate:
    """A ``flush`` entry whose acknowledgement the test releases by hand, list by list."""

    def __init__(self) -> None:
        self.futures: list[asyncio.Future] = []

    async def flush(self) -> None:
        self.futures.append(asyncio.get_running_loop().create_future())

    def _take_flushes(self) -> list[asyncio.Future]:
        return self.futures[-1:]


async def _three_events_in_gated_lists(app: Any, list_size: int) -> _Gate:
    """Offsets 0-2 processed by ``batches`` in lists of ``list_size``, each list's acks
    waiting for its own future in the returned gate (the last list is flushed on leaving)."""
    topic, stream = source_stream(app)
    await feed(app, topic, stream, [(0, "a", 1.0), (0, "b", 1.0), (0, "c", 1.0)])
    gate = _Gate()
    lists = -(-3 // list_size)
    async with contextlib.aclosing(runtime.batches(stream, list_size, 0.001, flush=[gate])) as it:
        async for _events in it:
            if len(gate.futures) == lists - 1:
                break
    return gate


def test_a_failing_agent_leaves_its_list_unflushed_and_unacked_and_stops_the_worker(
    installed: None, tmp_path: Path,
) -> None:
    """A body that raises mid-list (outside the per-event handling: encoding a state,
    queueing sends) must not have that list flushed and acked when ``batches`` is left, or
    the events after the failing one would be committed unprocessed; and the agent must not
    be restarted with a commit order that knows nothing of the list (runtime.fail_fast)."""
    async def scenario() -> None:
        app = new_app(tmp_path)
        topic, _ = source_stream(app)
        stream = app.stream(topic)  # an agent's stream: over its topic
        await feed(app, topic, stream, [(0, f"k{i}", 1.0) for i in range(4)])
        gate, stops = _Gate(), []

        async def body(stream: Any) -> None:
            async for events in runtime.batches(stream, 2, 0.001, flush=[gate]):
                if events[0].key == "k2":
                    raise RuntimeError("state encoding failed")

        task = asyncio.ensure_future(runtime.fail_fast(body, stops.append)(stream))
        await settle()
        gc.collect()  # the abandoned batches() generator is closed: its finally runs
        await settle()
        for future in gate.futures:
            future.set_result(None)
        await settle()
        assert [repr(exc) for exc in stops] == ["RuntimeError('state encoding failed')"]
        assert len(gate.futures) == 1  # the first list's flush only
        assert acked_offsets(app) == {0: [0, 1]}
        assert not app.consumer._unacked_messages  # or the worker's stop would wait for them forever
        assert not task.done()  # waits for the worker to stop instead of being restarted
        task.cancel()

    asyncio.run(scenario())


def test_a_list_acknowledged_before_the_one_ahead_of_it_waits_for_it(installed: None, tmp_path: Path) -> None:
    """Faust commits past a one-offset gap (``Consumer._new_offset``): a later list's acks must
    not reach its bookkeeping before an earlier list's, or a stop in between loses a message."""
    async def scenario() -> None:
        app = new_app(tmp_path)
        gate = await _three_events_in_gated_lists(app, list_size=1)
        first, *later = gate.futures
        for future in later:
            future.set_result(None)
        await settle()
        assert acked_offsets(app) == {}
        assert app.consumer._new_offset(TP(SRC, 0)) is None  # nothing to commit yet
        first.set_result(None)
        await settle()
        assert acked_offsets(app) == {0: [0, 1, 2]}
        assert app.consumer._new_offset(TP(SRC, 0)) == 3

    asyncio.run(scenario())


def test_stalled_acks_name_the_lists_and_partitions_that_hold_commits_back(installed: None, tmp_path: Path) -> None:
    """A worker whose offsets stop moving says why in its log (views.report_stalled_acks)."""
    async def scenario() -> None:
        app = new_app(tmp_path)
        first, second = (await _three_events_in_gated_lists(app, list_size=2)).futures  # [a, b], [c]
        second.set_result(None)
        await settle()
        assert runtime.stalled_acks(older_than_s=3600) == []  # not stalled yet: just slow
        stalls = runtime.stalled_acks(older_than_s=0)
        assert any(f"2 events ({SRC}[0] 0-1) processed" in line and line.endswith("wait for _Gate")
                   for line in stalls), stalls
        assert any(f"{SRC}[0] generation" in line and "offset 0 not done" in line
                   and "2 messages after it wait for it" in line for line in stalls), stalls
        # a commit that never returns (Faust awaits it before the next one)
        app.consumer._commit_fut = asyncio.get_running_loop().create_future()
        assert "consumer: a commit has not returned for 0 s" in runtime.stalled_acks(older_than_s=0)
        app.consumer._commit_fut.set_result(None)
        # acked offsets above a gap at their head: Faust's _new_offset never commits them
        other = TP("elsewhere", 0)
        app.consumer._committed_offset[other] = 3
        app.consumer._acked[other] = [5, 6]
        assert ("elsewhere[0]: 2 offsets acked from 5, but the committed offset Faust keeps is 3: none of "
                "them will be committed") in runtime.stalled_acks(older_than_s=0)
        app.consumer._acked[other] = [4, 5, 6]  # a gap of one: Faust commits past it (see _CommitOrder)
        assert not any("elsewhere" in line for line in runtime.stalled_acks(older_than_s=0))
        app.consumer._acked[other] = [5, 6]
        await app.consumer._add_gap(other, 3, 4)  # offsets that do not exist: Faust fills them in
        assert not any("elsewhere" in line for line in runtime.stalled_acks(older_than_s=0))
        del app.consumer._acked[other]
        first.set_result(None)
        await settle()
        assert runtime.stalled_acks(older_than_s=0) == []
        assert acked_offsets(app) == {0: [0, 1, 2]}

    asyncio.run(scenario())


def test_batches_bulk_monitor_counts_like_per_event_sensors(installed: None, tmp_path: Path) -> None:
    async def run(sensors: str) -> dict[str, Any]:
        app = new_app(tmp_path)
        app.sensors.add(app.monitor)  # what App.on_init does when it starts
        if sensors == "auto":  # else both runs would count per event and agree trivially
            assert runtime._BulkMonitor.for_app(app) is not None
        topic, stream = source_stream(app)
        rows = [(i % 2, f"k{i % 3}", 1.0) for i in range(5)]
        await feed(app, topic, stream, rows)
        n = 0
        async with contextlib.aclosing(runtime.batches(stream, 2, 0.01, sensors=sensors)) as it:
            async for events in it:
                n += len(events)
                if n == 5:
                    break
        m = app.monitor
        return {
            "messages_received_total": m.messages_received_total,
            "messages_active": m.messages_active,
            "messages_received_by_topic": dict(m.messages_received_by_topic),
            "tp_read_offsets": dict(m.tp_read_offsets),
            "events_total": m.events_total,
            "events_active": m.events_active,
            "events_by_stream": sorted(m.events_by_stream.values()),
            "events_by_task": sorted(m.events_by_task.values()),
            "inbound_tps": sorted(m.stream_inbound_time),
            "runtime_samples": len(m.events_runtime),
        }

    per_event = asyncio.run(run("per-event"))
    bulk = asyncio.run(run("auto"))
    assert bulk == per_event
    assert per_event["events_total"] == 5 and per_event["messages_active"] == 0


# -- StagedTable ------------------------------------------------------------------------


def run_sum_job(app: faust.App, table: Any, rows: list[tuple[int, str, float]], batch: int,
                mode: str = "auto") -> tuple[runtime.StagedTable, list[ConsumerMessage]]:
    """Sum amounts per key through batches() + StagedTable; returns the stage and messages."""

    async def scenario() -> tuple[runtime.StagedTable, list[ConsumerMessage]]:
        topic, stream = source_stream(app)
        messages = await feed(app, topic, stream, rows)
        staged = runtime.StagedTable(table, mode=mode)
        n = 0
        async with contextlib.aclosing(runtime.batches(stream, batch, 0.01, flush=[staged])) as it:
            async for events in it:
                for e in events:
                    staged.set(e, e.key, staged.get(e, e.key, 0.0) + e.value["amount"])
                n += len(events)
                if n == len(rows):
                    break
        await settle()
        return staged, messages

    return asyncio.run(scenario())


ROWS = [(0, "a", 1.0), (1, "b", 2.0), (0, "a", 3.0), (0, "c", 4.0), (1, "b", 5.0), (0, "a", 6.0)]


def test_context_mode_writes_each_key_once_through_faust(installed: None, tmp_path: Path) -> None:
    app = new_app(tmp_path)
    table = app.Table("sums", default=float, partitions=2)
    staged, messages = run_sum_job(app, table, ROWS, batch=3, mode="context")
    assert staged.mode == "context"
    assert dict(table.data.items()) == {"a": 10.0, "b": 7.0, "c": 4.0}
    # Faust's own changelog sends, one per key per batch, in the key's source partition:
    pending = list(app.producer.buffer.pending._queue)
    sent = [(fut.message.partition, fut.message.key, fut.message.value) for fut in pending]
    assert sent == [(0, b'"a"', b"4.0"), (1, b'"b"', b"2.0"),
                    (0, b'"c"', b"4.0"), (1, b'"b"', b"7.0"), (0, b'"a"', b"10.0")]
    assert all(m.acked for m in messages)


def test_direct_mode_writes_rocksdb_and_changelog_once_per_key_and_acks_after_the_broker(
    installed: None, tmp_path: Path
) -> None:
    async def scenario() -> None:
        app = new_app(tmp_path, store="rocksdb://")
        table = app.Table("sums", default=float, partitions=2, options=runtime.rocksdb_options())
        producer = FakeAIOKafkaProducer()
        app.producer._producer = producer
        topic, stream = source_stream(app)
        messages = await feed(app, topic, stream, ROWS)
        staged = runtime.StagedTable(table)
        n = 0
        async with contextlib.aclosing(runtime.batches(stream, 3, 0.01, flush=[staged])) as it:
            async for events in it:
                for e in events:
                    staged.set(e, e.key, staged.get(e, e.key, 0.0) + e.value["amount"])
                n += len(events)
                if n == len(ROWS):
                    break
        await settle()
        assert staged.mode == "direct"
        changelog = table.changelog_topic.get_topic_name()
        # one record per key per list, in its source partition: list 1 (a, b, a) -> a@0, b@1;
        # list 2 (c, b, a) -> c@0 and a@0, b@1; the last record of a partition goes in a
        # record batch of its own (tail_record_batch, for Tansu's ListOffsets)
        assert producer.records() == [(0, 1), (1, 1), (0, 1), (0, 1), (1, 1)]
        assert {t for t, *_ in producer.sent} == {changelog}
        # the store is written, but nothing is acked before the broker acknowledges
        assert not acked_offsets(app) and not any(m.acked for m in messages)
        store = table.data
        assert store._db_for_partition(0)[b'"a"'] == b"10.0"
        assert store._db_for_partition(0)[b'"c"'] == b"4.0"
        assert store._db_for_partition(1)[b'"b"'] == b"7.0"
        producer.ack()
        await settle()
        assert acked_offsets(app) == {0: [0, 1, 2, 3], 1: [0, 1]}
        assert store.persisted_offset(TP(changelog, 0)) == 2  # 3 records: offsets 0..2
        assert store.persisted_offset(TP(changelog, 1)) == 1
        # the changelog records are what Faust's table.send_changelog would serialize
        keys = []
        for _, partition, batch, _ in producer.sent:
            for record in _records(batch):
                keys.append((partition, record.key, record.value))
        assert keys == [(0, b'"a"', b"4.0"), (1, b'"b"', b"2.0"),
                        (0, b'"c"', b"4.0"), (0, b'"a"', b"10.0"), (1, b'"b"', b"7.0")]

    asyncio.run(scenario())


def test_without_tail_batches_a_partition_gets_one_record_batch_per_flush(
    installed: None, tmp_path: Path
) -> None:
    async def scenario() -> None:
        app = new_app(tmp_path, store="rocksdb://")
        table = app.Table("sums", default=float, partitions=2, options=runtime.rocksdb_options())
        producer = FakeAIOKafkaProducer()
        app.producer._producer = producer
        topic, stream = source_stream(app)
        await feed(app, topic, stream, ROWS)
        staged = runtime.StagedTable(table, tail_record_batch=False)
        async with contextlib.aclosing(runtime.batches(stream, 6, 0.01, flush=[staged])) as it:
            async for events in it:
                for e in events:
                    staged.set(e, e.key, e.value["amount"])
                break
        await settle()
        assert producer.records() == [(0, 2), (1, 1)]  # keys a, c in partition 0; b in 1

    asyncio.run(scenario())


def _records(batch: BatchBuilder) -> list[Any]:
    from aiokafka.record.default_records import DefaultRecordBatch

    return list(DefaultRecordBatch(bytearray(batch._build())))


def test_a_failed_changelog_write_leaves_the_batch_unacked_and_stops_the_agent(
    installed: None, tmp_path: Path
) -> None:
    async def scenario() -> None:
        app = new_app(tmp_path, store="rocksdb://")
        table = app.Table("sums", default=float, partitions=2, options=runtime.rocksdb_options())
        producer = FakeAIOKafkaProducer()
        app.producer._producer = producer
        topic, stream = source_stream(app)
        first = await feed(app, topic, stream, ROWS[:3])
        staged = runtime.StagedTable(table)
        boom = RuntimeError("broker said no")

        async def fail_soon() -> None:
            while not producer.sent:
                await asyncio.sleep(0)
            producer.fail(boom)

        failer = asyncio.ensure_future(fail_soon())
        batches_seen = 0
        with pytest.raises(RuntimeError, match="broker said no"):
            async with contextlib.aclosing(runtime.batches(stream, 3, 0.01, flush=[staged])) as it:
                async for events in it:  # the second list never comes: the agent is woken
                    batches_seen += 1
                    for e in events:
                        staged.set(e, e.key, e.value["amount"])
        await failer
        assert batches_seen == 1
        assert not any(m.acked for m in first)
        assert not acked_offsets(app)  # nothing committable: these offsets will be read again
        assert len(app.consumer._unacked_messages) == 3

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_staged_reads_see_staged_writes_and_deletes(installed: None, tmp_path: Path) -> None:
    app = new_app(tmp_path)
    table = app.Table("t", default=float, partitions=1)
    staged = runtime.StagedTable(table, mode="context")
    msg = message(app, 0, 0, b"k", b"{}")
    event = app.create_event("k", {}, None, msg)
    assert staged.get(event, "k", 0.0) == 0.0
    staged.set(event, "k", 5.0)
    assert staged.get(event, "k") == 5.0 and len(staged) == 1
    staged.delete(event, "k")
    assert staged.get(event, "k", "gone") == "gone"


def test_direct_mode_is_refused_where_faust_needs_its_own_path(installed: None, tmp_path: Path) -> None:
    app = new_app(tmp_path)
    plain = app.Table("plain", default=float, partitions=1)
    windowed = app.Table("win", default=float, partitions=1).tumbling(60.0)
    assert "aiokafka" in str(runtime._direct_unsupported(plain))  # producer not started
    app.producer._producer = FakeAIOKafkaProducer()
    assert runtime._direct_unsupported(plain) is None
    assert runtime._direct_unsupported(windowed.table) is not None
    with pytest.raises(NotImplementedError):
        _ = runtime.StagedTable(windowed.table, mode="direct").mode
    assert runtime.StagedTable(windowed.table).mode == "context"


# -- small things ---------------------------------------------------------------------------


def test_event_context_sets_faust_current_event(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    event = app.create_event("k", 1, None, message(app, 0, 0, b"k", b"1"))
    assert current_event() is None
    with runtime.event_context(event):
        assert current_event() is event
    assert current_event() is None


def test_settings_are_plain_app_kwargs(tmp_path: Path) -> None:
    settings_ = runtime.app_settings(producer_linger=0.02)
    assert settings_["producer_linger"] == 0.02
    assert settings_["broker_session_timeout"] == 6.0
    assert "broker_session_timeout" not in runtime.app_settings(local_broker=False)
    app = new_app(tmp_path, **{k: v for k, v in settings_.items() if k != "web_enabled"})
    assert app.conf.producer_max_batch_size == 1 << 20
    options = runtime.rocksdb_options(block_cache_mib=16)
    assert options["block_cache_size"] == 16 << 20 and options["driver"] == "rocksdict"
    assert runtime.rocksdb_options() is not runtime.rocksdb_options()  # Faust pops keys from it
    assert math.isclose(settings_["producer_linger"], 0.02)


def test_tune_gc_sets_the_stream_thresholds_and_hands_back_the_previous_ones() -> None:
    before = gc.get_threshold()
    previous = runtime.tune_gc()
    try:
        assert previous == before
        assert gc.get_threshold() == runtime.GC_THRESHOLDS
        assert runtime.GC_THRESHOLDS[0] > before[0]  # the point: a far larger young generation
    finally:
        gc.set_threshold(*previous)
    assert gc.get_threshold() == before


def test_worker_metrics_expose_the_collectors_activity() -> None:
    from prometheus_client import generate_latest

    from topologies.metrics import Metrics

    exposition = generate_latest(Metrics().registry).decode()
    assert 'python_gc_collections_total{generation="0"}' in exposition


# -- taking queued events in bulk ---------------------------------------------


@settings(max_examples=60, deadline=None)
@given(queued=st.integers(0, 40), limit=st.integers(1, 50), maxsize=st.integers(4, 40),
       under_pressure=st.booleans(), putters=st.integers(0, 3))
def test_take_nowait_does_what_as_many_get_nowait_calls_do(queued: int, limit: int, maxsize: int,
                                                           under_pressure: bool, putters: int) -> None:
    """Same items, same pressure-drop callbacks (the consumer resuming a partition), same
    putters woken: ``_take_nowait`` against ``get_nowait`` on a twin queue."""
    from mode.utils.queues import FlowControlEvent, ThrowableQueue

    async def scenario() -> None:
        def twin() -> tuple[ThrowableQueue, list[str], list[asyncio.Task]]:
            queue: ThrowableQueue = ThrowableQueue(maxsize=maxsize, flow_control=FlowControlEvent())
            calls: list[str] = []
            for i in range(queued):
                queue.force_put_nowait(i)
            if under_pressure:
                for name in ("a", "b"):
                    queue._pending_pressure_drop_callbacks.add(lambda name=name: calls.append(name))
            blocked = [asyncio.ensure_future(asyncio.Queue.put(queue, f"p{i}")) for i in range(putters)]
            return queue, calls, blocked

        ours, our_calls, our_putters = twin()
        theirs, their_calls, their_putters = twin()
        await asyncio.sleep(0)  # the putters block only if the queue is full
        got = runtime._take_nowait(ours, limit)
        expected = [theirs.get_nowait() for _ in range(min(limit, theirs.qsize()))]
        await asyncio.sleep(0)
        assert got == expected
        assert len(our_calls) == len(their_calls)  # which of a set pops first is arbitrary
        assert [t.done() for t in our_putters] == [t.done() for t in their_putters]
        assert list(ours._queue) == list(theirs._queue)
        for task in our_putters + their_putters:
            task.cancel()

    asyncio.run(scenario())


def test_take_nowait_raises_a_queued_error_first() -> None:
    from mode.utils.queues import FlowControlEvent, ThrowableQueue

    async def scenario() -> None:
        queue: ThrowableQueue = ThrowableQueue(maxsize=10, flow_control=FlowControlEvent())
        queue.force_put_nowait("event")
        queue._throw(RuntimeError("changelog write failed"))
        with pytest.raises(RuntimeError, match="changelog"):
            runtime._take_nowait(queue, 5)
        assert runtime._take_nowait(queue, 5) == ["event"]
        assert runtime._take_nowait(queue, 5) == []

    asyncio.run(scenario())
