"""The feature engine: account updates, the vector, and the fixed column order.

``update`` takes ownership of the state it is given (callers pass a private copy, as
``AccountState.from_bytes`` makes) and returns what must be told to other keyed states.
Nothing here reads the clock: event time comes with each signal.
"""

from __future__ import annotations

import zlib
from array import array
from operator import itemgetter

import numpy as np

from features import event, network, telecom, trace, velocity
from features.signals import (
    UNLINK,
    Emit,
    IdentityCount,
    Link,
    PhoneContext,
    RegistryUpdate,
    Signal,
    Taint,
    TransferIn,
    TransferOut,
    VictimReported,
)
from features.spec import FeatureSpec, markdown_table
from features.state import MAX_DEVICES, MAX_KNOWN_COUNTERPARTIES, STATE_VERSION, AccountState
from features.windows import DAY_MS, RETENTION_MS, too_late
from streams.topics import ACCOUNT_SIGNALS, IDENTITY_SIGNALS

FEATURES: tuple[FeatureSpec, ...] = velocity.FEATURES + network.FEATURES + telecom.FEATURES + event.FEATURES
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
ENGINE_VERSION = f"{STATE_VERSION}.{len(FEATURE_NAMES)}"
BURST_GAP_MS = 3 * DAY_MS
_transfer_id = itemgetter(0)  # of a recent_out row
_MONEY = TransferIn | TransferOut  # built once: ``A | B`` in a call builds a new union each time


def counterparty_id(key: str) -> int:
    """A 32-bit id for an account key: enough to count distinct counterparties.

    Examples:
        >>> counterparty_id("KTB:1") == counterparty_id("KTB:1") != counterparty_id("KTB:2")
        True
    """
    return zlib.crc32(key.encode())


def _remember(values: array, item: int, cap: int) -> bool:
    """Add ``item`` to a bounded most-recent set; True if it was new."""
    if item in values:
        return False
    values.append(item)
    if len(values) > cap:
        del values[0]
    return True


def _touch(state: AccountState, ts_ms: int) -> None:
    """Track first/last activity and the idle gap before the current burst."""
    if state.last_event_ts_ms < 0:
        state.first_seen_ts_ms = state.burst_start_ts_ms = ts_ms
        if state.opened_ts_ms >= 0:
            state.dormant_gap_ms = max(ts_ms - state.opened_ts_ms, 0)
    elif ts_ms - state.last_event_ts_ms >= BURST_GAP_MS:
        state.dormant_gap_ms = ts_ms - state.last_event_ts_ms
        state.burst_start_ts_ms = ts_ms
    if ts_ms > state.last_event_ts_ms:
        state.last_event_ts_ms = ts_ms
    horizon = state.last_event_ts_ms - RETENTION_MS
    for flow in (state.inflow, state.outflow, state.first_inflow, state.tainted_inflow):
        if flow.n and flow.data[0] < horizon:  # most flows have nothing to expire: no search
            flow.expire_before(horizon)


def is_held(state: AccountState, at_ms: int) -> bool:
    return state.held_until_ms > at_ms


def _links(key: str, signal: Signal, identities: tuple[str | None, ...], held: bool) -> list[Emit]:
    return _links_at(key, signal.ts_ms, signal.ingest_ms, identities, held)


def _links_at(key: str, ts_ms: int, ingest_ms: int, identities: tuple[str | None, ...], held: bool) -> list[Emit]:
    return [(IDENTITY_SIGNALS.name, ident, Link(ts_ms, ingest_ms, key, held)) for ident in identities if ident]


def _on_transfer_out(state: AccountState, key: str, s: TransferOut) -> list[Emit]:
    _touch(state, s.ts_ms)
    payee = counterparty_id(s.counterparty)
    first_pair = _remember(state.payees, payee, MAX_KNOWN_COUNTERPARTIES)
    mean_out = state.out_sum_total / state.out_count_total if state.out_count_total else 0
    state.outflow.add(s.ts_ms, s.amount_satang, payee)
    state.out_count_total += 1
    state.out_sum_total += s.amount_satang
    emits: list[Emit] = []
    if s.device_id and _remember(state.devices, counterparty_id(s.device_id), MAX_DEVICES):
        emits += _links(key, s, (s.device_id,), is_held(state, s.ts_ms))
    if s.msisdn_hash and state.msisdn_hash is None:
        state.msisdn_hash = s.msisdn_hash
        emits += _links(key, s, (s.msisdn_hash,), is_held(state, s.ts_ms))
    trace.remember_out(state, s)
    emits += trace.forward_live(state, key, s)
    emits += trace.trace_late_transfer(state, key, s)
    held = is_held(state, s.ts_ms)
    emits.append((ACCOUNT_SIGNALS.name, s.counterparty, TransferIn(
        s.ts_ms, s.ingest_ms, s.transfer_id, key, s.amount_satang, s.channel,
        first_time_pair=first_pair,
        payer_amount_ratio=round(s.amount_satang / mean_out, 4) if mean_out else 0.0,
        payer_risky_call_age_ms=telecom.risky_call_age_ms(state, s.ts_ms),
        payer_held=held,
        payer_taint_hops=0 if held else network.taint_hops_at(state, s.ts_ms),
    )))
    return emits


