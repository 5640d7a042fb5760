"""Ingest agents: raw bytes from the banks' and operators' topics to internal signals.

They decode raw bytes themselves (never through a Faust deserializer), so a malformed
message becomes a dead letter with a reason instead of an exception inside Faust.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from faust import StreamT

from features import origin
from features.holds import route_hold_input
from features.routing import route
from streams import codec
from streams.contracts import Rejection
from streams.deadletter import dead_letter, minimal_dead_letter
from streams.privacy import PseudonymKeyError
from streams.topics import (
    DEADLETTER,
    FREEZE_ACKS,
    HOLD_APPEALS,
    REGISTRY,
    TELECOM,
    TRANSFERS,
    VICTIM_REPORTS,
)
from topologies import runtime
from topologies.agents.score import BATCH_MAX, BATCH_WITHIN_S, send_signals
from topologies.app import Pipeline

DECODERS: dict[str, Callable[..., object]] = {
    TRANSFERS.name: codec.decode_transfer,
    TELECOM.name: codec.decode_telecom,
    REGISTRY.name: codec.decode_registry,
    VICTIM_REPORTS.name: codec.decode_report,
    FREEZE_ACKS.name: codec.decode_ack,
    HOLD_APPEALS.name: codec.decode_appeal,
}
ROUTES: dict[str, Callable[..., list]] = {
    FREEZE_ACKS.name: route_hold_input, HOLD_APPEALS.name: route_hold_input,  # to the held account
}


def dead_letter_bytes(raw: bytes, topic_name: str, partition: int | None, offset: int | None,
                      rejection: Rejection, now_ms: int) -> bytes:
    """The encoded dead letter of a rejected message. It cannot raise on any input: an exception
    here would stop the agent and then block its partition on the same message after every
    restart, so if building it fails the message gets a minimal dead letter (raw masked bytes)."""
    try:
        return codec.encode_dead_letter(dead_letter(raw, topic_name, partition, offset, rejection, now_ms))
    except PseudonymKeyError:
        raise  # a configuration error, not the message's: the worker must stop
    except Exception:  # noqa: BLE001 - the message must leave its partition, with its reason
        return codec.encode_dead_letter(minimal_dead_letter(raw, topic_name, partition, offset,
                                                            str(rejection.reason), now_ms))


def register(p: Pipeline) -> None:
    for topic_name in DECODERS:
        _register_one(p, topic_name)


def _register_one(p: Pipeline, topic_name: str) -> None:
    decode = DECODERS[topic_name]
    to_owner = ROUTES.get(topic_name, route)
    source, m = p.topics[topic_name], p.metrics
    consumed = m.events_consumed.labels(topic_name)
    last_ts = m.last_event_ts.labels(topic_name)
    stage = m.stage_seconds.labels(f"ingest_batch:{topic_name}")
    time_lag = m.event_time_lag

    async def ingest(stream: StreamT) -> None:
        """Per event: 1. decode; 2. a rejection goes to the dead-letter topic; 3. signals go
        to their owners (queued; flushed before the batch's offsets are committed)."""
        channel = p.sender.channel()
        async for events in runtime.batches(stream, BATCH_MAX, BATCH_WITHIN_S, flush=[channel]):
            started = time.perf_counter()
            now_ms = int(time.time() * 1000)
            consumed.inc(len(events))
            outbox: list = []
            origins: list[bytes | None] = []
            newest_ts_ms = -1
            for event in events:
                message = event.message
                record = decode(event.value, now_ms)
                if isinstance(record, Rejection):
                    m.events_rejected.labels(topic_name, record.reason).inc()
                    letter = dead_letter_bytes(event.value or b"", topic_name, message.partition,
                                               message.offset, record, now_ms)
                    channel.send(DEADLETTER.name, topic_name.encode(), letter)
                    continue
                ts_ms = record.ts_ms  # type: ignore[attr-defined]
                newest_ts_ms = max(newest_ts_ms, ts_ms)
                time_lag.observe(max(now_ms - ts_ms, 0) / 1000)
                ingest_ms = int(message.timestamp * 1000) if message.timestamp else now_ms
                emits = to_owner(record, ingest_ms)
                origins += origin.origins_for(topic_name, message.partition, message.offset, len(emits))
                outbox += emits
            if newest_ts_ms >= 0:
                last_ts.set(newest_ts_ms / 1000)  # the newest of the batch, not merely its last
            send_signals(p, channel, outbox, origins)
            stage.observe(time.perf_counter() - started)

    ingest.__name__ = ingest.__qualname__ = f"ingest_{topic_name.replace('.', '_')}"
    runtime.agent(p.app, source, name=f"ingest-{topic_name}")(ingest)
