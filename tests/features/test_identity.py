"""A phone's calls: only a risky caller's calls travel on to the callee's phone, and they
still mark the callee's accounts as called by a scam-like number."""

from __future__ import annotations

from features import identity
from features.identity import RISKY_DISTINCT_CALLEES_24H
from features.signals import CallMade, CallReceived, Link, PhoneContext
from features.state import IdentityState
from streams.topics import ACCOUNT_SIGNALS, IDENTITY_SIGNALS

T0 = 1_790_000_000_000


def _call(state: IdentityState, n: int, callee: str) -> list:
    return identity.update(state, "ph_caller", CallMade(T0 + n * 1_000, T0, f"ev{n}", callee, "call"))


def _to_callees(emits: list) -> list[CallReceived]:
    return [s for topic, _key, s in emits if topic == IDENTITY_SIGNALS.name and isinstance(s, CallReceived)]


def test_an_ordinary_callers_calls_send_nothing_to_the_callees() -> None:
    caller = IdentityState()
    sent = [s for n in range(5) for s in _to_callees(_call(caller, n, f"ph_friend{n % 2}"))]
    assert sent == []


def test_once_a_caller_rings_enough_strangers_its_calls_reach_the_callees_and_their_accounts() -> None:
    caller = IdentityState()
    sent = [_to_callees(_call(caller, n, f"ph_victim{n}")) for n in range(RISKY_DISTINCT_CALLEES_24H + 2)]
    assert all(not s for s in sent[:RISKY_DISTINCT_CALLEES_24H - 1])  # not risky yet
    reached = [s for batch in sent[RISKY_DISTINCT_CALLEES_24H - 1:] for s in batch]
    assert len(reached) == 3 and all(s.caller == "ph_caller" for s in reached)
    assert reached[0].caller_distinct_24h == RISKY_DISTINCT_CALLEES_24H

    callee = IdentityState()
    identity.update(callee, "ph_victim99", Link(T0, T0, "KBANK:1", False))
    emits = identity.update(callee, "ph_victim99", reached[0])
    assert callee.risky_call_ts_ms == reached[0].ts_ms
    contexts = [s for topic, key, s in emits if topic == ACCOUNT_SIGNALS.name and key == "KBANK:1"]
    assert len(contexts) == 1 and isinstance(contexts[0], PhoneContext)
    assert contexts[0].risky_call_ts_ms == reached[0].ts_ms


def test_a_reported_number_is_risky_from_its_first_call() -> None:
    caller = IdentityState()
    caller.scam_reports = 1
    reached = _to_callees(_call(caller, 0, "ph_someone"))
    assert len(reached) == 1 and identity.is_risky_caller(reached[0])


def test_accounts_past_the_kept_links_still_learn_how_many_share_the_phone() -> None:
    """A ring of 40 accounts on one phone: the 33rd to 40th are not kept, but each is told
    the (capped) count, so the feature reads 32, not missing, exactly where it matters."""
    from features.signals import IdentityCount
    from features.state import MAX_LINKED_ACCOUNTS

    phone = IdentityState()
    told: dict[str, int] = {}
    for n in range(40):
        for topic, account, signal in identity.update(phone, "ph_ring", Link(T0 + n, T0, f"KTB:{n}", False)):
            if topic == ACCOUNT_SIGNALS.name and isinstance(signal, IdentityCount):
                told[account] = signal.accounts_count
    assert len(phone.accounts) == MAX_LINKED_ACCOUNTS
    assert {f"KTB:{n}" for n in range(40)} <= set(told)
    assert all(told[f"KTB:{n}"] == MAX_LINKED_ACCOUNTS for n in range(MAX_LINKED_ACCOUNTS - 1, 40))
    assert identity.update(phone, "ph_ring", Link(T0 + 99, T0, "KTB:5", False)) == []  # a kept link: nothing new
