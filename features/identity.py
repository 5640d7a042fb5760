"""Per-identity state (phone, device, national ID): linked accounts and call behaviour.

Identities live on their own partitions (keyed by hash), so they push what accounts need
(counts of linked accounts, a phone's telecom context) as signals, instead of accounts
asking across partitions per event.
"""

from __future__ import annotations

from bisect import bisect_right

from features.engine import counterparty_id
from features.signals import (
    RELEASED,
    UNLINK,
    CallMade,
    CallReceived,
    Emit,
    IdentityCount,
    Link,
    PhoneContext,
    ScamReported,
    Signal,
    SimChange,
)
from features.state import IdentityState
from features.windows import DAY_MS, HORIZON_MS
from streams.topics import ACCOUNT_SIGNALS, IDENTITY_SIGNALS

VELOCITY_LEVELS = (20, 50, 100)  # calls/day; >100 gets a number suspended (NBTC rule, brief)
RISKY_DISTINCT_CALLEES_24H = 30
NEW_SIM_MS = 7 * DAY_MS
_ACCOUNTS, _IDENTITIES = ACCOUNT_SIGNALS.name, IDENTITY_SIGNALS.name


def is_risky_caller(s: CallReceived) -> bool:
    """A scam-like caller: reported, calling many distinct people, or a busy brand-new SIM.

    Examples:
        >>> is_risky_caller(CallReceived(0, 0, "e", "ph_a", 150, 140, 0, 2 * DAY_MS))
        True
        >>> is_risky_caller(CallReceived(0, 0, "e", "ph_a", 4, 3, 0, 400 * DAY_MS))
        False
    """
    return _risky(s.caller_calls_24h, s.caller_distinct_24h, s.caller_reports, s.caller_sim_age_ms)


def _risky(calls_24h: int, distinct_24h: int, reports: int, sim_age_ms: int) -> bool:
    new_and_busy = 0 <= sim_age_ms < NEW_SIM_MS and calls_24h >= 20
    return reports > 0 or distinct_24h >= RISKY_DISTINCT_CALLEES_24H or new_and_busy


def _velocity(state: IdentityState, at_ms: int) -> tuple[int, int]:
    return state.calls_out.count_distinct(at_ms, DAY_MS)


def _context(state: IdentityState, key: str, signal: Signal) -> PhoneContext:
    sim = max(state.sim_change_ts_ms, state.sim_register_ts_ms)
    return PhoneContext(signal.ts_ms, signal.ingest_ms, key, state.risky_call_ts_ms,
                        state.risky_caller_calls_24h, sim, _velocity(state, signal.ts_ms)[0])


def _has_telecom(state: IdentityState) -> bool:
    """Whether any telecom event reached this phone: without one, telecom features stay missing."""
    return bool(len(state.calls_out)) or max(state.sim_change_ts_ms, state.sim_register_ts_ms,
                                             state.risky_call_ts_ms) >= 0


def _to_accounts(state: IdentityState, signal: Signal) -> list[Emit]:
    return [(_ACCOUNTS, account, signal) for account in state.accounts]


def update(state: IdentityState, key: str, signal: Signal) -> list[Emit]:
    """Apply one signal to an identity; return the signals for accounts and other phones."""
    if isinstance(signal, CallMade):  # most of a phone's traffic: kept to the point
        ts, calls_out = signal.ts_ms, state.calls_out
        calls_out.expire_before(ts - HORIZON_MS)
        calls_out.add(ts, 1, counterparty_id(signal.callee))
        calls, distinct = calls_out.count_distinct(ts, DAY_MS)
        sim = state.sim_register_ts_ms
        sim_age = ts - sim if sim >= 0 else -1
        # The callee's phone only acts on a risky caller: an ordinary call is not sent at all
        # (most calls; each would cost a message, a state load and a state write).
        emits: list[Emit] = [(_IDENTITIES, signal.callee, CallReceived(
            ts, signal.ingest_ms, signal.event_id, key, calls, distinct, state.scam_reports, sim_age,
        ))] if _risky(calls, distinct, state.scam_reports, sim_age) else []
        level = bisect_right(VELOCITY_LEVELS, calls)  # how many levels it has reached
        if level != state.pushed_velocity_level:
            state.pushed_velocity_level = level
            emits += _to_accounts(state, _context(state, key, signal))
        return emits
    if isinstance(signal, CallReceived):
        if not is_risky_caller(signal):
            return []
        state.risky_call_ts_ms = max(state.risky_call_ts_ms, signal.ts_ms)
        state.risky_caller_calls_24h = signal.caller_calls_24h
    elif isinstance(signal, SimChange):
        if signal.kind == "sim_register":
            state.sim_register_ts_ms = max(state.sim_register_ts_ms, signal.ts_ms)
        else:
            state.sim_change_ts_ms = max(state.sim_change_ts_ms, signal.ts_ms)
    elif isinstance(signal, Link):
        return _on_link(state, key, signal)
    elif isinstance(signal, ScamReported):
        state.scam_reports += 1
        return []
    else:
        return []
    return _to_accounts(state, _context(state, key, signal)) if key.startswith("ph_") else []


def _counts(state: IdentityState, key: str, s: Signal, accounts: list[str]) -> list[Emit]:
    """The identity's counts for each of ``accounts``: every linked account, and the held ones
    other than the recipient (an account's own hold is not a link to a held account)."""
    total, held = len(state.accounts), state.held_accounts
    return [(_ACCOUNTS, account, IdentityCount(s.ts_ms, s.ingest_ms, key, total, len(held) - (account in held)))
            for account in accounts]


def _on_link(state: IdentityState, key: str, s: Link) -> list[Emit]:
    """A changed link tells every linked account the new counts. An account past the bound of
    kept links (``MAX_LINKED_ACCOUNTS``) is not kept, but still learns the counts, capped at
    the bound: the largest rings are what the count is for, and they must not read as missing.
    An unlinked or released account changes the counts of the others, so they can fall."""
    if s.change == UNLINK:
        return _counts(state, key, s, state.accounts) if state.unlink(s.account) else []
    if s.change == RELEASED:
        return _counts(state, key, s, state.accounts) if state.release(s.account) else []
    if not state.link(s.account, s.held):
        if s.account in state.accounts:
            return []
        emits = _counts(state, key, s, [s.account])
    else:
        emits = _counts(state, key, s, state.accounts)
    if key.startswith("ph_") and _has_telecom(state):
        emits.append((ACCOUNT_SIGNALS.name, s.account, _context(state, key, s)))
    return emits
