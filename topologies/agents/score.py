"""Keyed-state agents: accounts (features, score, freeze) and identities (phones, devices, IDs).

Both work a batch at a time (``runtime.batches``): each key's state is decoded once per
batch, updated by every event of the batch in order, and written once (``StagedTable``),
so the changelog carries one record per changed key per batch instead of one per event.
Offsets are committed only after the batch's changelog records and sends are acknowledged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from faust import StreamT

from features import engine, identity
from features.signals import decode_signal, encode_signal
from features.state import AccountState, IdentityState
from features.windows import ALLOWED_LATENESS_MS
from models.decision import Decider
from models.policy import Decision, freeze_request
from streams import codec
from streams.contracts import Rejection
from streams.deadletter import dead_letter
from streams.topics import ACCOUNT_SIGNALS, DEADLETTER, FREEZE_REQUESTS, IDENTITY_SIGNALS
from topologies import runtime
from topologies.app import Pipeline
from topologies.sender import SendChannel

BATCH_MAX = 500
BATCH_WITHIN_S = 0.005
# Opt-in reorder buffer for account signals (docs/runtime.md "Reorder buffer"): 0 = off.
REORDER_HOLD_MS = int(os.environ.get("MULEGUARD_REORDER_HOLD_MS", "0"))


def signal_time(event: object) -> int:
    """A signal's event time read from its encoding (``["o",TS,...``) without decoding it all;
    -1 (released first, then dead-lettered by decoding) for anything else."""
    raw = event.value  # type: ignore[attr-defined]
    try:
        return int(raw[5:raw.index(b",", 5)])
    except (TypeError, ValueError):
        return -1


def reorder_options() -> dict:
    return {"order": signal_time, "hold_s": REORDER_HOLD_MS / 1000} if REORDER_HOLD_MS > 0 else {}


def send_signals(p: Pipeline, channel: SendChannel, emits: list) -> None:
    """Queue internal signals; the batch is acked only once they are delivered."""
    sent: dict[str, int] = {}
    for target, key, signal in emits:
        channel.send(target, key.encode(), encode_signal(signal))
        sent[target] = sent.get(target, 0) + 1
    for target, count in sent.items():
        p.metrics.signals_sent.labels(target).inc(count)


def register(p: Pipeline) -> None:
    decider = Decider(p.scorer)
    m = p.metrics
    account_stage = m.stage_seconds.labels("account_batch")
    consumed_accounts = m.events_consumed.labels(ACCOUNT_SIGNALS.name)
    consumed_identities = m.events_consumed.labels(IDENTITY_SIGNALS.name)

    @p.app.agent(p.topics[ACCOUNT_SIGNALS.name], name="accounts")
    async def accounts(stream: StreamT) -> None:
        """Per event: 1. update features (or traced money); 2. score money movements;
        3. send any freeze request. Per batch: 4. write each changed state once;
        5. tell other keyed states what changed."""
        staged, channel = runtime.StagedTable(p.accounts), p.sender.channel()
        async for events in runtime.batches(stream, BATCH_MAX, BATCH_WITHIN_S, flush=[staged, channel],
                                            **reorder_options()):
            started = time.perf_counter()
            consumed_accounts.inc(len(events))
            scores = m.scores.labels(p.scorer.version)  # per batch: a promoted model swaps in between batches
            cache: dict[bytes, tuple[AccountState, object]] = {}
            outbox: list = []
            for event in events:
                key_bytes: bytes = event.key
                state = _load(cache, staged, event, key_bytes, AccountState)
                key = key_bytes.decode()
                signal = decode_signal(event.value)
                if engine.is_late(state, signal):
                    _dead_letter_late(p, channel, event, state, signal)
                    continue
                emits, hit = engine.update(state, key, signal, p.endpoints)
                if hit is not None:
                    traced = decider.on_trace(state, hit)
                    emits += traced.emits
                    _act(p, channel, traced.decision, signal.ingest_ms)
                if engine.is_scored(signal):
                    vector = engine.vector(state, signal)  # type: ignore[arg-type]
                    outcome = decider.on_scored(key, state, signal, vector)  # type: ignore[arg-type]
                    p.rollout.observe(outcome, vector)  # shadow challenger: counted, never emitted
                    emits += outcome.emits
                    if outcome.probability is not None:
                        scores.observe(outcome.probability)
                    _act(p, channel, outcome.decision, signal.ingest_ms)
                cache[key_bytes] = (state, event)
                outbox += emits
            for key_bytes, (state, event) in cache.items():
                staged.set(event, key_bytes, state.to_bytes())
            send_signals(p, channel, outbox)
            account_stage.observe(time.perf_counter() - started)

    @p.app.agent(p.topics[IDENTITY_SIGNALS.name], name="identities")
    async def identities(stream: StreamT) -> None:
        """Per event: 1. update the identity. Per batch: 2. write each once; 3. push what
        linked accounts need."""
        staged, channel = runtime.StagedTable(p.identities), p.sender.channel()
        async for events in runtime.batches(stream, BATCH_MAX, BATCH_WITHIN_S, flush=[staged, channel]):
            consumed_identities.inc(len(events))
            cache: dict[bytes, tuple[IdentityState, object]] = {}
            outbox: list = []
            for event in events:
                key_bytes = event.key
                state = _load(cache, staged, event, key_bytes, IdentityState)
                outbox += identity.update(state, key_bytes.decode(), decode_signal(event.value))
                cache[key_bytes] = (state, event)
            for key_bytes, (state, event) in cache.items():
                staged.set(event, key_bytes, state.to_bytes())
            send_signals(p, channel, outbox)


def _load(cache: dict, staged: runtime.StagedTable, event: object, key: bytes, cls: Callable):  # noqa: ANN202
    """The key's state as this batch left it, else as the table has it, else new."""
    if key in cache:
        return cache[key][0]
    raw = staged.get(event, key, None)
    return cls.from_bytes(raw) if raw else cls()  # type: ignore[attr-defined]


