"""Keyed-state agents: accounts (features, score, freeze) and identities (phones, devices, IDs).

Both work a batch at a time (``runtime.batches``): each key's state is loaded once per
batch (decoded from the table, or reused from the previous batches while the table still
holds exactly the bytes it was written as: ``DecodedStates``), updated by every event of
the batch in order, and written once (``StagedTable``), so the changelog carries one record
per changed key per batch instead of one per event. Offsets are committed only after the
batch's changelog records and sends are acknowledged.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable

import numpy as np
from faust import StreamT

from features import engine, holds, identity, origin
from features.holds import Effects
from features.signals import (
    Confirmed,
    ExpiryCheck,
    ExtendHold,
    HoldAcked,
    HoldAppealed,
    RingReview,
    Signal,
    TransferIn,
    TransferOut,
    decode_signal,
    encode_signal,
)
from features.state import AccountState, DecodedStates, IdentityState
from features.windows import ALLOWED_LATENESS_MS
from models import policy
from models.decision import Decider
from streams import codec
from streams.contracts import FeatureLogRecord, Rejection
from streams.deadletter import dead_letter
from streams.topics import (
    ACCOUNT_SIGNALS,
    AUDIT,
    DEADLETTER,
    FEATURE_LOG,
    FREEZE_REQUESTS,
    IDENTITY_SIGNALS,
    REFUND_PROPOSALS,
)
from topologies import runtime
from topologies.app import Pipeline
from topologies.sender import DeliveredFirst, SendChannel

log = logging.getLogger(__name__)
PROCESSING_ERROR = "processing_error"  # dead-letter reason of a signal that raised

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


def send_signals(p: Pipeline, channel: SendChannel, emits: list, origins: list[bytes | None] | None = None,
                 ) -> None:
    """Queue internal signals; the batch is acked only once they are delivered. ``origins``
    (from the ingest agent, one per emit) go in the origin header (features/origin.py)."""
    sent: dict[str, int] = {}
    for i, (target, key, signal) in enumerate(emits):
        found = origins[i] if origins is not None else None
        channel.send(target, key.encode(), encode_signal(signal),
                     [(origin.ORIGIN_HEADER, found)] if found is not None else None)
        sent[target] = sent.get(target, 0) + 1
    for target, count in sent.items():
        p.metrics.signals_sent.labels(target).inc(count)


def register(p: Pipeline) -> None:
    decider = Decider(p.scorer)
    m = p.metrics
    account_stage = m.stage_seconds.labels("account_batch")
    identity_stage = m.stage_seconds.labels("identity_batch")
    consumed_accounts = m.events_consumed.labels(ACCOUNT_SIGNALS.name)
    consumed_identities = m.events_consumed.labels(IDENTITY_SIGNALS.name)
    redelivered_accounts = m.redelivered_skipped.labels(ACCOUNT_SIGNALS.name)
    redelivered_identities = m.redelivered_skipped.labels(IDENTITY_SIGNALS.name)

    @runtime.agent(p.app, p.topics[ACCOUNT_SIGNALS.name], name="accounts")
    async def accounts(stream: StreamT) -> None:
        """Per event: 1. update features, traced money or a hold's lifecycle; 2. score money
        movements; 3. queue freeze/release/extend requests, audit records, refund proposals.
        Per batch: 4. write each changed state once, and its next hold expiry; 5. tell other
        keyed states (accounts, identities, cases) what changed."""
        if p.rollout is not None:  # never score with a model the rollout history has replaced
            await p.rollout.settled.wait()
        staged, channel = runtime.StagedTable(p.accounts), p.sender.channel()
        timers = runtime.StagedTable(p.hold_timers)
        decoded, count_lookups = _decoded_states(p, AccountState, "accounts")
        # Sends first, then state: a state never records a signal whose sends could be lost.
        async for events in runtime.batches(stream, BATCH_MAX, BATCH_WITHIN_S,
                                            flush=[DeliveredFirst(channel), staged, timers],
                                            **reorder_options()):
            started = time.perf_counter()
            consumed_accounts.inc(len(events))
            scores = m.scores.labels(p.scorer.version)  # per batch: a promoted model swaps in between batches
            now_ms = int(time.time() * 1000)
            cache: dict[bytes, tuple[AccountState, object, int]] = {}
            outbox: list = []
            origins: list[bytes | None] = []
            feature_rows: list[tuple[bytes, bytes]] | None = [] if p.settings.feature_log else None
            for event in events:
                key_bytes: bytes = event.key
                if key_bytes not in cache:
                    state = decoded.load(key_bytes, staged.get(event, key_bytes, None))
                    cache[key_bytes] = (state, event, holds.next_expiry_ms(state))
                state, _, expiry_before = cache[key_bytes]
                if _redelivered(event, state):
                    redelivered_accounts.inc()
                    continue
                try:
                    signal = decode_signal(event.value)
                    reason = engine.rejection(state, signal)
                    if reason is not None:
                        _dead_letter_signal(p, channel, event, state, signal, reason)
                        continue
                    emits, fx = _on_account_event(p, decider, scores, state, key_bytes.decode(), signal, now_ms,
                                                  feature_rows)
                except Exception as exc:  # noqa: BLE001 - see dead_letter_failure
                    dead_letter_failure(p, channel, event, ACCOUNT_SIGNALS.name, exc)
                    continue
                emits += fx.emits
                outbox += emits
                origins += _origins(event, len(emits))
                _send_effects(p, channel, fx, signal.ingest_ms)
                cache[key_bytes] = (state, event, expiry_before)
            for key_bytes, (state, event, expiry_before) in cache.items():
                raw = state.to_bytes()
                staged.set(event, key_bytes, raw)
                decoded.put(key_bytes, raw, state)
                expiry = holds.next_expiry_ms(state)
                if expiry != expiry_before:
                    if expiry < 0:
                        timers.delete(event, key_bytes)
                    else:
                        timers.set(event, key_bytes, str(expiry).encode())
            for key_bytes, row in feature_rows or ():
                channel.send(FEATURE_LOG.name, key_bytes, row)
            send_signals(p, channel, outbox, origins)
            count_lookups()
            account_stage.observe(time.perf_counter() - started)

    @runtime.agent(p.app, p.topics[IDENTITY_SIGNALS.name], name="identities")
    async def identities(stream: StreamT) -> None:
        """Per event: 1. update the identity. Per batch: 2. write each once; 3. push what
        linked accounts need."""
        staged, channel = runtime.StagedTable(p.identities), p.sender.channel()
        decoded, count_lookups = _decoded_states(p, IdentityState, "identities")
        async for events in runtime.batches(stream, BATCH_MAX, BATCH_WITHIN_S,
                                            flush=[DeliveredFirst(channel), staged]):
            started = time.perf_counter()
            consumed_identities.inc(len(events))
            cache: dict[bytes, tuple[IdentityState, object]] = {}
            outbox: list = []
            origins: list[bytes | None] = []
            for event in events:
                key_bytes = event.key
                state = cache[key_bytes][0] if key_bytes in cache else \
                    decoded.load(key_bytes, staged.get(event, key_bytes, None))
                if _redelivered(event, state):
                    redelivered_identities.inc()
                    cache[key_bytes] = (state, event)
                    continue
                try:
                    signal = decode_signal(event.value)
                    if isinstance(signal, Confirmed):  # a confirmed mule: its ring goes to review
                        emits = holds.ring_members(state, key_bytes.decode(), signal)
                    else:
                        emits = identity.update(state, key_bytes.decode(), signal)
                except Exception as exc:  # noqa: BLE001 - see dead_letter_failure
                    dead_letter_failure(p, channel, event, IDENTITY_SIGNALS.name, exc)
                    cache[key_bytes] = (state, event)
                    continue
                outbox += emits
                origins += _origins(event, len(emits))
                cache[key_bytes] = (state, event)
            for key_bytes, (state, event) in cache.items():
                raw = state.to_bytes()
                staged.set(event, key_bytes, raw)
                decoded.put(key_bytes, raw, state)
            send_signals(p, channel, outbox, origins)
            count_lookups()
            identity_stage.observe(time.perf_counter() - started)


def _origins(event: object, count: int) -> list[bytes | None]:
    message = event.message  # type: ignore[attr-defined]
    return origin.origins_for(message.topic, message.partition, message.offset, count)


def _redelivered(event: object, state: AccountState | IdentityState) -> bool:
    """A signal this state already applied, delivered again after a crash or rebalance."""
    headers = event.message.headers  # type: ignore[attr-defined]
    if not headers:
        return False
    for name, value in headers if not isinstance(headers, dict) else headers.items():
        if name == origin.ORIGIN_HEADER:
            found = origin.decode(value)
            return found is not None and origin.already_applied(state.applied, *found)
    return False


def _decoded_states(p: Pipeline, cls: type, table: str) -> tuple[DecodedStates, Callable[[], None]]:
    """The agent's cache of decoded states, and a per-batch call that counts its lookups."""
    decoded = DecodedStates(cls, p.settings.state_cache)
    hits = p.metrics.state_cache_lookups.labels(table, "hit")
    misses = p.metrics.state_cache_lookups.labels(table, "miss")

    def count_lookups() -> None:
        hits.inc(decoded.hits)
        misses.inc(decoded.misses)
        decoded.hits = decoded.misses = 0

    return decoded, count_lookups


