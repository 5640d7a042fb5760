"""Keyed-state agents: accounts (features, score, freeze) and identities (phones, devices, IDs)."""

from __future__ import annotations

import time

from faust import StreamT

from features import engine, identity
from features.signals import decode_signal, encode_signal
from features.state import AccountState, IdentityState
from models.decision import Decider
from models.policy import freeze_request
from streams import codec
from streams.topics import ACCOUNT_SIGNALS, FREEZE_REQUESTS, IDENTITY_SIGNALS
from topologies.app import Pipeline


async def _send_all(p: Pipeline, emits: list) -> None:
    for target, key, signal in emits:
        await p.topics[target].send(key=key.encode(), value=encode_signal(signal))
        p.metrics.signals_sent.labels(target).inc()


def register(p: Pipeline) -> None:
    decider = Decider(p.scorer)
    m = p.metrics
    freeze_topic = p.topics[FREEZE_REQUESTS.name]
    account_stage = m.stage_seconds.labels("account")
    consumed_accounts = m.events_consumed.labels(ACCOUNT_SIGNALS.name)
    consumed_identities = m.events_consumed.labels(IDENTITY_SIGNALS.name)
    scores = m.scores.labels(p.scorer.version)

    @p.app.agent(p.topics[ACCOUNT_SIGNALS.name], name="accounts")
    async def accounts(stream: StreamT) -> None:
        """1. update features (or traced money); 2. score money movements; 3. send any
        freeze request; 4. write the new state once; 5. tell other keyed states what changed."""
        async for event in stream.events():
            started = time.perf_counter()
            consumed_accounts.inc()
            key_bytes: bytes = event.key
            key = key_bytes.decode()
            signal = decode_signal(event.value)
            raw = p.accounts.get(key_bytes)
            state = AccountState.from_bytes(raw) if raw else AccountState()
            emits, hit = engine.update(state, key, signal, p.endpoints)
            if hit is not None:
                traced = decider.on_trace(state, hit)
                emits += traced.emits
                await _act(p, freeze_topic, traced.decision, signal)
            if engine.is_scored(signal):
                vector = engine.vector(state, signal)  # type: ignore[arg-type]
                outcome = decider.on_scored(key, state, signal, vector)  # type: ignore[arg-type]
                emits += outcome.emits
                if outcome.probability is not None:
                    scores.observe(outcome.probability)
                if outcome.decision is not None:
                    await _act(p, freeze_topic, outcome.decision, signal)
            p.accounts[key_bytes] = state.to_bytes()
            await _send_all(p, emits)
            account_stage.observe(time.perf_counter() - started)

    @p.app.agent(p.topics[IDENTITY_SIGNALS.name], name="identities")
    async def identities(stream: StreamT) -> None:
        """1. update the identity; 2. write it once; 3. push what linked accounts need."""
        async for event in stream.events():
            consumed_identities.inc()
            key_bytes: bytes = event.key
            raw = p.identities.get(key_bytes)
            state = IdentityState.from_bytes(raw) if raw else IdentityState()
            emits = identity.update(state, key_bytes.decode(), decode_signal(event.value))
            p.identities[key_bytes] = state.to_bytes()
            await _send_all(p, emits)


async def _act(p: Pipeline, freeze_topic, decision, signal) -> None:  # noqa: ANN001
    m = p.metrics
    if decision.action != "hold":
        m.reviews.labels(decision.reason).inc()
        return
    now_ms = int(time.time() * 1000)
    request = freeze_request(decision, now_ms)
    await freeze_topic.send(key=request.key.encode(), value=codec.encode_freeze_request(request))
    m.freeze_requests.labels(request.action, request.reason).inc()
    if request.amount_satang:
        m.held_thb.labels(request.reason).inc(request.amount_satang / 100)
    m.event_to_freeze.observe(max(now_ms - signal.ingest_ms, 0) / 1000)