def _dead_letter_late(p: Pipeline, channel: SendChannel, event: object, state: AccountState, signal: object,
                      ) -> None:
    """A transfer beyond the allowed lateness is not counted: it goes to dead-letter, visibly."""
    message = event.message  # type: ignore[attr-defined]
    behind_s = (state.last_event_ts_ms - signal.ts_ms) / 1000  # type: ignore[attr-defined]
    rejection = Rejection("late_event", f"{behind_s:.0f} s behind the account's latest transfer; "
                                        f"allowed lateness {ALLOWED_LATENESS_MS // 1000} s")
    letter = dead_letter(event.value or b"", ACCOUNT_SIGNALS.name, message.partition, message.offset,  # type: ignore[attr-defined]
                         rejection, int(time.time() * 1000))
    channel.send(DEADLETTER.name, ACCOUNT_SIGNALS.name.encode(), codec.encode_dead_letter(letter))
    p.metrics.events_rejected.labels(ACCOUNT_SIGNALS.name, "late_event").inc()


def _act(p: Pipeline, channel: SendChannel, decision: Decision | None, ingest_ms: int) -> None:
    """Send a hold as a freeze request (reviews are counted, not sent to banks)."""
    if decision is None:
        return
    m = p.metrics
    if decision.action != "hold":
        m.reviews.labels(decision.reason).inc()
        return
    now_ms = int(time.time() * 1000)
    request = freeze_request(decision, now_ms)
    channel.send(FREEZE_REQUESTS.name, request.key.encode(), codec.encode_freeze_request(request))
    m.freeze_requests.labels(request.action, request.reason).inc()
    if request.amount_satang:
        m.held_thb.labels(request.reason).inc(request.amount_satang / 100)
    m.event_to_freeze.observe(max(now_ms - ingest_ms, 0) / 1000)