def _on_transfer_in(state: AccountState, s: TransferIn) -> None:
    _touch(state, s.ts_ms)
    payer = counterparty_id(s.counterparty)
    _remember(state.payers, payer, MAX_KNOWN_COUNTERPARTIES)
    state.inflow.add(s.ts_ms, s.amount_satang, payer)
    if s.first_time_pair:
        state.first_inflow.add(s.ts_ms, s.amount_satang, payer)
    if s.payer_held or s.payer_taint_hops >= 0:
        state.tainted_inflow.add(s.ts_ms, s.amount_satang, payer)
        hops, known = s.payer_taint_hops + 1, network.taint_hops_at(state, s.ts_ms)
        if known < 0 or hops <= known:  # the nearest taint wins, and lasts from its latest money
            state.taint_hops = hops
            state.taint_until_ms = max(state.taint_until_ms, s.ts_ms + network.TAINT_WINDOW_MS)


def _on_registry(state: AccountState, key: str, s: RegistryUpdate) -> list[Emit]:
    """The registry's record is the truth of the account's phone, device and national ID: an
    identity it replaces is unlinked (its counts fall), a new one linked."""
    state.opened_ts_ms = s.opened_ts_ms
    pairs = ((s.msisdn_hash, state.msisdn_hash), (s.device_id, state.device_id),
             (s.national_id_hash, state.national_id_hash))
    new = tuple(value for value, old in pairs if value and value != old)
    gone = tuple(old for value, old in pairs if value and old and value != old)
    if s.device_id and state.device_id and s.device_id != state.device_id:
        old_device = counterparty_id(state.device_id)
        if old_device in state.devices:
            state.devices.remove(old_device)
    state.msisdn_hash = s.msisdn_hash or state.msisdn_hash
    state.device_id = s.device_id or state.device_id
    state.national_id_hash = s.national_id_hash or state.national_id_hash
    if s.device_id:
        _remember(state.devices, counterparty_id(s.device_id), MAX_DEVICES)
    emits = [(IDENTITY_SIGNALS.name, ident, Link(s.ts_ms, s.ingest_ms, key, False, UNLINK)) for ident in gone]
    if gone:  # the counts of a left identity go with it, until the new one tells its own
        if s.msisdn_hash in new:
            state.phone_accounts, state.phone_held = -1, 0
        if s.national_id_hash in new:
            state.nid_accounts, state.nid_held = -1, 0
        if state.peek("k"):
            _recount_devices(state, state.identity_counts)
        state.held_identity_links = max(state.phone_held, state.nid_held, state.device_held)
    return emits + _links(key, s, new, is_held(state, s.ts_ms))


def _recount_devices(state: AccountState, counts: dict[str, list[int]]) -> None:
    """Device counts from what each current device last told (its registry device, devices it
    transferred from): a count falls when its device's does, or when the account leaves it."""
    for device in [d for d in counts if d != state.device_id and counterparty_id(d) not in state.devices]:
        del counts[device]
    state.device_accounts = max((c[0] for c in counts.values()), default=-1)
    state.device_held = max((c[1] for c in counts.values()), default=0)


def _on_identity_count(state: AccountState, s: IdentityCount) -> None:
    """The account's current phone and national ID each keep their last counts in the header
    (most count updates: no trace-memory parse); devices, of which an account can have
    several, keep theirs by name (trace-memory part ``k``). Counts of an identity the account
    has left are ignored."""
    identity = s.identity
    if identity == state.msisdn_hash:
        state.phone_accounts, state.phone_held = s.accounts_count, s.held_accounts_count
    elif identity == state.national_id_hash:
        state.nid_accounts, state.nid_held = s.accounts_count, s.held_accounts_count
    elif identity.startswith("dev_") and (identity == state.device_id
                                          or counterparty_id(identity) in state.devices):
        counts = state.identity_counts
        counts[identity] = [s.accounts_count, s.held_accounts_count]
        _recount_devices(state, counts)
    else:
        return
    state.held_identity_links = max(state.phone_held, state.nid_held, state.device_held)


def _on_phone_context(state: AccountState, s: PhoneContext) -> None:
    state.phone_context_ts_ms = max(state.phone_context_ts_ms, s.ts_ms)
    if s.risky_call_ts_ms > state.risky_call_ts_ms:
        state.risky_call_ts_ms = s.risky_call_ts_ms
        state.risky_caller_calls_24h = s.risky_caller_calls_24h
    state.sim_change_ts_ms = max(state.sim_change_ts_ms, s.sim_change_ts_ms)
    state.phone_calls_24h = max(s.calls_24h, 0)