def dead_letter_failure(p: Pipeline, channel: SendChannel, event: object, topic: str, exc: Exception) -> None:
    """An internal signal this worker could not apply (a bug, or a signal written by a newer
    version): dead-lettered with the error and counted, and the batch goes on. Raising would
    stop the worker (``runtime.fail_fast``), and the same signal, read again after each
    restart, would stop it again (docs/reliability.md)."""
    message = event.message  # type: ignore[attr-defined]
    log.error("%s offset %s/%s could not be applied", topic, message.partition, message.offset, exc_info=exc)
    rejection = Rejection(PROCESSING_ERROR, f"{type(exc).__name__}: {exc}"[:500])
    letter = dead_letter(event.value or b"", topic, message.partition, message.offset, rejection,  # type: ignore[attr-defined]
                         int(time.time() * 1000))
    channel.send(DEADLETTER.name, topic.encode(), codec.encode_dead_letter(letter))
    p.metrics.events_rejected.labels(topic, PROCESSING_ERROR).inc()


def _dead_letter_signal(p: Pipeline, channel: SendChannel, event: object, state: AccountState, signal: object,
                        reason: str) -> None:
    """A transfer that must not be counted (too late, or its id seen before) goes to dead-letter, visibly."""
    message = event.message  # type: ignore[attr-defined]
    if reason == "late_event":
        behind_s = (state.last_event_ts_ms - signal.ts_ms) / 1000  # type: ignore[attr-defined]
        detail = (f"{behind_s:.0f} s behind the account's latest transfer; "
                  f"allowed lateness {ALLOWED_LATENESS_MS // 1000} s")
    else:
        detail = f"transfer {signal.transfer_id} was already applied to this account"  # type: ignore[attr-defined]
    rejection = Rejection(reason, detail)
    letter = dead_letter(event.value or b"", ACCOUNT_SIGNALS.name, message.partition, message.offset,  # type: ignore[attr-defined]
                         rejection, int(time.time() * 1000))
    channel.send(DEADLETTER.name, ACCOUNT_SIGNALS.name.encode(), codec.encode_dead_letter(letter))
    p.metrics.events_rejected.labels(ACCOUNT_SIGNALS.name, reason).inc()


