"""muleguard's stream runtime: Faust (faust-streaming 0.15.x) plus our fixes, in one place.

Everything that changes how Faust behaves at run time lives in this module, so
that it can be read, tested and removed in one piece.  ``docs/runtime.md`` has
the measurements and the argument for why each fix keeps Faust's semantics.

How an app uses it::

    from topologies import runtime

    runtime.install()                       # before the app starts (idempotent)
    app = faust.App("id", broker="kafka://host:port", **runtime.app_settings())
    sums = app.Table("sums", default=float, partitions=4,
                     options=runtime.rocksdb_options())

    @app.agent(topic)
    async def job(stream):
        staged = runtime.StagedTable(sums)
        async for events in runtime.batches(stream, 2000, 0.05, flush=[staged]):
            for event in events:
                key = event.key
                staged.set(event, key, staged.get(event, key, 0.0) + event.value["amount"])

What the pieces do:

* :func:`install` patches three per-message hot spots of the consumer side
  (the drain loop, the conductor's delivery, event construction).
* :func:`batches` iterates a stream a list of events at a time, with the same
  tracking and acking as ``async for event in stream`` but done per list.
* :class:`StagedTable` collects table writes of a batch and writes every
  changed key once: one RocksDB ``WriteBatch`` per partition and one changelog
  record batch per partition, each record in the changelog partition of the
  event that last wrote the key (what ``table[key] = v`` would have used).
  :func:`batches` acks a batch's events only after that batch's changelog
  records are acknowledged by the broker.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import gc
import heapq
import itertools
import logging
import sys
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from aiokafka.consumer.fetcher import Fetcher as _AIOKafkaFetcher
from faust.app.base import App as _FaustApp
from faust.exceptions import KeyDecodeError, ValueDecodeError
from faust.serializers import codecs as _faust_codecs
from faust.serializers.codecs import Codec as _CodecBase
from faust.serializers.codecs import get_codec as _get_codec
from faust.serializers.registry import Registry as _FaustRegistry
from faust.serializers.schemas import Schema as _FaustSchema
from faust.streams import _current_event
from faust.tables.recovery import Recovery as _Recovery
from faust.transport import consumer as _consumer_mod
from faust.transport.drivers import aiokafka as _aiokafka_driver
from faust.transport.utils import DefaultSchedulingStrategy as _DefaultScheduler
from faust.types import TP, EventT
from faust.types import ModelT as _ModelT
from faust.types.enums import ProcessingGuarantee
from faust.types.tuples import ConsumerMessage, ack_lock
from faust.utils import json as _faust_json
from mode.utils.futures import notify

__all__ = [
    "StagedTable",
    "agent",
    "app_settings",
    "batches",
    "event_context",
    "fail_fast",
    "install",
    "installed",
    "rocksdb_options",
    "tune_gc",
    "uninstall",
]

logger = logging.getLogger(__name__)

#: Original attributes replaced by :func:`install`, for :func:`uninstall`.
_ORIGINALS: dict[tuple[Any, str], Any] = {}

_CONSUMER_FINAL_ACK = ConsumerMessage.on_final_ack


# --------------------------------------------------------------------------
# install(): the monkeypatches
# --------------------------------------------------------------------------


def install() -> None:
    """Apply the runtime fixes to Faust's classes (idempotent).

    Call once, before the app starts (importing an app module that calls it at
    the top is fine).  It patches classes, so it affects every app in the
    process.  :func:`uninstall` puts the originals back.
    """
    _patch(_consumer_mod.Consumer, "_drain_messages", _drain_messages)
    _patch(_consumer_mod.Consumer, "perform_seek", _perform_seek)
    _patch(_Recovery, "_resume_streams", _resume_streams)
    _patch(_Recovery, "on_recovery_completed", _on_recovery_completed)
    _patch(_FaustApp, "create_event", _create_event)
    _patch(_aiokafka_driver.AIOKafkaConsumerThread, "_create_worker_consumer", _create_worker_consumer)
    _patch(_AIOKafkaFetcher, "seek_to", _fetcher_seek_to)
    # aiokafka's DEBUG records are built per send and per fetch when the root
    # logger lets them through (``faust worker -l info`` does).
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def uninstall() -> None:
    """Undo :func:`install` (for tests and for measuring Faust as shipped)."""
    for (owner, name), original in list(_ORIGINALS.items()):
        setattr(owner, name, original)
        del _ORIGINALS[(owner, name)]


def installed() -> bool:
    """Return True if :func:`install` is in effect."""
    return bool(_ORIGINALS)


#: Cyclic-collector thresholds of a stream process (CPython's defaults: 700, 10, 10). A worker
#: holds hundreds of thousands of live container objects (decoded states, Faust's and
#: aiokafka's machinery); with the defaults, batch-scoped objects were promoted often enough
#: to trigger a full collection walking all of them every second or so: 7-8 s of GC in a
#: 40,000-event burst that took 29 s. A young generation of 100,000 lets those objects die by
#: reference count before a collection sees them, and full collections wait for 100 middle
#: ones (CPython also waits until the old generation has grown by a quarter).
#: Measured in docs/runtime.md, section 8.
GC_THRESHOLDS = (100_000, 20, 100)


def tune_gc(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> tuple[int, int, int]:
    """Set the cyclic collector's thresholds for a long-running stream process; returns the
    previous ones. Process-wide, so an entry point calls it (``run_worker``), never a library."""
    previous = gc.get_threshold()
    gc.set_threshold(*thresholds)
    return previous


def _patch(owner: Any, name: str, replacement: Any) -> None:
    if (owner, name) not in _ORIGINALS:
        _ORIGINALS[(owner, name)] = vars(owner)[name]
        setattr(owner, name, replacement)


#: Fetch wait of worker consumers. Faust hard-codes ``fetch_max_wait_ms=1500``; a broker that
#: does not answer a waiting fetch as soon as data arrives (Tansu) then adds ~1.3 s to every
#: hop of an idle pipeline. A short wait costs a real Kafka only a few more empty fetches.
FETCH_MAX_WAIT_MS = 20


def _create_worker_consumer(self: Any, transport: Any) -> Any:
    original = _ORIGINALS[(_aiokafka_driver.AIOKafkaConsumerThread, "_create_worker_consumer")]
    consumer = original(self, transport)
    consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
    return consumer


def _fetcher_seek_to(self: Any, tp: Any, offset: int) -> None:
    """aiokafka's ``Fetcher.seek_to`` with the fetched records dropped by ``pop``: Faust
    calls it from the main thread while the consumer thread's ``fetched_records`` deletes
    records too, and the ``in`` check then ``del`` of the original raised ``KeyError``
    when the other thread deleted in between (the drain loop's side: point 8 there)."""
    self._subscriptions.seek(tp, offset)
    self._records.pop(tp, None)
    self._notify(self._wait_consume_future)


def _create_event(self: Any, key: Any, value: Any, headers: Any, message: Any) -> EventT:
    """``App.create_event`` without a settings lookup per event.

    Faust's version evaluates ``self.conf.Event`` per message; the settings
    object records every attribute access, which made it the single most
    expensive line of event construction.  The class is read once per app (on
    first use, i.e. after configuration) and cached on the instance.
    """
    event_cls = self.__dict__.get("_muleguard_event_cls")
    if event_cls is None:
        event_cls = self.__dict__["_muleguard_event_cls"] = self.conf.Event
    return event_cls(self, key, value, headers, message)  # type: ignore[no-any-return]


def _has_commit(offset: int | None) -> bool:
    """Whether the broker's committed offset for a partition says where to read: aiokafka
    treats none and 0 alike (``seek_to_committed`` moves neither), and so does this module."""
    return offset is not None and offset > 0


async def _perform_seek(self: Any) -> None:
    """``Consumer.perform_seek`` (after every rebalance: each partition back to its committed
    offset), except that a stream partition without a committed offset goes to its beginning.

    aiokafka's ``seek_to_committed`` does not move a partition that has no committed offset
    (or offset 0), so its fetch position stays wherever the last fetch left it: past records
    fetched before the rebalance and dropped with the old generation, which then nobody
    processes. With ``consumer_auto_offset_reset="earliest"`` (Faust's default) the
    beginning is where a consumer without a committed offset starts anyway.
    """
    committed = await self.seek_to_committed()
    acks_enabled_for = self.app.topics.acks_enabled_for
    self.__dict__.pop("_muleguard_rewind", None)  # every partition goes back to its commit anyway
    logger.info("Stream partitions sought to their committed offsets: %s", ", ".join(
        f"{tp.topic}[{tp.partition}] {offset}" for tp, offset in sorted(committed.items())
        if acks_enabled_for(tp.topic)) or "none")
    unknown = [tp for tp, offset in committed.items() if not _has_commit(offset) and acks_enabled_for(tp.topic)]
    if unknown and self.app.conf.consumer_auto_offset_reset == "earliest" and hasattr(self, "_thread"):
        await self._thread.seek_to_beginning(*unknown)
    self._read_offset.update({
        tp: offset if offset is not None and offset >= 0 else None for tp, offset in committed.items()})
    # Never backwards: a commit that finished while the broker was asked has set a newer
    # offset here than the answer (revoked partitions were forgotten, so anything kept is
    # this generation's). Faust's _new_offset commits nothing while acked offsets start
    # more than one past this offset, so a stale, older one would stall the partition.
    kept = self._committed_offset
    for tp, offset in committed.items():
        if offset is not None:
            tp = _consumer_mod.ensure_TP(tp)
            known = kept.get(tp)
            kept[tp] = max(known, offset) if known and offset else (known or offset or None)
    # The offset each stream partition must deliver next (see _drain_messages, point 4);
    # unknown without a committed offset. Tansu can answer "no committed offset" while the
    # position is at the previous owner's last commit: a gap from 0 would read the whole
    # partition again.
    next_offset = _next_offsets(self)
    for tp, offset in committed.items():
        if _has_commit(offset):
            next_offset[tp] = offset
        else:
            next_offset.pop(tp, None)
    # The positions are final, but stream records stay held back until the step that
    # called this seek has also resumed flow (see _holding_stream_records), which puts
    # back every partition the drain loop dropped records of, with this answer.
    self._muleguard_sought = committed


def _release_held_back(consumer: Any) -> None:
    """End a hold (:func:`_holding_stream_records`): stream records flow again, and every
    partition the drain loop dropped records of is sought back once more, with no await in
    between, to the committed offset the step's seek got (the records dropped may have been
    fetched after that seek moved the position: it runs in the consumer thread). One without
    a committed offset goes back to its beginning (as the seek itself does), or, under
    "latest", to the first offset held back; left where the dropped records had moved it,
    its records fetched after the seek to the beginning were never read again. No seek in
    the step (another rebalance came first): that rebalance's seek puts everything back.
    """
    committed = consumer.__dict__.pop("_muleguard_sought", None)
    consumer._muleguard_seek_pending = False
    held_back, consumer._muleguard_held_back = getattr(consumer, "_muleguard_held_back", {}), {}
    if committed is None or not hasattr(consumer, "_thread"):
        return
    earliest = consumer.app.conf.consumer_auto_offset_reset == "earliest"
    for tp, first_held_back in held_back.items():
        offset = committed.get(tp)
        if not _has_commit(offset):
            offset = 0 if earliest else first_held_back  # 0: aiokafka resets it to the log start
        try:
            consumer._thread.seek(tp, offset)
        except Exception as exc:  # noqa: BLE001 - revoked meanwhile: the next seek covers it
            logger.info("Could not put %s back to %s: %r", tp, offset, exc)
            continue
        consumer._read_offset[tp] = offset


def _next_offsets(consumer: Any) -> dict[Any, int]:
    """Per stream partition, the offset the drain loop must deliver next: the committed
    offset after a seek (none without one), the delivered offset + 1 after each record.
    Faust's ``_read_offset`` cannot say this: it holds the next offset after a seek but the
    last one after a read."""
    found: dict[Any, int] | None = consumer.__dict__.get("_muleguard_next_offset")
    if found is None:
        found = consumer.__dict__["_muleguard_next_offset"] = {}
    return found


async def _holding_stream_records(self: Any, step: str, generation_id: int) -> None:
    """Run Faust's ``Recovery.<step>`` with stream records held back until it is done.

    At the end of every rebalance Faust resumes the stream partitions, awaits the seek to
    their committed offsets, then resumes flow control. Two ways to lose or repeat records:
    - With flow already running (it always is on a worker's first assignment) records
      fetched between the resume and the seek were delivered, then the seek moved the
      position back and they were delivered and processed again: the keyed-sum recovery
      test counted a restarted worker's new input twice. Swapping the two steps instead
      stalled workers.
    - ``flow_control.resume()`` clears every agent's queue (mode's ``FlowControlQueue``
      with ``clear_on_resume``): records delivered after the seek and still queued were
      dropped unacked, and nothing reads them again, so commits stop below them (the
      likely cause of the hole a crash test's restarted worker once left: 22 signals per
      partition processed, the next 25 never acked, until ``rewind_holes`` read them).
    While ``_muleguard_seek_pending`` is set the drain loop drops stream records; when the
    step returns, :func:`_release_held_back` clears it and puts back every partition it
    dropped records of.
    """
    consumer = self.app.consumer
    consumer._muleguard_seek_pending = True
    consumer.__dict__.pop("_muleguard_sought", None)  # only this step's seek counts
    try:
        await _ORIGINALS[(_Recovery, step)](self, generation_id)
    finally:
        _release_held_back(consumer)


async def _resume_streams(self: Any, generation_id: int = 0) -> None:
    """``Recovery._resume_streams`` (end of a rebalance, app without tables), see above."""
    await _holding_stream_records(self, "_resume_streams", generation_id)


async def _on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """``Recovery.on_recovery_completed`` (end of a rebalance, app with tables), see above."""
    await _holding_stream_records(self, "on_recovery_completed", generation_id)


async def _drain_messages(self: Any, fetcher: Any) -> None:
    """Replacement for ``faust.transport.consumer.Consumer._drain_messages``.

    Same loop as Faust's, with three changes:

    1. ``Consumer.getmany`` is inlined (no async generator step per record) and
       the highwater mark is read once per partition per fetch, not per record
       (it only feeds ``Monitor.track_tp_end_offset``); records of one topic
       are taken in the default scheduler's order by :func:`_round_robin`.
    2. The callback is awaited directly while flow is not suspended.  Faust
       wraps every message in ``wait_first(callback(message),
       suspend_flow.wait())``, which creates four tasks per message.  When flow
       is suspended (rebalance) we use Faust's ``wait_first`` as before.
    3. For a partition delivered to exactly one channel whose decoder is
       Faust's compiled ``Schema`` decoder, the message is decoded and put on
       the channel's queue synchronously (:class:`_FastDelivery`); anything
       else (decode errors, full queue, full producer buffer, several channels,
       resubscription in progress) goes through Faust's conductor callback.
    4. A gap in a partition's offsets is believed only when it is seen twice.
       Faust marks every gap it sees as done, so the next commit passes it:
       right for offsets that do not exist (compaction, transaction markers),
       a loss when records were fetched but not delivered and the fetch
       position moved past them (around rebalances, with a read offset left
       from an earlier assignment: a rebalance test lost 80 account signals
       this way).  On a first sighting the partition is sought back to the
       first missing offset and the rest of the fetch for it is dropped; a gap
       that is there again on the re-read is real and handed to Faust.  A gap
       is measured from the offset the partition must deliver next
       (:func:`_next_offsets`), not from Faust's read offset: after a seek that
       holds the next offset, not the last one read, so a single record missing
       right after a seek looked like no gap at all, and Faust's commit (which
       lets a gap of one through, see :class:`_CommitOrder`) passed it.
    5. While a rebalance's end (its seek and flow resume) is pending
       (``_muleguard_seek_pending``, see :func:`_holding_stream_records`) stream
       records are dropped, and the rest of that partition's records in the fetch
       with them; the first offset dropped is kept per partition.
    6. A partition :func:`rewind_holes` asks for (``_muleguard_rewind``) is
       sought back to its committed offset before the next fetch's records are
       delivered, and that fetch's records of it (read before the seek) are dropped.
    7. A delivery that awaits (Faust's conductor waits for flow control, for the
       producer buffer to ebb, for its callback lock, for queue space) can outlast
       a whole rebalance, the seek to committed offsets included. Faust then sets
       the read offset to the old generation's message anyway, over the seek's:
       the new generation's fetch, which starts at the committed offset, has every
       record below that offset dropped as already read, and its acks start above
       a hole Faust never commits (the rebalance test's stall, docs/runtime.md
       section 4, item 7). After such an await the loop leaves the offsets alone
       if the generation changed, and takes the next fetch.
    8. A fetch that raises ``KeyError`` is taken as an empty one. Faust seeks from
       this thread (``Consumer.seek`` calls aiokafka's ``seek`` directly), while
       aiokafka's ``Fetcher.fetched_records`` runs in the consumer thread: a seek that
       deletes a partition's fetched records between its lookup and its delete makes
       it raise, and the Fetcher service crashed, taking the worker down (a CI run's
       rollout test: "KeyError: TopicPartition('registry.accounts.v1', 2)" at start-up,
       where the end of a rebalance seeks). Records the failed fetch had taken leave a
       gap, which point 4 reads again once a later record of the partition arrives; a
       lost tail stays unread (open: docs/runtime.md, section 4, item 8).
    """
    callback = self.callback
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    next_offset = _next_offsets(self)
    consumer_state = self.__dict__
    flag_consumer_fetching = _consumer_mod.CONSUMER_FETCHING
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    app = self.app
    acks_enabled_for = app.topics.acks_enabled_for
    flow_control_active = app.flow_control.is_active
    suspended = self.suspend_flow.is_set
    buffered_partitions = self._buffered_partitions
    track_tp_end_offset = app.monitor.track_tp_end_offset
    fast = _FastDelivery(app).deliver
    sleep = asyncio.sleep
    gaps_seen: dict[Any, tuple[int, int]] = {}  # tp -> (read offset, next offset) of its last gap
    yield_every = 100
    num_since_yield = 0
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            try:
                records, active_partitions = await self._wait_next_records(1.0)
            except KeyError as exc:  # point 8: the fetch raced a seek; what it lost is a gap (point 4; a tail: open)
                logger.warning("Fetch raced a seek (%r): fetching again", exc)
                records, active_partitions = None, None
            generation_id = app.consumer_generation_id
            rewound: set[Any] = set()
            requests = consumer_state.get("_muleguard_rewind")
            if requests:
                consumer_state["_muleguard_rewind"] = {}
                rewound = await _rewind(self, requests, next_offset)
                for tp in rewound:
                    gaps_seen.pop(tp, None)
            await self.sleep(0)
            if records is None or self.should_stop:
                unset_flag(flag_consumer_fetching)
                continue
            if not self.flow_active:
                self.log.dev("getmany called while flow not active. Seek back to committed offsets.")
                try:
                    await self.perform_seek()
                except Exception as ex:
                    self.log.warning(f"exception performing seek when flow not active {ex}")
                unset_flag(flag_consumer_fetching)
                continue
            to_message = self._to_message
            seen_tps: set[Any] = set()
            reread: set[Any] = rewound  # partitions sought back in this fetch: skip the rest
            for tp, record in _schedule(self.scheduler, records):
                if not self.flow_active:
                    break
                if app.consumer_generation_id != generation_id:
                    self.log.dev("Generation id changed. Cancelling getmany.")
                    break
                if not (
                    active_partitions is None
                    or tp in active_partitions
                    or tp in buffered_partitions
                ) or tp in reread:
                    continue
                # Read per record: the seek can finish at any await of this loop, and a record
                # held back after it would never be put back (see _holding_stream_records).
                if consumer_state.get("_muleguard_seek_pending") and acks_enabled_for(tp.topic):
                    held_back = consumer_state.setdefault("_muleguard_held_back", {})
                    # the first offset not delivered (a later fetch can start lower: the seek)
                    held_back[tp] = min(record.offset, held_back.get(tp, record.offset))
                    reread.add(tp)  # the seek puts tp back: the rest of this fetch comes again
                    continue
                if tp not in seen_tps:
                    seen_tps.add(tp)
                    track_tp_end_offset(tp, self.highwater(tp))
                message = to_message(tp, record)

                num_since_yield += 1
                if num_since_yield > yield_every:
                    await sleep(0)
                    num_since_yield = 0

                offset = message.offset
                r_offset = get_read_offset(tp)
                if r_offset is None or offset >= r_offset:
                    expected = next_offset.get(tp)
                    if expected is not None and offset > expected and acks_enabled_for(message.topic):
                        if gaps_seen.get(tp) != (expected, offset):
                            # Read the partition again from the first missing offset: a real
                            # gap (compaction, transaction markers) shows up again, skipped
                            # records do not (see the docstring).
                            gaps_seen[tp] = (expected, offset)
                            reread.add(tp)
                            logger.info("Offsets %s-%s of %s were not delivered; reading them again",
                                        expected, offset - 1, tp)
                            try:
                                await self.seek(tp, expected)  # next_offset[tp] is expected already
                            except Exception as exc:  # noqa: BLE001 - revoked meanwhile: nothing to read
                                logger.info("Could not seek %s back to %s: %r", tp, expected, exc)
                            continue
                        del gaps_seen[tp]
                        logger.warning("Offsets %s-%s of %s are absent on a second read: skipped as a gap",
                                       expected, offset - 1, tp)
                        # Faust's own call passes ``offset`` and so marks this message done too
                        await self._add_gap(tp, expected, offset - 1)
                    if commit_every is not None:
                        if self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                    if not suspended() and flow_control_active():
                        if not fast(message):
                            await callback(message)
                    else:
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                    if app.consumer_generation_id != generation_id:
                        break  # a rebalance's seek ran during the await: the offsets are its own (point 7)
                    set_read_offset(tp, offset)
                    next_offset[tp] = offset + 1
                else:
                    self.log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r", offset, message.key, message.value)
            unset_flag(flag_consumer_fetching)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(flag_consumer_fetching)


def _schedule(scheduler: Any, records: Any) -> Iterator[tuple[Any, Any]]:
    """``scheduler.iterate(records)``; for Faust's default scheduler and records of
    one topic, the same round-robin order without its three generator levels."""
    if type(scheduler) is _DefaultScheduler and len({tp.topic for tp in records}) == 1:
        return _round_robin(records)
    return scheduler.iterate(records)  # type: ignore[no-any-return]


def _round_robin(records: Any) -> Iterator[tuple[Any, Any]]:
    # DefaultSchedulingStrategy/TopicBuffer: pass k yields the k-th record of every
    # partition that has one, partitions in the order of ``records``.
    items = [(tp, batch) for tp, batch in records.items() if batch]
    longest = max((len(batch) for _, batch in items), default=0)
    for k in range(longest):
        for tp, batch in items:
            if k < len(batch):
                yield tp, batch[k]


class _FastDelivery:
    """Synchronous delivery of a message to its single channel.

    Does what Faust's compiled conductor handler does for one channel, minus
    the three coroutine layers, the lock and the settings lookups per message:
    ``message.incref()``, decode into an event, ``put_nowait_enhanced`` with
    the same pressure callbacks.  Returns False (caller falls back to Faust's
    handler, which then does everything itself) whenever that handler could
    block or would take a path we do not replicate.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.conductor = app.topics
        self.producer_threaded = bool(app.conf.producer_threaded)
        self.cache: dict[Any, tuple[Any, Callable[[Any], bool]]] = {}

    def deliver(self, message: Any) -> bool:
        conductor = self.conductor
        tp = message.tp
        handler = conductor._tp_to_callback.get(tp)
        if handler is None or conductor._tp_to_callback_lock.locked():
            return False
        entry = self.cache.get(tp)
        if entry is None or entry[0] is not handler:
            entry = self.cache[tp] = (handler, self._build(TP(tp[0], tp[1])))
        return entry[1](message)

    def _build(self, tp: TP) -> Callable[[Any], bool]:
        app = self.app
        channels = self.conductor._tp_index.get(tp)
        if not channels or len(channels) != 1:
            return _never
        (chan,) = channels
        decode = _sync_decoder(app, chan)
        if decode is None:
            return _never
        consumer = app.consumer
        on_topic_buffer_full = app.sensors.on_topic_buffer_full

        def on_pressure_high() -> None:
            on_topic_buffer_full(tp)
            consumer.on_buffer_full(tp)

        def on_pressure_drop() -> None:
            consumer.on_buffer_drop(tp)

        pbuf = app.producer.buffer
        threaded = self.producer_threaded
        pending = pbuf.pending
        decode_errors = (KeyDecodeError, ValueDecodeError)

        def deliver(message: Any) -> bool:
            queue = chan.queue
            if queue.full():
                return False
            if (pbuf.size if threaded else pending.qsize()) > pbuf.max_messages:
                return False
            try:
                event = decode(message)
            except decode_errors:
                return False  # Faust's handler decodes again and routes the error
            # message.incref(1) without its lock: the message was made by this drain step and
            # no other thread can see it before it is queued (the lock guards acks from threads).
            message.refcount += 1
            queue.put_nowait_enhanced(
                event, on_pressure_high=on_pressure_high, on_pressure_drop=on_pressure_drop
            )
            return True

        return deliver


def _identity(value: Any) -> Any:
    return value


def _never(message: Any) -> bool:
    return False


def _sync_decoder(app: Any, chan: Any) -> Callable[[Any], Any] | None:
    """Faust's compiled ``Schema`` decoder (``propagate=True``) as a plain function.

    Returns None when the channel decodes some other way (then Faust's own
    handler is used).  Keys and values go through :func:`key_loader` /
    :func:`value_loader`, i.e. the same codec and payload preparation as
    ``app.serializers.loads_key/loads_value``.
    """
    schema = getattr(chan, "schema", None)
    decode = getattr(chan, "decode", None)
    if (
        type(schema) is not _FaustSchema
        or getattr(decode, "__qualname__", "") != "Schema.compile.<locals>.decode"
    ):
        return None
    load_key = key_loader(app, schema.key_type, schema.key_serializer)
    load_value = value_loader(app, schema.value_type, schema.value_serializer)
    create_event = app.create_event
    allow_empty = schema.allow_empty

    def sync_decode(message: Any) -> Any:
        k = load_key(message.key)
        value = message.value
        if value is None and allow_empty:
            return create_event(k, None, message.headers, message)
        return create_event(k, load_value(value), message.headers, message)

    return sync_decode


# --------------------------------------------------------------------------
# Serialization: Faust's Registry with the per-call lookups done once
# --------------------------------------------------------------------------


def key_loader(app: Any, typ: Any, serializer: Any) -> Callable[[bytes | None], Any]:
    """``lambda b: app.serializers.loads_key(typ, b, serializer=serializer)``, faster.

    For Faust's own ``Registry`` the codec is resolved once; the payload is
    prepared by the registry's ``_prepare_payload`` as before, and errors are
    raised as ``KeyDecodeError`` as before.  None keys use the registry.
    """
    registry = app.serializers
    if type(registry) is not _FaustRegistry:
        return lambda data: registry.loads_key(typ, data, serializer=serializer)
    codec_arg = serializer or registry.key_serializer
    return _loader(registry, registry.loads_key, typ, serializer, codec_arg, KeyDecodeError)


def value_loader(app: Any, typ: Any, serializer: Any) -> Callable[[bytes | None], Any]:
    """``lambda b: app.serializers.loads_value(typ, b, serializer=serializer)``, faster."""
    registry = app.serializers
    if type(registry) is not _FaustRegistry:
        return lambda data: registry.loads_value(typ, data, serializer=serializer)
    codec_arg = registry._serializer(typ, serializer, registry.value_serializer)
    return _loader(registry, registry.loads_value, typ, serializer, codec_arg, ValueDecodeError)


def _orjson_codec(codec: Any) -> tuple[Callable[[bytes], Any], Callable[[Any], bytes]] | None:
    """(loads, dumps) doing what Faust's ``json`` codec does when Faust serializes with
    orjson, without its Python frames: its ``_loads`` decodes the bytes to a str for
    orjson, which reads bytes itself, and its ``_dumps`` runs ``faust.utils.json.dumps``
    (orjson with Faust's ``default`` and options) and ``want_bytes`` on orjson's bytes.
    None for any other codec, or when Faust's JSON is the standard library's."""
    orjson = getattr(_faust_json, "orjson", None)
    if type(codec) is not _faust_codecs.json or codec.children or orjson is None:
        return None
    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z
    return orjson.loads, functools.partial(orjson.dumps, default=_faust_json.on_default, option=options)


def _loader(
    registry: Any, general: Any, typ: Any, serializer: Any, codec_arg: Any, error: type
) -> Callable[[bytes | None], Any]:
    codec = _get_codec(codec_arg) if codec_arg else None
    codec_loads = codec.loads if codec is not None else None
    if codec is not None and type(codec).loads is _CodecBase.loads and not codec.children:
        codec_loads = codec._loads  # Codec.loads runs _loads over (self,) + children
        fast = _orjson_codec(codec)
        if fast is not None:
            codec_loads = fast[0]
    prepare = registry._prepare_payload
    if typ is None:
        prepare = _autodetect_preparer(registry, prepare)

    def load(data: bytes | None) -> Any:
        if data is None:
            return general(typ, data, serializer=serializer)
        try:
            return prepare(typ, codec_loads(data) if codec_loads is not None else data)
        except MemoryError:
            raise
        except Exception as exc:
            raise error(str(exc)).with_traceback(sys.exc_info()[2]) from exc

    return load


def _autodetect_preparer(registry: Any, prepare: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``registry._prepare_payload(None, payload)`` with the common answers short-cut.

    With no type, Faust calls ``Model._maybe_reconstruct(payload)``, which only
    returns something other than ``payload`` for a mapping holding the blessed
    key (``"__faust"``).  Plain JSON scalars, lists, and dicts without that key
    come back unchanged, so they are returned directly; anything else goes to
    the registry.
    """
    from faust.models.base import Model

    if registry.Model is not Model:
        return prepare
    blessed = Model._blessed_key
    unchanged = (int, float, bool, str, bytes, list, type(None))

    def prepare_autodetect(typ: Any, payload: Any) -> Any:
        kind = type(payload)
        if kind is dict:
            if blessed not in payload:
                return payload
        elif kind in unchanged:
            return payload
        return prepare(typ, payload)

    return prepare_autodetect


def key_dumper(app: Any, typ: Any, serializer: Any) -> Callable[[Any], bytes | None]:
    """``lambda k: app.serializers.dumps_key(typ, k, serializer=serializer)``, faster.

    Models and bytes take the registry's own path; everything else is encoded
    by the codec the registry would pick, resolved once.
    """
    registry = app.serializers
    general = registry.dumps_key
    if type(registry) is not _FaustRegistry:
        return lambda obj: general(typ, obj, serializer=serializer)  # type: ignore[no-any-return]
    return _dumper(general, typ, serializer, registry._serializer(typ, serializer, registry.key_serializer))


def value_dumper(app: Any, typ: Any, serializer: Any) -> Callable[[Any], bytes | None]:
    """``lambda v: app.serializers.dumps_value(typ, v, serializer=serializer)``, faster."""
    registry = app.serializers
    general = registry.dumps_value
    if type(registry) is not _FaustRegistry:
        return lambda obj: general(typ, obj, serializer=serializer)  # type: ignore[no-any-return]
    return _dumper(general, typ, serializer, registry._serializer(typ, serializer, registry.value_serializer))


def _dumper(general: Any, typ: Any, serializer: Any, codec_arg: Any) -> Callable[[Any], bytes | None]:
    if not codec_arg:
        return lambda obj: general(typ, obj, serializer=serializer)  # type: ignore[no-any-return]
    codec = _get_codec(codec_arg)
    codec_dumps = codec.dumps
    if type(codec).dumps is _CodecBase.dumps and not codec.children:
        codec_dumps = codec._dumps  # Codec.dumps runs _dumps over (self,) + children
        fast = _orjson_codec(codec)
        if fast is not None:
            codec_dumps = fast[1]
    slow_types = (_ModelT, bytes)

    def dump(obj: Any) -> bytes | None:
        if isinstance(obj, slow_types):
            return general(typ, obj, serializer=serializer)  # type: ignore[no-any-return]
        return codec_dumps(obj)  # type: ignore[no-any-return]

    return dump


# --------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------


def app_settings(*, local_broker: bool = True, **overrides: Any) -> dict[str, Any]:
    """Recommended ``faust.App`` keyword arguments for muleguard workers.

    ``local_broker`` shortens session timeouts so that a group join on the
    embedded Tansu broker takes seconds (it waits about session_timeout/2);
    pass False against a real cluster.  ``overrides`` win.
    """
    settings: dict[str, Any] = {
        "web_enabled": False,
        "consumer_auto_offset_reset": "earliest",
        # Changelog and output sends go out in batches instead of one
        # request each (Faust's default linger is 0).
        "producer_linger": 0.01,
        # 1 MiB record batches: StagedTable fills one batch per changelog
        # partition per flush.
        "producer_max_batch_size": 1 << 20,
        "processing_guarantee": "at_least_once",
        "stream_buffer_maxsize": 16384,
    }
    if local_broker:
        settings.update(broker_session_timeout=6.0, broker_heartbeat_interval=1.0)
    settings.update(overrides)
    return settings


def rocksdb_options(*, block_cache_mib: int = 64, write_buffer_mib: int = 32) -> dict[str, Any]:
    """``options=`` for ``app.Table`` on ``store="rocksdb://"``, using rocksdict.

    Faust's default block cache is 2 GiB per table partition; 64 MiB is plenty
    for per-account state.  A new dict per call: Faust's store pops keys
    from the dict it is given.
    """
    return {
        "driver": "rocksdict",
        "block_cache_size": block_cache_mib << 20,
        "block_cache_compressed_size": 0,
        "write_buffer_size": write_buffer_mib << 20,
    }


# --------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------


@contextmanager
def event_context(event: EventT | None) -> Iterator[None]:
    """Make ``event`` Faust's current event (``faust.current_event()``) inside the block.

    Table writes take their changelog partition, and ``topic.send()`` attaches
    sends to the source offset, from the current event; inside a batch there is
    none.  Use this around per-event code that relies on it.
    """
    token = _current_event.set(weakref.ref(event) if event is not None else None)
    try:
        yield
    finally:
        _current_event.reset(token)


async def batches(
    stream: Any,
    max_count: int,
    within_s: float,
    *,
    flush: Sequence[StagedTable] = (),
    sensors: str = "auto",
    order: Callable[[EventT], Any] | None = None,
    hold_s: float = 0.0,
) -> AsyncIterator[list[EventT]]:
    """Iterate ``stream`` as lists of at most ``max_count`` events.

    A list is yielded as soon as ``max_count`` events are buffered or
    ``within_s`` seconds have passed since its first event arrived, whichever
    comes first (it is never empty).  Per event it does what Faust's
    ``async for event in stream`` does: skip (and ack) events from an old
    consumer generation or received while flow is suspended, track the message
    as unacked, report to the sensors, ack after processing.  Here "after
    processing" is when the loop body has finished with the list: when the
    next list is requested, the loop is left, or the body raises (Faust acks
    in all three cases); except after a body that failed under
    :func:`fail_fast`, whose list is neither flushed nor acked.

    ``flush`` lists :class:`StagedTable` objects written by the loop body:
    after the body, each is flushed, and the list's events are acked only once
    all of that list's changelog records are acknowledged by the broker (the
    acks happen in the background; the next list does not wait for them).  If
    a changelog write fails, the events stay unacked (their offsets are never
    committed) and the error is raised into the agent at the next list.

    ``sensors``: ``"per-event"`` calls the app's sensors for every event as
    Faust does.  ``"auto"`` (default) does that too when any sensor besides
    Faust's built-in ``Monitor`` is registered; with only the Monitor it
    updates the Monitor's counters once per list instead (same counters,
    offsets and ``stream_inbound_time`` that the livelock detector reads;
    every event of a list gets the list's processing time as its runtime).

    Requires a stream over a Faust channel/topic, without processors or
    combined streams; ``stream.enable_acks = False`` disables the acks as it
    does for Faust's iteration.

    ``order`` (with ``hold_s > 0``) turns on the reorder buffer: every event is
    held ``hold_s`` seconds after it arrived and events are released in
    ``order(event)`` order (ties: arrival order), so events that reach the
    worker by different paths within ``hold_s`` of each other are processed
    in that order.  The smallest held event is released once its own hold is
    over (so an event waits at most ``hold_s`` behind a smaller one that
    arrived later, and about ``hold_s`` in all when the order follows
    arrival); more than ``REORDER_MAX_HELD`` held events release the smallest
    at once.  Held events are tracked but not acked, so no offset at or past
    one is committed; if the worker stops they are read again.  An event of an
    old consumer generation is skipped (and acked) when released, as Faust
    skips it.
    """
    if max_count < 1:
        raise ValueError("max_count must be >= 1")
    if hold_s < 0 or (hold_s > 0 and order is None):
        raise ValueError("hold_s needs an order function and must be >= 0")
    if sensors not in ("auto", "per-event"):
        raise ValueError("sensors must be 'auto' or 'per-event'")
    channel = stream.channel
    if stream._processors or stream.combined or not hasattr(channel, "queue"):
        raise NotImplementedError(
            "runtime.batches() needs a stream over a channel, without processors or combine()"
        )
    queue = channel.queue
    failure: list[BaseException] = []

    stream._finalized = True
    started_by_us = await stream.maybe_start()
    bulk = _BulkMonitor.for_stream(stream) if sensors == "auto" else None
    per_event = bulk is None
    acker = _Acker(stream, bulk, wake=queue._throw)
    idle: list[float | None] = [None]
    collect = _collect(stream, queue, max_count, within_s, acker, bulk, failure, per_event, idle)
    if order is not None and hold_s > 0:
        collect = _reordered(collect, stream, acker, bulk, order, hold_s, max_count, idle)
    try:
        async for batch, states in collect:
            stream.events_total += len(batch)
            do_ack = stream.enable_acks
            try:
                yield batch
            finally:
                # After the body: flush, then ack once the changelog is acknowledged; after a
                # body that failed (fail_fast), neither.
                if getattr(stream, FAILED_MARK, None) is None:
                    futures: list[asyncio.Future] = []
                    sources: list[Any] = []  # the flush entry of each future, for stalled_acks()
                    for staged in flush:
                        await staged.flush()
                        taken = staged._take_flushes()  # including flushes by the body
                        futures.extend(taken)
                        sources.extend([staged] * len(taken))
                    if do_ack:
                        acker.ack_after(batch, states, futures, failure, sources)
    finally:
        await collect.aclose()
        stream._channel_stop_iteration(channel)
        if started_by_us:
            await stream.stop()
            stream.service_reset()


STOP_HOOK = "_muleguard_stop_worker"  # set on the app by the worker: how to stop it, see fail_fast


def agent(app: Any, channel: Any, name: str) -> Callable[[Callable[[Any], Any]], Any]:
    """``@app.agent(channel, name=name)`` for a :func:`fail_fast` agent function."""
    def register(fun: Callable[[Any], Any]) -> Any:
        return app.agent(channel, name=name)(fail_fast(fun, lambda exc: _stop_worker(app, exc)))
    return register


def _stop_worker(app: Any, exc: BaseException) -> None:
    stop = getattr(app, STOP_HOOK, None)
    if stop is not None:
        stop(exc)


FAILED_MARK = "_muleguard_failed"


def fail_fast(fun: Callable[[Any], Any], on_failure: Callable[[BaseException], None] | None = None,
              ) -> Callable[[Any], Any]:
    """An agent function whose failure stops the worker instead of restarting the agent.

    Why: when an agent's body raises, :func:`batches` is left with the list it was
    processing. It cannot tell that from a body that finished the list and broke out, and
    would flush the list's staged state and ack all of it, events after the failing one
    included, so Faust would commit them unprocessed. And an agent Faust restarts gets a
    fresh commit order that does not know the unacked list: a later commit could pass it.
    So the failure marks the stream (``batches`` then neither flushes nor acks the list in
    hand), calls ``on_failure`` (the worker stops, exit code 1: see
    ``topologies.worker.run_worker``) and the agent waits for the stop without reading on.
    Its partitions' commits stay below the failed list, which the next owner reads again;
    redeliveries are recognised downstream (features/origin.py).
    """
    @functools.wraps(fun)
    async def agent(stream: Any) -> None:
        try:
            await fun(stream)
        except Exception as exc:  # noqa: BLE001 - any failure: see above
            setattr(stream, FAILED_MARK, exc)
            _forget_unacked(stream)
            logger.critical("Agent %s failed (%r): stopping the worker; what it had not finished is "
                            "read again", getattr(fun, "__name__", fun), exc, exc_info=exc)
            if on_failure is not None:
                on_failure(exc)
            await asyncio.Event().wait()  # cancelled when the worker stops

    return agent


def _forget_unacked(stream: Any) -> None:
    """Stop tracking the failed agent's unacked messages without acking them: the worker's
    stop waits until no tracked message is unacked (Faust's ``wait_empty``), and these never
    will be. Untracked, they are still not committed: commits come from acked offsets, and
    the agent acks nothing more. Its topics are its own (one agent per topic)."""
    topics = set(getattr(stream.channel, "topics", ()))
    unacked = stream.app.consumer._unacked_messages
    with ack_lock:
        unacked.difference_update([message for message in unacked if message.topic in topics])


def _take_nowait(queue: Any, limit: int) -> list[EventT]:
    """Up to ``limit`` queued events in one call: what as many ``get_nowait()`` calls would
    return, with their effects (a queued error raised first, pressure-drop callbacks
    endorsed, waiting putters woken), without the three layers of calls per event (mode's
    ``ThrowableQueue`` over ``FlowControlQueue`` over ``asyncio.Queue``)."""
    if queue._errors:
        raise queue._errors.popleft()
    items = queue._queue
    n = min(limit, len(items))
    if n <= 0:
        return []
    popleft = items.popleft
    if queue._pending_pressure_drop_callbacks:  # back-pressure: get_nowait's order exactly
        endorse = queue.maybe_endorse_pressure_drop
        out = []
        for _ in range(n):
            endorse()
            out.append(popleft())
    else:
        out = [popleft() for _ in range(n)]
    putters = queue._putters
    wakeup = queue._wakeup_next
    for _ in range(min(n, len(putters))):
        wakeup(putters)
    return out


async def _collect(
    stream: Any, queue: Any, max_count: int, within_s: float, acker: _Acker,
    bulk: _BulkMonitor | None, failure: list[BaseException], per_event: bool,
    idle: list[float | None] | None = None,
) -> AsyncIterator[tuple[list[EventT], Any]]:
    """The lists of :func:`batches`, with their sensor states (see there).

    ``idle[0]``, when set, bounds the wait for a list's first event: on timeout
    an empty list is yielded (the reorder buffer's clock tick)."""
    app = stream.app
    qget = queue.get
    qget_nowait = queue.get_nowait
    qempty = queue.empty
    errors = queue._errors
    add_unacked = app.consumer._unacked_messages.add
    track = acker.order.track if stream.enable_acks else _ignore  # unacked streams: nothing to order
    acking_topics = app.topics._acking_topics
    on_message_in = stream._on_message_in
    on_stream_event_in = stream._on_stream_event_in
    flow_active = app.flow_control.is_active
    monotonic = time.monotonic
    try:
        while not stream.should_stop:
            if errors:
                raise errors.popleft()
            if failure:
                raise failure[0]
            batch: list[EventT] = []
            states: list[Any] = []
            tracked: list[Any] = []
            skipped: list[EventT] = []
            wait = idle[0] if idle is not None else None
            if wait is None or not qempty():
                event = await qget()
            else:
                try:
                    event = await asyncio.wait_for(qget(), max(wait, 0.0))
                except TimeoutError:
                    yield [], ([] if per_event else 0.0)
                    continue
            deadline = monotonic() + within_s
            # Flow and generation only change in other tasks: read them again
            # after every await, not per event.
            flow_ok, generation = flow_active(), app.consumer_generation_id
            ready: list[EventT] = []  # taken from the queue in one call, not yet looked at
            taken = 0
            while True:
                message = event.message
                if not flow_ok or message.generation_id != generation:
                    acker.ack_skipped(event)  # done with, but never committed (see _CommitOrder)
                    skipped.append(event)
                else:
                    if message.topic in acking_topics and not message.tracked:
                        message.tracked = True
                        add_unacked(message)
                        track(message)
                        if per_event:
                            on_message_in(message.tp, message.offset, message)
                        else:
                            tracked.append(message)
                    if per_event:
                        states.append(on_stream_event_in(message.tp, message.offset, stream, event))
                    batch.append(event)
                    if len(batch) >= max_count:
                        break
                if errors:
                    raise errors.popleft()
                if taken < len(ready):
                    event = ready[taken]
                    taken += 1
                    continue
                ready = _take_nowait(queue, max_count - len(batch))  # never more than fit
                if ready:
                    event, taken = ready[0], 1
                    continue
                remaining = deadline - monotonic()
                if remaining <= 0:
                    break
                await asyncio.sleep(0)  # let the fetcher deliver what it has
                flow_ok, generation = flow_active(), app.consumer_generation_id
                if not qempty():
                    event = qget_nowait()
                    continue
                try:
                    event = await asyncio.wait_for(qget(), remaining)
                except TimeoutError:
                    break
                flow_ok, generation = flow_active(), app.consumer_generation_id
            if skipped:  # normal around a rebalance; anywhere else, it leaves a hole (rewind_holes)
                logger.info("Skipped %d events of generation %s (flow %s, generation now %s): %s",
                            len(skipped), sorted({e.message.generation_id for e in skipped}),
                            "active" if flow_ok else "suspended", generation, _offset_ranges(skipped))
            if not batch:
                continue
            if bulk is not None:
                states = bulk.on_batch_in(stream, batch, tracked)  # type: ignore[assignment]
            yield batch, states
    except StopAsyncIteration:
        # Faust ends a stream's iteration by throwing StopAsyncIteration into
        # its channel queue (and its own iterator returns on it).
        return


REORDER_MAX_HELD = 50_000


async def _reordered(
    collect: AsyncIterator[tuple[list[EventT], Any]], stream: Any, acker: _Acker,
    bulk: _BulkMonitor | None, order: Callable[[EventT], Any], hold_s: float, max_count: int,
    idle: list[float | None],
) -> AsyncIterator[tuple[list[EventT], Any]]:
    """The reorder buffer of :func:`batches`: hold, then release in ``order``."""
    app = stream.app
    held: list[tuple[Any, int, float, EventT, Any]] = []  # (order key, arrival seq, arrival, event, state)
    seq = itertools.count()
    monotonic = time.monotonic
    async for batch, states in collect:
        now = monotonic()
        for i, event in enumerate(batch):
            heapq.heappush(held, (order(event), next(seq), now, event, states[i] if bulk is None else states))
        released: list[tuple[Any, int, float, EventT, Any]] = []
        while held and len(released) < max_count and (
                held[0][2] + hold_s <= now or len(held) > REORDER_MAX_HELD):
            entry = heapq.heappop(held)
            if entry[3].message.generation_id != app.consumer_generation_id:
                acker.ack_skipped(entry[3])  # revoked while held: skipped, as Faust skips stale events
                continue
            released.append(entry)
        idle[0] = max(held[0][2] + hold_s - now, 0.0) if held else None
        if not released:
            continue
        events = [entry[3] for entry in released]
        if bulk is None:
            yield events, [entry[4] for entry in released]
        else:
            yield events, min(entry[4] for entry in released)


class _BulkMonitor:
    """Faust ``Monitor`` bookkeeping for a list of events at once.

    Same effect on the Monitor's counters as its per-event
    ``on_message_in``/``on_stream_event_in``/``on_stream_event_out``/
    ``on_message_out`` calls, except per-message timestamps (``time_in``/
    ``time_out`` on the message) and that each event's runtime sample is the
    list's processing time.  Used only when the Monitor is the only sensor.
    """

    def __init__(self, monitor: Any) -> None:
        self.monitor = monitor

    @classmethod
    def for_stream(cls, stream: Any) -> _BulkMonitor | None:
        return cls.for_app(stream.app)

    @classmethod
    def for_app(cls, app: Any) -> _BulkMonitor | None:
        from faust.sensors.monitor import Monitor

        monitor = app.monitor
        registered = list(app.sensors)
        if type(monitor) is Monitor and registered == [monitor]:
            return cls(monitor)
        return None

    def on_batch_in(self, stream: Any, batch: list[EventT], tracked: list[Any]) -> float:
        m = self.monitor
        n = len(batch)
        if tracked:
            m.messages_received_total += len(tracked)
            m.messages_active += len(tracked)
            by_topic = m.messages_received_by_topic
            read_offsets = m.tp_read_offsets
            for message in tracked:
                by_topic[message.tp.topic] += 1
                read_offsets[message.tp] = message.offset
        now = time.monotonic()
        inbound = m.stream_inbound_time
        for event in batch:
            inbound[event.message.tp] = now
        stream_key = m.stream_lookup.get(stream)
        if stream_key is None:
            stream_key = m.stream_lookup[stream] = str(stream)
        task_key = m.task_lookup.get(stream.task_owner)
        if task_key is None:
            task_key = m.task_lookup[stream.task_owner] = str(stream.task_owner)
        m.events_total += n
        m.events_by_stream[stream_key] += n
        m.events_by_task[task_key] += n
        m.events_active += n
        return m.time()  # type: ignore[no-any-return]

    def on_table_ops(self, table: Any, n_get: int, n_set: int, n_del: int) -> None:
        state = self.monitor._table_or_create(table)
        state.keys_retrieved += n_get
        state.keys_updated += n_set
        state.keys_deleted += n_del

    def on_batch_out(self, n_events: int, n_final: int, time_in: float) -> None:
        m = self.monitor
        m.events_active -= n_events
        m.events_runtime.extend(itertools.repeat(m.time() - time_in, n_events))
        m.messages_active -= n_final


def _ignore(_message: Any) -> None:
    return None


_ACKERS: weakref.WeakSet[_Acker] = weakref.WeakSet()  # every live batches() loop's acker
STALL_AFTER_S = 30.0


def stalled_acks(older_than_s: float = STALL_AFTER_S) -> list[str]:
    """Why this worker's offsets may have stopped moving, in words for its log.

    Each entry is a list of events processed longer than ``older_than_s`` ago whose acks
    still wait (for which kind of flush: the send channel's deliveries or a table's
    changelog writes), or a partition whose oldest tracked message has been pending that
    long with others queued behind it (:class:`_CommitOrder`), or a commit that has not
    returned for that long, or acked offsets Faust's bookkeeping will never commit (a
    gap at their head). Each keeps committed offsets where they are. A worker calls it
    from a timer (``topologies/views.py``): a stall then leaves a trace even when nothing
    else is logged.
    """
    now = time.monotonic()
    ackers = list(_ACKERS)
    found = [line for acker in ackers for line in acker.stalls(older_than_s, now)]
    for consumer in {id(a.consumer): a.consumer for a in ackers}.values():
        # A commit that never returns holds every later one (Faust awaits it first), and it
        # runs on the consumer's thread, as fetches do: that thread answering nothing would
        # look like this, with no list waiting above.
        found += _unreachable_acks(consumer)
        pending = getattr(consumer, "_commit_fut", None)
        key = id(consumer)
        if pending is None or pending.done():
            _COMMITS_SEEN.pop(key, None)
            continue
        seen = _COMMITS_SEEN.get(key)
        first_seen = seen[1] if seen is not None and seen[0] is pending else now
        _COMMITS_SEEN[key] = (pending, first_seen)
        if now - first_seen >= older_than_s:
            found.append(f"consumer: a commit has not returned for {now - first_seen:.0f} s")
    return found


_COMMITS_SEEN: dict[int, tuple[asyncio.Future, float]] = {}  # id(consumer) -> (its pending commit, first seen)


def _unreachable_acks(consumer: Any) -> list[str]:
    """Partitions whose acked offsets Faust will not commit (:func:`_holes`), in words."""
    return [f"{tp.topic}[{tp.partition}]: {count} offsets acked from {first}, but the committed "
            f"offset Faust keeps is {base}: none of them will be committed"
            for tp, base, first, count in _holes(consumer)]


def _holes(consumer: Any) -> list[tuple[Any, int, int, int]]:
    """(partition, committed offset, oldest acked offset, acks) where Faust will commit
    nothing: its ``_new_offset`` waits while the oldest acked offset is more than one past
    the committed offset it keeps (``_committed_offset``), and the offsets in between were
    never acked in this generation. :class:`_CommitOrder` hands acks over in the order
    messages were delivered, so a message still being processed never leaves such a hole:
    the offsets in it were not delivered in this generation at all."""
    found = []
    committed = getattr(consumer, "_committed_offset", {})
    gaps = getattr(consumer, "_gap", {})
    for tp, acked in list(getattr(consumer, "_acked", {}).items()):
        base = committed.get(tp)
        if not (acked and base):
            continue
        first = min(acked)
        if first - base <= 1:
            continue
        known_gap = gaps.get(tp)
        if known_gap and known_gap.overlaps(base, first):  # a real gap: Faust fills it in
            continue
        found.append((tp, base, first, len(acked)))
    return found


def rewind_holes(older_than_s: float = STALL_AFTER_S, consumers: Sequence[Any] | None = None,
                 ) -> list[tuple[TP, str]]:
    """Read again, from its committed offset, every partition that has had the same hole
    below its acked offsets (:func:`_holes`) for ``older_than_s``; per partition, a line
    for the log.

    Why: nothing else ever fills such a hole. Only a rebalance would (it seeks every
    partition to its committed offset), and a worker alone in its group may never see one:
    the rebalance test caught a worker that had acked offsets 1011-1316 of a partition
    whose commit stood at 960 and committed nothing more until it was stopped. Its cause
    is fixed (:func:`_drain_messages`, point 7); this is the safety net for any other
    that leaves the same hole. Reading from the committed offset is what a
    rebalance does and is always safe: messages already applied are recognised by their
    origin and skipped (features/origin.py), and the missing ones are processed. The drain
    loop does the seek (:func:`_drain_messages`, point 6), between two fetches.
    ``consumers``: those of every live ``batches()`` loop unless given.
    """
    now = time.monotonic()
    lines = []
    if consumers is None:
        consumers = [a.consumer for a in list(_ACKERS)]
    waiting: dict[tuple[int, Any], tuple[int, int, float]] = {}  # holes seen, not yet rewound
    for key, consumer in {id(c): c for c in consumers}.items():
        for tp, base, first, count in _holes(consumer):
            seen = _HOLES_SEEN.get((key, tp))
            since = seen[2] if seen is not None and seen[:2] == (base, first) else now
            if now - since < older_than_s:
                waiting[(key, tp)] = (base, first, since)
                continue
            consumer.__dict__.setdefault("_muleguard_rewind", {})[tp] = base
            lines.append((tp, f"{tp.topic}[{tp.partition}]: offsets {base}-{first - 1} never acked for "
                              f"{now - since:.0f} s ({count} acked after them): reading from {base} again"))
    _HOLES_SEEN.clear()
    _HOLES_SEEN.update(waiting)
    return lines


_HOLES_SEEN: dict[tuple[int, Any], tuple[int, int, float]] = {}  # (id(consumer), tp) -> (committed, first acked, since)


async def _rewind(consumer: Any, requests: dict[Any, int], next_offset: dict[Any, int]) -> set[Any]:
    """Seek each requested partition back to its committed offset if the hole is still
    there (the drain loop's side of :func:`rewind_holes`); the partitions sought."""
    holes = {tp: base for tp, base, _first, _count in _holes(consumer)}  # base: the committed offset
    assigned = consumer.assignment()
    sought = set()
    for tp, offset in requests.items():
        if holes.get(tp) != offset or tp not in assigned:
            continue  # committed meanwhile, or moved away: nothing to read again
        try:
            await consumer.seek(tp, offset)  # Faust's seek: its read offset becomes ``offset``
        except Exception as exc:  # noqa: BLE001 - revoked meanwhile: the next seek covers it
            logger.info("Could not seek %s back to %s: %r", tp, offset, exc)
            continue
        next_offset[tp] = offset
        sought.add(tp)
    return sought


def _describe_flush(entry: Any) -> str:
    """A flush entry's name, with what it says of itself (``stall_note()``, e.g. how many
    messages the sender's librdkafka still holds)."""
    note = getattr(entry, "stall_note", None)
    return f"{type(entry).__name__} ({note()})" if callable(note) else type(entry).__name__


def _offset_ranges(events: Sequence[EventT]) -> str:
    """``topic[partition] first-last`` per partition of ``events``."""
    spans: dict[Any, list[int]] = {}
    for event in events:
        message = event.message
        span = spans.get(message.tp)
        if span is None:
            spans[message.tp] = [message.offset, message.offset]
        else:
            span[0], span[1] = min(span[0], message.offset), max(span[1], message.offset)
    return ", ".join(f"{tp.topic}[{tp.partition}] {lo}-{hi}" for tp, (lo, hi) in spans.items())


class _CommitOrder:
    """Hands acks to Faust's commit bookkeeping in the order messages were tracked, per
    partition and consumer generation, and never an ack that follows a skipped message.

    Why: Faust commits the first run of consecutive acked offsets, and its gap check lets a
    gap of one offset through, or any gap before a partition's first commit
    (``Consumer._new_offset``: committed 10 and acked [11] commits 12; faust-streaming
    issue #606, open since 2024).  Acks here can
    overtake an unprocessed message: a list's acks wait for its changelog and sends, which
    can finish after the next list's; the reorder buffer releases out of offset order; and a
    skipped message of an old generation is not processed at all.  A commit past such a
    message loses it when the partition moves or the worker stops (a rebalance test met it:
    a transfer neither of whose accounts was ever updated).  So each message waits for the
    messages tracked before it in its lane; a skipped one withholds every message tracked
    after it so far; and a message of an old generation is never handed over: after a
    rebalance Faust seeks every partition to its committed offset and the new generation's
    copies are processed (and deduplicated, features/origin.py) and committed instead.
    """

    PENDING, DONE, DROPPED = 0, 1, 2

    def __init__(self, app: Any) -> None:
        self.app = app
        # (tp, generation) -> entries [message, state, withheld] in tracking order
        self.lanes: dict[tuple[Any, int], collections.deque[list]] = {}
        self.entries: dict[int, list] = {}  # id(message) -> its entry while in a lane

    def track(self, message: Any) -> None:
        key = (message.tp, message.generation_id)
        lane = self.lanes.get(key)
        if lane is None:
            lane = self.lanes[key] = collections.deque()
        entry = [message, self.PENDING, False]
        lane.append(entry)
        self.entries[id(message)] = entry

    def finish(self, message: Any, processed: bool) -> list[Any]:
        """The messages whose acks can go to Faust now that ``message`` is done with."""
        entry = self.entries.pop(id(message), None)
        if entry is None:  # never tracked here: Faust's own order applies
            return [message] if processed and self._current(message) else []
        lane = self.lanes[(message.tp, message.generation_id)]
        if processed:
            entry[1] = self.DONE
        else:
            entry[1] = self.DROPPED
            behind = False
            for other in lane:
                if other is entry:
                    behind = True
                elif behind:
                    other[2] = True
        out: list[Any] = []
        while lane and lane[0][1] != self.PENDING:
            head, state, withheld = lane.popleft()
            if state == self.DONE and not withheld and self._current(head):
                out.append(head)
        if not lane:
            del self.lanes[(message.tp, message.generation_id)]
        return out

    def _current(self, message: Any) -> bool:
        return message.generation_id == self.app.consumer_generation_id


class _Acker:
    """Acks events the way Faust's stream iterator does, a list at a time, handing the
    acks to Faust's commit bookkeeping through a :class:`_CommitOrder`."""

    def __init__(
        self, stream: Any, bulk: _BulkMonitor | None,
        wake: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.stream = stream
        self.bulk = bulk
        self.wake = wake
        app = stream.app
        self.consumer = app.consumer
        self.order = _CommitOrder(app)
        # Lists processed whose acks wait for their futures: token -> (since, events,
        # futures, what each future is), read only by stalled_acks().
        self.waiting: dict[int, tuple[float, Sequence[EventT], list[asyncio.Future], list[Any]]] = {}
        self._tokens = itertools.count()
        self._heads: dict[Any, tuple[Any, float]] = {}  # lane -> (its head message, first seen)
        _ACKERS.add(self)
        self.acks_enabled_for = app.topics.acks_enabled_for
        self.on_stream_event_out = stream._on_stream_event_out
        self.on_message_out = stream._on_message_out

    def ack_skipped(self, event: EventT) -> None:
        """Ack an event the stream skipped (Faust reports no sensor state for it)."""
        last = self._ack([event], processed=False)
        if self.bulk is None:
            message = event.message
            self.on_stream_event_out(message.tp, message.offset, self.stream, event, None)
            if last[0]:
                self.on_message_out(message.tp, message.offset, message)
        elif last[0]:
            self.bulk.monitor.messages_active -= 1

    def ack(self, events: Sequence[EventT], states: Any) -> None:
        last = self._ack(events)
        if self.bulk is not None:
            self.bulk.on_batch_out(len(events), sum(last), states)
            return
        stream = self.stream
        on_stream_event_out = self.on_stream_event_out
        on_message_out = self.on_message_out
        for event, state, is_last in zip(events, states, last, strict=True):
            message = event.message
            on_stream_event_out(message.tp, message.offset, stream, event, state)
            if is_last:
                on_message_out(message.tp, message.offset, message)

    def _ack(self, events: Sequence[EventT], processed: bool = True) -> list[bool]:
        """``Message.ack`` for each event's message, under one ``ack_lock``.

        Same bookkeeping as Message.ack -> ConsumerMessage.on_final_ack ->
        Consumer.ack (as Faust's Cython iterator also inlines it), except that
        the offset reaches Faust's commit bookkeeping when ``self.order`` says
        so.  Returns, per event, whether this was the message's final ack.
        """
        consumer = self.consumer
        acks_enabled_for = self.acks_enabled_for
        committed_offset = consumer._committed_offset
        acked_index_for = consumer._acked_index
        acked_for = consumer._acked
        unacked = consumer._unacked_messages
        finish = self.order.finish
        last: list[bool] = []
        n_acked = 0
        with ack_lock:
            for event in events:
                message = event.message
                is_last = False
                if not message.acked:
                    refcount = message.refcount - 1
                    message.refcount = refcount = refcount if refcount > 0 else 0
                    if not refcount:
                        if type(message).on_final_ack is not _CONSUMER_FINAL_ACK:
                            is_last = message.on_final_ack(consumer)
                        else:
                            message.acked = True
                            if acks_enabled_for(message.topic):
                                unacked.discard(message)
                                is_last = True
                                for done in finish(message, processed):
                                    tp, offset = done.tp, done.offset
                                    committed = committed_offset[tp]
                                    if committed is None or offset >= committed:
                                        acked_index = acked_index_for[tp]
                                        if offset not in acked_index:
                                            acked_index.add(offset)
                                            acked_for[tp].append(offset)
                                            n_acked += 1
                last.append(is_last)
            consumer._n_acked += n_acked
        notify(consumer._waiting_for_ack)
        return last

    def ack_after(
        self,
        events: list[EventT],
        states: Any,
        futures: list[asyncio.Future],
        failure: list[BaseException],
        sources: Sequence[Any] = (),
    ) -> None:
        """Ack ``events`` once every future in ``futures`` succeeded (``sources``: the flush
        entry each future came from, for :func:`stalled_acks`)."""
        for f in futures:
            if f.done() and (f.cancelled() or f.exception() is not None):
                self._fail(f, failure)
                return
        waiting = [f for f in futures if not f.done()]
        if not waiting:
            self.ack(events, states)
            return
        remaining = [len(waiting)]
        token = next(self._tokens)
        self.waiting[token] = (time.monotonic(), events, futures, list(sources))

        def done(f: asyncio.Future) -> None:
            if remaining[0] < 0:
                return
            if f.cancelled() or f.exception() is not None:
                self.waiting.pop(token, None)
                self._fail(f, failure)
                remaining[0] = -1
                return
            remaining[0] -= 1
            if remaining[0] == 0:
                self.waiting.pop(token, None)
                self.ack(events, states)

        for f in waiting:
            f.add_done_callback(done)

    def stalls(self, older_than_s: float, now: float) -> list[str]:
        """Lists whose acks have waited longer than ``older_than_s``, and commit lanes whose
        first message has been pending that long (see :func:`stalled_acks`)."""
        name = getattr(self.stream, "shortlabel", None) or repr(self.stream)
        found = []
        for since, events, futures, sources in list(self.waiting.values()):
            if now - since >= older_than_s:
                pending = [_describe_flush(sources[i]) if i < len(sources) else "?"
                           for i, f in enumerate(futures) if not f.done()]
                found.append(f"{name}: {len(events)} events ({_offset_ranges(events)}) processed "
                             f"{now - since:.0f} s ago still wait for {', '.join(pending) or 'nothing'}")
        heads: dict[Any, tuple[Any, float]] = {}
        for lane_key, lane in list(self.order.lanes.items()):
            if not lane or lane[0][1] != _CommitOrder.PENDING:
                continue
            head = lane[0][0]
            seen = self._heads.get(lane_key)
            first_seen = seen[1] if seen is not None and seen[0] is head else now
            heads[lane_key] = (head, first_seen)
            if now - first_seen >= older_than_s:
                tp, generation = lane_key
                found.append(f"{name}: {tp.topic}[{tp.partition}] generation {generation}: offset "
                             f"{head.offset} not done for {now - first_seen:.0f} s, {len(lane) - 1} "
                             "messages after it wait for it")
        self._heads = heads
        return found

    def _fail(self, fut: asyncio.Future, failure: list[BaseException]) -> None:
        if fut.cancelled():
            # The worker is stopping (its tasks are cancelled): the list stays
            # unacked, so it is not committed and will be read again.
            logger.info("Changelog write cancelled; batch left unacked")
            return
        exc: BaseException = fut.exception()  # type: ignore[assignment]
        if not failure:
            logger.error("Changelog write failed; batch left unacked: %r", exc)
            failure.append(exc)
            if self.wake is not None:
                self.wake(exc)  # raise it in the agent now, not at the next event


# --------------------------------------------------------------------------
# Table writes, once per key per batch
# --------------------------------------------------------------------------

_DELETED = object()


class StagedTable:
    """Stage writes to a Faust ``Table`` and write each changed key once per flush.

    ``get(event, key)`` reads the staged value or the table; ``set(event, key,
    value)`` stages it; ``delete(event, key)`` stages a deletion.  ``event`` is
    the event the write comes from: the key is written to the store partition
    and changelog partition of that event's message, exactly what
    ``table[key] = value`` inside ``async for event in stream`` uses.  The last
    write of a key (per partition) in a batch wins.

    :meth:`flush` writes the staged keys; two ways, chosen per table:

    * ``"direct"`` (plain Table, memory or RocksDB store, aiokafka producer,
      at-least-once): one store write per key (one RocksDB ``WriteBatch`` per
      partition), one changelog record per key serialized as Faust would, sent
      as one record batch per changelog partition through Faust's own aiokafka
      producer.  The persisted changelog offset in RocksDB is set when a record
      batch is acknowledged, as Faust does per record.  Returns a future that
      completes when every record is acknowledged.
    * ``"context"`` (anything else: windowed tables, ``use_partitioner``,
      exactly-once, other stores): for each key, the event becomes Faust's
      current event and ``table[key] = value`` runs: Faust's own path, once per
      key instead of once per event.
    """

    def __init__(self, table: Any, *, mode: str = "auto", tail_record_batch: bool = True) -> None:
        if mode not in ("auto", "direct", "context"):
            raise ValueError("mode must be 'auto', 'direct' or 'context'")
        self.table = table
        #: Send the last changelog record of each partition of a flush as a
        #: record batch of its own.  Tansu answers ListOffsets(latest) with the
        #: newest batch's base offset + 1; with a one-record last batch that is
        #: the true end, so Faust's recovery neither stops early nor finds the
        #: persisted offset "ahead of the highwater" (ConsistencyError) after a
        #: rebalance.  Costs one small batch per partition per flush; harmless
        #: on Kafka.
        self.tail_record_batch = tail_record_batch
        self.requested_mode = mode
        self._pending: dict[tuple[int, Any], tuple[EventT, Any]] = {}
        self.last_flush: asyncio.Future | None = None
        self._mode: str | None = None
        self.keys_written = 0
        self.records_sent = 0
        #: Flushes whose changelog batches may be unsubmitted at once before
        #: :meth:`flush` waits (bounds memory when the broker is slower).
        self.max_in_flight = 4
        self._submit_tail: asyncio.Future | None = None
        self._encoder_cache: tuple[Any, Any, Any, Any] | None = None
        #: Keys encoded by reads since the last flush (in a 1-list so the
        #: reader closure sees the dict the flush swaps in).
        self._encoded_keys_ref: list[dict[Any, bytes]] = [{}]
        self._reader: Callable[[EventT, Any, Any], Any] | None = None
        self.reads = 0
        self._flushes: list[asyncio.Future] = []
        self._sensor_on_get: Callable[[Any, Any], None] | None = None
        self._bulk_monitor: _BulkMonitor | None = None
        self._decode_value: Callable[[bytes | None], Any] = getattr(table.data, "_decode_value", None) or _identity
        self._in_flight: collections.deque[asyncio.Future] = collections.deque()

    # -- staging ---------------------------------------------------------

    def get(self, event: EventT, key: Any, default: Any = None) -> Any:
        """Value of ``key`` as of the staged writes (the table's otherwise).

        Missing keys return ``default`` (the table's ``default()`` factory is
        not called).
        """
        reader = self._reader
        if reader is None:
            reader = self._make_reader()
        self.reads += 1
        if self._sensor_on_get is not None:
            self._sensor_on_get(self.table, key)
        staged = self._pending.get((event.message.partition, key))
        if staged is not None:
            value = staged[1]
            return default if value is _DELETED else value
        return reader(event, key, default)

    def set(self, event: EventT, key: Any, value: Any) -> None:
        """Stage ``table[key] = value`` from ``event``."""
        self._pending[(event.message.partition, key)] = (event, value)

    def delete(self, event: EventT, key: Any) -> None:
        """Stage ``del table[key]`` from ``event``."""
        self._pending[(event.message.partition, key)] = (event, _DELETED)

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def mode(self) -> str:
        """``"direct"`` or ``"context"`` (decided on first use)."""
        if self._mode is None:
            self._mode = self._choose_mode()
            self._resolve_sensors()
        return self._mode

    def _resolve_sensors(self) -> None:
        # Reads report to the table sensors like ``table[key]`` does: per read,
        # or, when Faust's Monitor is the only sensor and we write directly,
        # as one counter update per flush (see _BulkMonitor).
        bulk = _BulkMonitor.for_app(self.table.app) if self._mode == "direct" else None
        self._bulk_monitor = bulk
        self._sensor_on_get = None if bulk is not None else self.table._sensor_on_get

    def _take_reads(self) -> int:
        reads, self.reads = self.reads, 0
        return reads

    # -- reading ---------------------------------------------------------

    def _make_reader(self) -> Callable[[EventT, Any, Any], Any]:
        store = self.table.data
        if self.mode == "direct" and _is_rocksdb_store(store):
            # What the RocksDB store's _get does with a current event: read the
            # key from the event's partition database.
            encode_key, _, store_encode_key, _ = self._encoders()
            db_for_partition = store._db_for_partition
            dbs = store._dbs  # Faust's store only ever mutates this dict (open, revoke, stop)
            decode_value = self._decode_value
            encoded_keys = self._encoded_keys_ref

            def read_rocksdb(event: EventT, key: Any, default: Any) -> Any:
                if store_encode_key is None:
                    k_bytes = encoded_keys[0][key] = encode_key(key)  # reused by flush
                else:
                    k_bytes = store_encode_key(key)
                partition = event.message.partition
                db = dbs.get(partition)
                if db is None:
                    db = db_for_partition(partition)  # opens it, as Faust's read would
                raw = db.get(k_bytes)
                if raw is None:
                    return default
                return decode_value(raw)

            self._reader = read_rocksdb
        else:

            def read_store(event: EventT, key: Any, default: Any) -> Any:
                with event_context(event):
                    if key in store:
                        return store[key]
                return default

            self._reader = read_store
        return self._reader

    # -- writing ---------------------------------------------------------

    async def flush(self) -> asyncio.Future:
        """Write every staged key once; return a future for the changelog acks."""
        pending, self._pending = self._pending, {}
        loop = asyncio.get_running_loop()
        if not pending:
            fut: asyncio.Future = loop.create_future()
            fut.set_result(None)
            self.last_flush = fut
            return fut
        if self.mode == "direct":
            fut = await self._flush_direct(pending)
        else:
            fut = self._flush_context(pending, loop)
        self.last_flush = fut
        self._flushes.append(fut)
        return fut

    def _take_flushes(self) -> list[asyncio.Future]:
        flushes, self._flushes = self._flushes, []
        return flushes

    def _flush_context(self, pending: dict, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
        table = self.table
        for (_, key), (event, value) in pending.items():
            with event_context(event):
                if value is _DELETED:
                    if key in table:
                        del table[key]
                else:
                    table[key] = value
        self.keys_written += len(pending)
        fut = loop.create_future()
        fut.set_result(None)  # Faust's own path: the commit flushes the producer
        return fut

    async def _flush_direct(self, pending: dict) -> asyncio.Future:
        table = self.table
        app = table.app
        store = table.data
        changelog = table.changelog_topic
        topic_name = changelog.get_topic_name()
        encode_key, encode_value, store_encode_key, store_encode_value = self._encoders()
        encoded_keys = self._encoded_keys_ref[0]
        self._encoded_keys_ref[0] = {}
        rocks = _is_rocksdb_store(store)
        bulk = self._bulk_monitor
        sensor_on_set = table._sensor_on_set
        sensor_on_del = table._sensor_on_del
        n_set = n_del = 0
        produce_signal = app.on_produce_message
        signal_receivers = bool(produce_signal._receivers) or any(
            produce_signal._filter_receivers.values()
        )

        by_partition: dict[int, list[tuple[bytes, bytes | None]]] = {}
        write_batches: dict[int, Any] = {}
        for (partition, key), (_event, value) in pending.items():
            deleted = value is _DELETED
            k_bytes = encoded_keys.get(key)
            if k_bytes is None:
                k_bytes = encode_key(key)
            v_bytes = None if deleted else encode_value(value)
            records = by_partition.get(partition)
            if records is None:
                records = by_partition[partition] = []
            records.append((k_bytes, v_bytes))
            if rocks:
                wb = write_batches.get(partition)
                if wb is None:
                    wb = write_batches[partition] = _new_write_batch(store)
                sk = k_bytes if store_encode_key is None else store_encode_key(key)
                if deleted:
                    wb.delete(sk)
                else:
                    wb.put(sk, v_bytes if store_encode_value is None else store_encode_value(value))
            else:
                if deleted:
                    store.data.pop(key, None)
                else:
                    store.data[key] = value
            if bulk is not None:
                if deleted:
                    n_del += 1
                else:
                    n_set += 1
            elif deleted:
                sensor_on_del(table, key)
            else:
                sensor_on_set(table, key, value)
            if signal_receivers:
                produce_signal.send(
                    key=k_bytes, value=v_bytes, partition=partition, timestamp=None, headers=None
                )
        for partition, wb in write_batches.items():
            store._db_for_partition(partition).write(wb)
        self.keys_written += len(pending)
        if bulk is not None:
            bulk.on_table_ops(table, self._take_reads(), n_set, n_del)

        producer = app.producer._producer  # aiokafka.AIOKafkaProducer
        batches_out: list[tuple[TP, Any, int]] = []
        for partition, records in by_partition.items():
            tp = TP(topic_name, partition)
            batch = producer.create_batch()
            count = 0
            last = len(records) - 1
            for i, (k_bytes, v_bytes) in enumerate(records):
                if count and i == last and self.tail_record_batch:
                    batches_out.append((tp, batch, count))  # see tail_record_batch
                    batch = producer.create_batch()
                    count = 0
                if batch.append(key=k_bytes, value=v_bytes, timestamp=None) is None:
                    batches_out.append((tp, batch, count))
                    batch = producer.create_batch()
                    count = 0
                    if batch.append(key=k_bytes, value=v_bytes, timestamp=None) is None:
                        raise ValueError(f"changelog record for {tp} larger than a batch")
                count += 1
            batches_out.append((tp, batch, count))
            self.records_sent += len(records)
        # Submit the record batches in a task chained after the previous
        # flush's submission, so changelog order per partition is flush order
        # without the agent waiting for the producer (aiokafka's add_batch
        # waits while an earlier batch for the partition is not yet drained).
        submit = asyncio.ensure_future(
            self._submit(self._submit_tail, producer, batches_out, store, rocks)
        )
        self._submit_tail = submit
        self._in_flight.append(submit)
        while len(self._in_flight) > self.max_in_flight:
            await asyncio.wait([self._in_flight.popleft()])
        while self._in_flight and self._in_flight[0].done():
            self._in_flight.popleft()
        return asyncio.ensure_future(_acks_of(submit))

    @staticmethod
    async def _submit(
        previous: asyncio.Future | None,
        producer: Any,
        batches_out: list[tuple[TP, Any, int]],
        store: Any,
        rocks: bool,
    ) -> list[asyncio.Future]:
        if previous is not None:
            # Order after the previous flush's submission (its failure is
            # reported through its own future).
            await asyncio.wait([previous])
        acks = []
        # The persisted offset moves only when a partition's *last* batch of the flush is acked:
        # a crash between its batches must not leave RocksDB ahead of what Tansu reports as the
        # partition's end (the tail batch, see tail_record_batch), or recovery refuses to start
        # (ConsistencyError). Records of earlier batches are simply replayed on recovery.
        last_of = {tp: i for i, (tp, _, _) in enumerate(batches_out)}
        for i, (tp, batch, count) in enumerate(batches_out):
            batch.close()
            fut = await producer.send_batch(batch, tp.topic, partition=tp.partition)
            if rocks and last_of[tp] == i:
                fut.add_done_callback(_persist_offset_callback(store, tp, count))
            acks.append(fut)
        return acks

    def _encoders(self) -> tuple[Any, Any, Any, Any]:
        """(changelog key, changelog value, store key, store value) encoders.

        The changelog ones produce what ``changelog_topic.send(key, value,
        key_serializer=table.key_serializer, ...)`` would.  The store ones are
        None when they produce the same bytes (the usual case: Faust builds
        the store and the changelog topic from the table's types and
        serializers), so each key and value is serialized once.
        """
        if self._encoder_cache is None:
            table = self.table
            app = table.app
            store = table.data
            schema = table.changelog_topic.schema
            key_type, value_type = schema.key_type, schema.value_type
            key_ser = table.key_serializer or schema.key_serializer
            value_ser = table.value_serializer or schema.value_serializer
            encode_key = key_dumper(app, key_type, key_ser)
            encode_value = value_dumper(app, value_type, value_ser)
            store_key = store_value = None
            if _is_rocksdb_store(store):
                if not (store.key_type is key_type and store.key_serializer == key_ser):
                    store_key = key_dumper(app, store.key_type, store.key_serializer)
                if not (store.value_type is value_type and store.value_serializer == value_ser):
                    store_value = value_dumper(app, store.value_type, store.value_serializer)
                self._decode_value = value_loader(app, store.value_type, store.value_serializer)
            self._encoder_cache = (encode_key, encode_value, store_key, store_value)
        return self._encoder_cache

    # -- mode ------------------------------------------------------------

    def _choose_mode(self) -> str:
        reason = _direct_unsupported(self.table)
        if self.requested_mode == "direct" and reason:
            raise NotImplementedError(f"StagedTable direct mode unsupported: {reason}")
        if self.requested_mode == "context" or reason:
            return "context"
        return "direct"


async def _acks_of(submit: asyncio.Future) -> None:
    for ack in await submit:
        await ack


def _persist_offset_callback(store: Any, tp: TP, count: int) -> Callable[[asyncio.Future], None]:
    """What ``Table._on_changelog_sent`` does per record, once per record batch."""

    def persist(fut: asyncio.Future) -> None:
        if not fut.cancelled() and fut.exception() is None:
            last_offset = fut.result().offset + count - 1
            previous = store.persisted_offset(tp)
            if previous is None or last_offset > previous:
                store.set_persisted_offset(tp, last_offset)

    return persist


def _is_rocksdb_store(store: Any) -> bool:
    return type(store).__module__ == "faust.stores.rocksdb"


def _new_write_batch(store: Any) -> Any:
    if store.use_rocksdict:
        import rocksdict

        return rocksdict.WriteBatch(raw_mode=True)
    import rocksdb  # pragma: no cover - python-rocksdb is not a muleguard dependency

    return rocksdb.WriteBatch()  # pragma: no cover


def _direct_unsupported(table: Any) -> str | None:
    """Why the direct path cannot be used for ``table`` (None if it can)."""
    from faust.tables.table import Table
    from faust.transport.drivers.aiokafka import Producer as AIOKafkaFaustProducer

    app = table.app
    store_module = type(table.data).__module__
    if type(table) is not Table:
        return f"{type(table).__name__} is not a plain Table"
    if table.is_global or table.use_partitioner:
        return "global/partitioner tables pick partitions from the key"
    if table.window is not None:
        return "windowed table"
    if store_module not in ("faust.stores.rocksdb", "faust.stores.memory"):
        return f"store {store_module}"
    if app.in_transaction or app.conf.processing_guarantee == ProcessingGuarantee.EXACTLY_ONCE:
        return "exactly-once processing"
    if app.conf.producer_threaded:
        return "threaded producer"
    if type(table.changelog_topic.schema) is not _FaustSchema:
        return "changelog schema subclass (may add headers)"
    if not isinstance(app.producer, AIOKafkaFaustProducer) or app.producer._producer is None:
        return "not the aiokafka producer"
    return None