def is_late(state: AccountState, signal: Signal) -> bool:
    """A transfer further behind this account's latest transfer than the allowed lateness.

    Such a transfer is not applied (``update`` ignores it): the caller dead-letters it with
    reason ``late_event`` (see ``features.windows`` for the policy and why).
    """
    return isinstance(signal, _MONEY) and too_late(signal.ts_ms, state.last_event_ts_ms)


def is_duplicate(state: AccountState, signal: Signal) -> bool:
    """An outgoing transfer whose id this account already applied (a bank sending it again as a
    new message). Checked against the recent outgoing transfers kept for tracing (the last
    ``MAX_RECENT_OUT`` of 3 days), so a re-send within that horizon is caught; the caller
    dead-letters it with reason ``duplicate_id``. Redeliveries of the *same* message are a
    different matter, recognised by their origin (features/origin.py)."""
    return isinstance(signal, TransferOut) and signal.transfer_id in map(_transfer_id, state.recent_out)


def rejection(state: AccountState, signal: Signal) -> str | None:
    """Why this signal must not be applied to this account (a dead-letter reason), or None."""
    kind = type(signal)
    if kind is not TransferOut and kind is not TransferIn:  # only money can be late or a re-send
        return None
    if too_late(signal.ts_ms, state.last_event_ts_ms):
        return "late_event"
    if kind is TransferOut and is_duplicate(state, signal):
        return "duplicate_id"
    return None


def update(state: AccountState, key: str, signal: Signal, endpoints: frozenset[str] = frozenset(),
           ) -> tuple[list[Emit], trace.TraceHit | None]:
    """Apply one signal to an account: the signals other keyed states must receive, and
    traced money that reached it (for the policy to hold or review). A late transfer
    (``is_late``) changes nothing."""
    if type(signal) is Taint:
        return trace.on_taint(state, key, signal, endpoints)  # type: ignore[arg-type]
    return _update_features(state, key, signal), None


def _update_features(state: AccountState, key: str, signal: Signal) -> list[Emit]:
    kind = type(signal)  # one lookup instead of a chain of isinstance checks per event
    if kind is TransferOut or kind is TransferIn:
        if too_late(signal.ts_ms, state.last_event_ts_ms):
            return []
        if kind is TransferOut:
            return _on_transfer_out(state, key, signal)  # type: ignore[arg-type]
        _on_transfer_in(state, signal)  # type: ignore[arg-type]
    elif kind is PhoneContext:
        _on_phone_context(state, signal)  # type: ignore[arg-type]
    elif kind is IdentityCount:
        _on_identity_count(state, signal)  # type: ignore[arg-type]
    elif kind is RegistryUpdate:
        return _on_registry(state, key, signal)  # type: ignore[arg-type]
    elif kind is VictimReported:
        return trace.on_report(state, key, signal)  # type: ignore[arg-type]
    return []


def is_scored(signal: Signal) -> bool:
    """Money movements are scored; context updates only change state."""
    return isinstance(signal, _MONEY)


def vector(state: AccountState, signal: TransferIn | TransferOut) -> np.ndarray:
    """The feature vector at the signal's event time, in ``FEATURE_NAMES`` order."""
    at_ms = signal.ts_ms
    stats = velocity.flow_stats(state, at_ms)
    row = velocity.columns(state, at_ms, stats)
    row += network.columns(state, at_ms, isinstance(signal, TransferOut), stats)
    row += telecom.columns(state, at_ms)
    row += event.columns(state, signal, at_ms)
    return np.fromiter(row, np.float64, len(row))


def hold(state: AccountState, key: str, ts_ms: int, ingest_ms: int, until_ms: int) -> list[Emit]:
    """Mark the account held and tell its identities, so linked accounts learn of it."""
    was_held = is_held(state, ts_ms)
    state.held_until_ms = max(state.held_until_ms, until_ms)
    state.taint_hops = 0
    state.taint_until_ms = max(state.taint_until_ms, until_ms, ts_ms + network.TAINT_WINDOW_MS)
    if was_held:
        return []
    return _links_at(key, ts_ms, ingest_ms, tuple(state.identities()), True)


def feature_table() -> str:
    """The Markdown table of every feature, for docs/features.md."""
    return markdown_table(FEATURES)


SUSPICIOUS_INFLOW_WINDOW_MS = 2 * DAY_MS


def recent_inflow_satang(state: AccountState, at_ms: int) -> int:
    """Money received in the last 48 hours: what a model-initiated hold may cover."""
    return state.inflow.sum_between(at_ms - SUSPICIOUS_INFLOW_WINDOW_MS, at_ms)