def _on_account_event(p: Pipeline, decider: Decider, scores: object, state: AccountState, key: str,
                      signal: Signal, now_ms: int, feature_log: list[tuple[bytes, bytes]] | None = None,
                      ) -> tuple[list, Effects]:
    """One signal at one account: the signals for other states and what to send and count.

    With ``feature_log``, each scored event's (key, encoded vector record) is appended to it.
    """
    if isinstance(signal, ExpiryCheck):  # ts_ms is the worker clock's "now"
        return [], holds.on_expiry(state, key, signal.ts_ms, signal.ingest_ms)
    if isinstance(signal, HoldAcked):
        return [], holds.on_ack(state, key, signal, now_ms)
    if isinstance(signal, HoldAppealed):
        return [], holds.on_appeal(state, key, signal, now_ms)
    if isinstance(signal, ExtendHold):
        return [], holds.on_extend(state, key, signal, now_ms)
    if isinstance(signal, RingReview):
        return [], holds.on_ring_review(state, key, signal, now_ms)
    fx = Effects()
    emits, hit = engine.update(state, key, signal, p.endpoints)
    if hit is not None:
        p.metrics.trace_hops.observe(hit.hop)
        traced = decider.on_trace(state, hit)
        emits += traced.emits
        if traced.decision is not None:
            fx += policy.act(state, traced.decision, now_ms, hit)
    if engine.is_scored(signal):
        vector = engine.vector(state, signal)  # type: ignore[arg-type]
        outcome = decider.on_scored(key, state, signal, vector)  # type: ignore[arg-type]
        p.rollout.observe(outcome, vector)  # shadow challenger: counted, never emitted
        if feature_log is not None:
            row = _feature_row(key, signal, vector, outcome.probability, p.scorer.version)  # type: ignore[arg-type]
            feature_log.append((key.encode(), row))
        emits += outcome.emits
        if outcome.probability is not None:
            scores.observe(outcome.probability)  # type: ignore[attr-defined]
        if outcome.decision is not None:
            fx += policy.act(state, outcome.decision, now_ms)
    return emits, fx


def _feature_row(key: str, signal: TransferIn | TransferOut, vector: np.ndarray, probability: float | None,
                 model_version: str) -> bytes:
    values = [None if math.isnan(v) else v for v in vector.tolist()]
    return codec.encode_feature_log(FeatureLogRecord(
        account=key, transfer_id=signal.transfer_id, direction="in" if isinstance(signal, TransferIn) else "out",
        ts_ms=signal.ts_ms, engine_version=engine.ENGINE_VERSION, model_version=model_version,
        score=probability, features=dict(zip(engine.FEATURE_NAMES, values, strict=True))))


def _send_effects(p: Pipeline, channel: SendChannel, fx: Effects, ingest_ms: int) -> None:
    """Send requests, audit records and refund proposals (reviews are counted, not sent to banks)."""
    m = p.metrics
    for reason in fx.reviews:
        m.reviews.labels(reason).inc()
        if reason == "ring":
            m.ring_reviews.inc()
    for event in fx.events:
        m.hold_events.labels(event).inc()
    now_ms = int(time.time() * 1000)
    for request, cause in fx.requests:
        channel.send(FREEZE_REQUESTS.name, request.key.encode(), codec.encode_freeze_request(request))
        m.freeze_requests.labels(request.action, request.reason).inc()
        if request.action != "hold":
            m.hold_lifecycle_requests.labels(request.action, cause).inc()
            continue
        if request.amount_satang:
            m.held_thb.labels(request.reason).inc(request.amount_satang / 100)
        m.event_to_freeze.observe(max(now_ms - ingest_ms, 0) / 1000)
    for record in fx.audits:
        channel.send(AUDIT.name, record.subject.encode(), codec.encode_audit(record))
        m.audit_records.labels(record.kind).inc()
    for proposal in fx.proposals:
        channel.send(REFUND_PROPOSALS.name, proposal.key.encode(), codec.encode_refund_proposal(proposal))
        m.refund_proposals.inc()
        m.refund_proposed_thb.inc(proposal.held_satang / 100)
