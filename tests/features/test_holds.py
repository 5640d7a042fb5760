"""The hold lifecycle as pure functions, with time passed in (the controllable clock)."""

from __future__ import annotations

import pytest

from features import cases, holds
from features.engine import hold as engine_hold
from features.engine import is_held
from features.signals import (
    CaseHold,
    CaseHop,
    CaseRefund,
    CaseRefunded,
    CaseReported,
    ExtendHold,
    HoldAcked,
    HoldAppealed,
    Taint,
    TransferOut,
    VictimReported,
)
from features.state import AccountState, IdentityState
from features.trace import on_report, on_taint
from features.windows import DAY_MS, HOUR_MS
from models import policy
from models.policy import decide_on_trace
from streams.topics import ACCOUNT_SIGNALS, CASE_UPDATES, IDENTITY_SIGNALS

T0 = 1_793_491_200_000
KEY = "SCB:mule-1"


def traced_hold(state: AccountState, case_id: str = "case-1", amount: int = 100_000_00, police: bool = False,
                transfer_id: str = "t-1", key: str = KEY) -> str:
    """Trace money of a case into ``state`` and act on it as the worker does; the request id."""
    _, hit = on_taint(state, key, Taint(T0, T0, case_id, 1, amount, transfer_id, "KBANK:victim", T0 - HOUR_MS,
                                        T0, police, amount, ""))
    decision = decide_on_trace(hit)
    engine_hold(state, key, hit.report_ts_ms, hit.ingest_ms, decision.expires_ts_ms)  # as Decider.on_trace does
    fx = policy.act(state, decision, T0 + 5, hit)
    assert len(fx.requests) == 1
    return fx.requests[0][0].request_id


def test_traced_hold_is_recorded_once_with_its_legal_timer() -> None:
    state = AccountState()
    rid = traced_hold(state)
    [hold] = holds.rows(state)
    assert (hold.status, hold.requested_satang, hold.legal_basis) == ("requested", 100_000_00, "victim_report_72h")
    assert hold.expires_ts_ms == T0 + 72 * HOUR_MS
    assert holds.next_expiry_ms(state) == T0 + 72 * HOUR_MS
    # the same money reported again: no second, different hold
    _, hit = on_taint(state, KEY, Taint(T0, T0, "case-1", 1, 100_000_00, "t-1", "KBANK:victim", T0 - HOUR_MS,
                                        T0, False, 100_000_00, ""))
    assert hit is None
    decision = decide_on_trace(holds_hit(state))
    assert policy.act(state, decision, T0 + 9).requests == []
    assert [h.request_id for h in holds.rows(state)] == [rid]
    assert AccountState.from_bytes(state.to_bytes()).holds == state.holds


def holds_hit(state: AccountState):  # noqa: ANN201 - a TraceHit equal to the first one
    from features.trace import TraceHit

    return TraceHit(KEY, "case-1", 1, 100_000_00, "t-1", "KBANK:victim", T0 - HOUR_MS, T0, False, False, T0,
                    100_000_00)


def test_expiry_releases_only_due_active_holds_once() -> None:
    state = AccountState()
    rid = traced_hold(state)
    assert holds.on_expiry(state, KEY, T0 + 72 * HOUR_MS - 1, T0).requests == []
    fx = holds.on_expiry(state, KEY, T0 + 72 * HOUR_MS, T0)
    [(release, cause)] = fx.requests
    assert (release.action, cause, release.trigger_event_id, release.amount_satang) == (
        "release", "expiry", rid, 100_000_00)
    assert release.request_id == holds.request_id(KEY, rid, "release")
    assert [a.kind for a in fx.audits] == ["release"]
    assert holds.rows(state)[0].status == "released"
    assert holds.next_expiry_ms(state) == -1
    # held until the expiry in event time: features of earlier events (and replay) are unchanged
    assert is_held(state, T0 + HOUR_MS) and not is_held(state, T0 + 72 * HOUR_MS)
    assert holds.on_expiry(state, KEY, T0 + 80 * HOUR_MS, T0).requests == []


def test_police_complaint_extends_a_victim_hold_to_seven_days_from_the_complaint_once() -> None:
    state = AccountState()
    rid = traced_hold(state)
    complaint_ms = T0 + 20 * HOUR_MS
    fx = holds.on_extend(state, KEY, ExtendHold(complaint_ms, complaint_ms, "case-1", rid, "POL-77", complaint_ms),
                         complaint_ms)
    [(extend, _)] = fx.requests
    assert extend.action == "extend" and extend.expires_ts_ms == complaint_ms + 7 * DAY_MS
    assert extend.legal_basis == "police_complaint_7d"
    assert holds.on_expiry(state, KEY, T0 + 72 * HOUR_MS, T0).requests == []  # no longer due at 72 h
    assert holds.on_extend(state, KEY, ExtendHold(complaint_ms, complaint_ms, "case-1", rid, "POL-77",
                                                  complaint_ms), complaint_ms).requests == []
    assert len(holds.on_expiry(state, KEY, complaint_ms + 7 * DAY_MS, T0).requests) == 1


def test_police_extend_a_bank_suspicion_hold_to_seven_days_from_its_start() -> None:
    """"Up to 3 days, which police may extend to 7": 7 in all, however late in the 3 days they act."""
    assert holds.BANK_SUSPICION_HOLD_MS == policy.BANK_SUSPICION_HOLD_MS
    state = AccountState()
    decision = policy.decide_on_score(KEY, 0.99, "m1", 0.9, 0.5, "tx-9", T0, 50_000_00)
    [(hold_request, _)] = policy.act(state, decision, T0 + 5).requests
    assert hold_request.expires_ts_ms == T0 + 3 * DAY_MS
    at = T0 + 3 * DAY_MS - HOUR_MS  # the police act an hour before the 3 days run out
    fx = holds.on_appeal(state, KEY, HoldAppealed(at, at, "ap-1", hold_request.request_id, "police_extension",
                                                  "police", "ORD-1"), at)
    [(extend, cause)] = fx.requests
    assert (cause, extend.legal_basis, extend.expires_ts_ms) == ("police_extension_7d", "police_extension_7d",
                                                                  T0 + 7 * DAY_MS)
    assert holds.next_expiry_ms(state) == T0 + 7 * DAY_MS
    assert len(holds.on_expiry(state, KEY, T0 + 7 * DAY_MS, T0).requests) == 1


def test_police_extension_of_a_victim_hold_runs_seven_days_from_the_complaint() -> None:
    state = AccountState()
    rid = traced_hold(state)
    at = T0 + 2 * DAY_MS
    fx = holds.on_appeal(state, KEY, HoldAppealed(at, at, "ap-1", rid, "police_extension", "police", "POL-9"), at)
    [(extend, cause)] = fx.requests
    assert (cause, extend.expires_ts_ms) == ("police_complaint_7d", at + 7 * DAY_MS)


def test_approved_appeal_releases_at_once_and_denied_keeps_the_hold() -> None:
    state = AccountState()
    rid = traced_hold(state)
    denied = holds.on_appeal(state, KEY, HoldAppealed(T0, T0, "ap-1", rid, "denied", "bank", None), T0 + 1)
    assert denied.requests == [] and [a.kind for a in denied.audits] == ["appeal_outcome"]
    approved = holds.on_appeal(state, KEY, HoldAppealed(T0, T0, "ap-2", rid, "approved", "aoc", None), T0 + 2)
    [(release, cause)] = approved.requests
    assert (release.action, cause, release.legal_basis) == ("release", "appeal", "appeal_approved")
    assert sorted(a.kind for a in approved.audits) == ["appeal_outcome", "release"]
    assert holds.on_appeal(state, KEY, HoldAppealed(T0, T0, "ap-2", rid, "approved", "aoc", None),
                           T0 + 3).requests == []  # a replayed approval releases nothing more
    assert not is_held(state, T0 + 1), "released on appeal: later events see an account no longer held"


def test_held_ack_confirms_proposes_refund_pro_rata_and_reviews_the_ring() -> None:
    state = AccountState(msisdn_hash="ph_shared", device_id="dev_1")
    a = traced_hold(state, "case-a", 100_000_00, transfer_id="ta")
    b = traced_hold(state, "case-b", 50_000_00, transfer_id="tb")
    holds.on_ack(state, KEY, HoldAcked(T0, T0, b, "held", 50_000_00, None), T0 + 10)
    fx = holds.on_ack(state, KEY, HoldAcked(T0, T0, a, "held", 40_000_00, None), T0 + 20)
    [proposal] = fx.proposals
    # 90,000 THB held for claims of 100,000 and 50,000: two thirds and one third
    assert proposal.held_satang == 90_000_00
    assert [(s.case_id, s.amount_satang) for s in proposal.shares] == [("case-a", 60_000_00), ("case-b", 30_000_00)]
    refunds = [e for e in fx.emits if isinstance(e[2], CaseRefund)]
    assert {(e[1], e[2].amount_satang) for e in refunds} == {("case-a", 60_000_00), ("case-b", 30_000_00)}
    confirmed = [e for e in fx.emits if e[0] == IDENTITY_SIGNALS.name]
    assert {e[1] for e in confirmed} == {"ph_shared", "dev_1"}
    ident = IdentityState()
    for account in (KEY, "KTB:sibling"):
        ident.link(account, held=False)
    [(topic, member, review)] = holds.ring_members(ident, "ph_shared", confirmed[0][2])
    assert (topic, member) == (ACCOUNT_SIGNALS.name, "KTB:sibling")
    sibling = AccountState()
    ring_fx = holds.on_ring_review(sibling, member, review, T0 + 30)
    assert ring_fx.reviews == ["ring"] and ring_fx.requests == [] and holds.rows(sibling)[0].status == "review"
    assert holds.on_ring_review(sibling, member, review, T0 + 31).reviews == []


def test_more_held_than_requested_counts_only_the_traced_amount() -> None:
    state = AccountState()
    rid = traced_hold(state, amount=10_000_00)
    fx = holds.on_ack(state, KEY, HoldAcked(T0, T0, rid, "held", 99_000_00, None), T0)
    assert holds.rows(state)[0].held_satang == 10_000_00
    assert fx.proposals[0].held_satang == 10_000_00


def test_unknown_and_late_acks_change_nothing() -> None:
    state = AccountState()
    rid = traced_hold(state)
    assert holds.on_ack(state, KEY, HoldAcked(T0, T0, "f" * 32, "held", 1, None), T0).events == [
        "ack_unknown_request"]
    holds.on_ack(state, KEY, HoldAcked(T0, T0, rid, "empty", -1, None), T0)
    assert holds.rows(state)[0].status == "empty"
    assert holds.on_ack(state, KEY, HoldAcked(T0, T0, rid, "held", 5, None), T0).proposals == []


@pytest.mark.parametrize(("pool", "claims"), [
    (1, {"a": 3, "b": 3}), (99_999, {"z": 7, "a": 11, "m": 13}), (10, {"only": 40}), (0, {"a": 1}),
])
def test_refund_shares_add_up_exactly_and_follow_the_claims(pool: int, claims: dict[str, int]) -> None:
    shares = holds.refund_shares(pool, claims)
    assert sum(amount for _, _, amount in shares) == pool
    total = sum(claims.values())
    for case, claim, amount in shares:
        exact = pool * claim / total
        assert abs(amount - exact) < 1, (case, amount, exact)  # largest remainder: within one satang


def test_bounded_rows_never_drop_an_active_hold() -> None:
    state = AccountState()
    first = traced_hold(state, "case-0", transfer_id="t-0")
    for i in range(1, 30):
        rid = traced_hold(state, f"case-{i}", transfer_id=f"t-{i}")
        holds.on_ack(state, KEY, HoldAcked(T0, T0, rid, "rejected", -1, "closed"), T0)
    assert len(state.holds) <= 16
    assert holds.find(state, first) is not None


def test_case_follows_report_hops_holds_and_refunds_in_any_order() -> None:
    case = cases.new_case("c1", T0)
    hop = CaseHop(T0 + 2, T0, "c1", "SCB:m1", 1, "mule", 700, "t1", "KBANK:v", T0 - 5, 700, "hold", "r" * 32, 700,
                  T0 + 72 * HOUR_MS, "victim_report_72h")
    assert cases.apply(case, hop) == []
    assert case["status"] == "holds_requested"
    emits = cases.apply(case, CaseReported(T0 + 3, T0, "c1", "KBANK:v", "rep-2", 0, "POL-1"))
    [(topic, account, extend)] = emits
    assert (topic, account, extend.request_id, extend.complaint_ts_ms) == (ACCOUNT_SIGNALS.name, "SCB:m1", "r" * 32,
                                                                          T0 + 3)
    cases.apply(case, CaseHold(T0 + 4, T0, "c1", "SCB:m1", "r" * 32, "held", 500, 0, T0 + 9, "police_complaint_7d"))
    cases.apply(case, CaseRefund(T0 + 5, T0, "c1", "SCB:m1", "p1", 500))
    assert [s for _, s in case["history"]] == ["received", "holds_requested", "held", "refund_proposed"]
    assert cases.from_bytes(cases.to_bytes(case), "c1", 0) == case


def test_report_tells_the_case_what_was_reported() -> None:
    victim = AccountState()
    victim.recent_out = [("t1", T0 - 10, "SCB:m1", 700), ("t2", T0 - 5, "SCB:m2", 300)]
    emits = on_report(victim, "KBANK:v", VictimReported(T0, T0, "rep-1", ("t1", "t2"), "hotline_1441", None))
    [(topic, case_id, reported)] = [e for e in emits if e[0] == CASE_UPDATES.name]
    assert (case_id, reported.reported_satang, reported.victim) == ("rep-1", 1000, "KBANK:v")


def test_cash_out_ends_the_trail_as_a_cash_node() -> None:
    state = AccountState()
    emits, _ = on_taint(state, KEY, Taint(T0, T0, "c1", 1, 500, "t1", "KBANK:v", T0, T0, False, 500, ""))
    from features.engine import update

    out, _ = update(state, KEY, TransferOut(T0 + 1, T0, "atm-1", "", 400, "atm", None, None))
    [(topic, case_id, hop)] = [e for e in out if e[0] == CASE_UPDATES.name]
    assert (case_id, hop.role, hop.traced_satang, hop.account) == ("c1", "cash", 400, "CASH:atm-1")


def test_fan_in_through_one_transfer_never_traces_more_than_it_carried() -> None:
    """Two traced credits (60k and 30k) leave through one 80k transfer: 60k + 20k, not 60k + 30k."""
    state = AccountState()
    state.recent_out = [("out-1", T0 + 10, "TTB:m4", 80_000), ("out-2", T0 + 20, "KTB:next", 50_000)]
    first, _ = on_taint(state, KEY, Taint(T0, T0, "c1", 2, 60_000, "in-a", "KTB:m2a", T0, T0, False, 60_000, ""))
    second, _ = on_taint(state, KEY, Taint(T0, T0, "c1", 2, 30_000, "in-b", "BBL:m2b", T0 + 1, T0, False, 30_000, ""))
    forwarded = [e for e in first + second if isinstance(e[2], Taint)]
    assert [(e[1], e[2].amount_satang) for e in forwarded] == [("TTB:m4", 60_000), ("TTB:m4", 20_000),
                                                                 ("KTB:next", 10_000)]
    m4 = AccountState()
    hits = [on_taint(m4, "TTB:m4", e[2])[1] for e in forwarded[:2]]
    assert all(hits), "two parts of one transfer are two pieces of traced money, not a repeat"
    requests = [policy.act(m4, decide_on_trace(h), T0).requests[0][0] for h in hits]
    assert requests[0].request_id != requests[1].request_id


def test_refunded_ack_ends_the_traced_holds_and_tells_each_case_what_its_victim_got() -> None:
    state = AccountState()
    a = traced_hold(state, "case-a", 100_000_00, transfer_id="ta")
    b = traced_hold(state, "case-b", 50_000_00, transfer_id="tb")
    refused = holds.on_ack(state, KEY, HoldAcked(T0, T0, a, "refunded", -1, None), T0 + 5)
    assert refused.events == ["ack_refunded_not_held"] and not refused.emits  # nothing confirmed held yet
    holds.on_ack(state, KEY, HoldAcked(T0, T0, a, "held", 60_000_00, None), T0 + 10)
    holds.on_ack(state, KEY, HoldAcked(T0, T0, b, "held", 30_000_00, None), T0 + 20)
    fx = holds.on_ack(state, KEY, HoldAcked(T0, T0, a, "refunded", -1, None), T0 + 30)
    paid = {(e[1], e[2].amount_satang) for e in fx.emits if isinstance(e[2], CaseRefunded)}
    assert paid == {("case-a", 60_000_00), ("case-b", 30_000_00)}  # the 90,000 held, pro rata 2:1
    assert {h.request_id: h.status for h in holds.rows(state)} == {a: "released", b: "released"}
    again = holds.on_ack(state, KEY, HoldAcked(T0, T0, b, "refunded", -1, None), T0 + 40)
    assert not [e for e in again.emits if isinstance(e[2], CaseRefunded)]  # paid once, not twice

    case = cases.new_case("case-a", T0)
    case["refunds"][KEY] = 60_000_00
    assert cases.status_of(case) == "refund_proposed"
    for topic, case_id, signal in fx.emits:
        if topic == CASE_UPDATES.name and case_id == "case-a" and isinstance(signal, CaseRefunded):
            cases.apply(case, signal)
    assert case["refunded_satang"] == 60_000_00 and case["status"] == "refunded"


def test_refunded_ack_leaves_a_hold_not_yet_confirmed_tracked() -> None:
    """The payout covers the held money only: a hold the bank has not confirmed keeps its timer,
    and the bank's later ``held`` is a new proposal, not an ignored answer on money frozen for good."""
    state = AccountState()
    a = traced_hold(state, "case-a", 100_000_00, transfer_id="ta")
    b = traced_hold(state, "case-b", 50_000_00, transfer_id="tb")
    holds.on_ack(state, KEY, HoldAcked(T0, T0, a, "held", 100_000_00, None), T0 + 10)
    fx = holds.on_ack(state, KEY, HoldAcked(T0, T0, a, "refunded", -1, None), T0 + 20)
    assert {(e[1], e[2].amount_satang) for e in fx.emits if isinstance(e[2], CaseRefunded)} == {
        ("case-a", 66_666_67), ("case-b", 33_333_33)}
    assert {h.request_id: h.status for h in holds.rows(state)} == {a: "released", b: "requested"}
    assert not [e for e in fx.emits if isinstance(e[2], CaseHold) and e[2].request_id == b]
    assert holds.next_expiry_ms(state) == T0 + 72 * HOUR_MS and is_held(state, T0 + HOUR_MS)
    later = holds.on_ack(state, KEY, HoldAcked(T0, T0, b, "held", 50_000_00, None), T0 + 30)
    assert later.events == ["ack_held"]
    [proposal] = later.proposals  # case-b lost 50,000 here and was paid 33,333.33 of it already
    assert (proposal.held_satang, [(s.case_id, s.amount_satang) for s in proposal.shares]) == (
        50_000_00, [("case-b", 16_666_67)])
    assert len(holds.on_expiry(state, KEY, T0 + 72 * HOUR_MS, T0).requests) == 1  # and its timer still runs


def traced_case(state: AccountState, case: dict, case_id: str, amount: int, transfer_id: str) -> str:
    """``traced_hold``, with the case hearing of the hop, as the cases agent would."""
    _, hit = on_taint(state, KEY, Taint(T0, T0, case_id, 1, amount, transfer_id, "KBANK:victim", T0 - HOUR_MS,
                                        T0, False, amount, ""))
    decision = decide_on_trace(hit)
    engine_hold(state, KEY, hit.report_ts_ms, hit.ingest_ms, decision.expires_ts_ms)
    return feed({case_id: case}, policy.act(state, decision, T0 + 5, hit)).requests[0][0].request_id


def feed(by_id: dict[str, dict], fx: holds.Effects) -> holds.Effects:
    """Apply ``fx``'s case updates to the cases in ``by_id`` (others are ignored)."""
    for topic, case_id, signal in fx.emits:
        if topic == CASE_UPDATES.name and case_id in by_id:
            cases.apply(by_id[case_id], signal)
    return fx


@pytest.mark.parametrize("how", ["appeal", "expiry", "bank_release"])
def test_released_held_money_withdraws_the_refund_proposal(how: str) -> None:
    state, case = AccountState(), cases.new_case("case-a", T0)
    rid = traced_case(state, case, "case-a", 100_000_00, "ta")
    [proposal] = feed({"case-a": case}, holds.on_ack(state, KEY, HoldAcked(T0, T0, rid, "held", 100_000_00, None),
                                                     T0 + 10)).proposals
    assert case["status"] == "refund_proposed"
    if how == "appeal":
        fx = holds.on_appeal(state, KEY, HoldAppealed(T0, T0, "ap-1", rid, "approved", "aoc", None), T0 + 20)
    elif how == "expiry":
        fx = holds.on_expiry(state, KEY, T0 + 72 * HOUR_MS, T0)
    else:
        fx = holds.on_ack(state, KEY, HoldAcked(T0, T0, rid, "released", -1, None), T0 + 20)
    feed({"case-a": case}, fx)
    [withdrawn] = fx.proposals  # the banks hear it too: nobody pays out money that was released
    assert withdrawn.proposal_id != proposal.proposal_id
    assert (withdrawn.held_satang, [(s.case_id, s.amount_satang) for s in withdrawn.shares]) == (0, [("case-a", 0)])
    assert case["refunds"] == {KEY: 0} and case["status"] == "released"
    assert [s for _, s in case["history"]][-2:] == ["refund_proposed", "released"]


def test_a_claim_that_ends_gives_its_share_back_to_the_cases_still_claiming() -> None:
    state = AccountState()
    by_id = {c: cases.new_case(c, T0) for c in ("case-a", "case-b")}
    a = traced_case(state, by_id["case-a"], "case-a", 100_000_00, "ta")
    b = traced_case(state, by_id["case-b"], "case-b", 50_000_00, "tb")
    feed(by_id, holds.on_ack(state, KEY, HoldAcked(T0, T0, a, "held", 90_000_00, None), T0 + 10))
    assert {c: by_id[c]["refunds"][KEY] for c in by_id} == {"case-a": 60_000_00, "case-b": 30_000_00}
    fx = feed(by_id, holds.on_appeal(state, KEY, HoldAppealed(T0, T0, "ap-1", b, "approved", "aoc", None), T0 + 20))
    [revised] = fx.proposals
    assert [(s.case_id, s.amount_satang) for s in revised.shares] == [("case-a", 90_000_00)]
    assert {c: by_id[c]["refunds"][KEY] for c in by_id} == {"case-a": 90_000_00, "case-b": 0}
    assert (by_id["case-a"]["status"], by_id["case-b"]["status"]) == ("refund_proposed", "released")
    assert holds.on_appeal(state, KEY, HoldAppealed(T0, T0, "ap-1", b, "approved", "aoc", None),
                           T0 + 30).proposals == []  # a replayed approval changes nothing


def test_crumbs_of_traced_money_are_attributed_but_not_followed() -> None:
    """A mule's leftover cut must not put holds on the shop or friend it pays next."""
    state = AccountState()
    state.recent_out = [("out-1", T0 + 10, "TTB:next", 99_950), ("bill", T0 + 20, "PEA:bill", 5_000),
                        ("out-2", T0 + 30, "KTB:later", 20_000)]
    emits, _ = on_taint(state, KEY, Taint(T0, T0, "c1", 1, 100_000, "in-a", "KBANK:v", T0, T0, False, 100_000, ""))
    forwarded = [(e[1], e[2].amount_satang) for e in emits if isinstance(e[2], Taint)]
    assert forwarded == [("TTB:next", 99_950)]  # the 50 satang left went with the bill: not followed
    assert state.taints[0][3] == 0, "the crumb is still attributed: nothing is left to trace"
    assert [row[3] for row in state.recent_out] == [0, 4_950, 20_000]


def test_money_traced_onward_is_claimed_where_it_went_not_at_every_hop() -> None:
    """victim -> M1 -> M2 (60,000 of it on to M3) with 100,000 held at both M1 and M2: M1's held
    money is not the victim's (it left first), M2's claim is the 40,000 still there, so the
    case is proposed 40,000 in all, never more than its loss at two hops."""
    m1, m2 = AccountState(), AccountState()
    m1.recent_out = [("t2", T0 + 10, "KTB:m2", 100_000_00)]
    m2.recent_out = [("t3", T0 + 20, "BBL:m3", 60_000_00)]
    emits, hit1 = on_taint(m1, "SCB:m1", Taint(T0 + 30, T0, "case-1", 1, 100_000_00, "t1", "KBANK:v", T0,
                                               T0 + 30, False, 100_000_00, ""))
    [onward] = [e[2] for e in emits if isinstance(e[2], Taint)]
    _, hit2 = on_taint(m2, "KTB:m2", onward)
    proposed = {}
    for key, state, hit in (("SCB:m1", m1, hit1), ("KTB:m2", m2, hit2)):
        [(request, _)] = policy.act(state, decide_on_trace(hit), T0 + 40, hit).requests
        assert request.amount_satang == 100_000_00  # each hop asks for what came in
        fx = holds.on_ack(state, key, HoldAcked(T0 + 50, T0, request.request_id, "held", 100_000_00, None), T0 + 50)
        proposed[key] = [(s.case_id, s.traced_satang, s.amount_satang) for p in fx.proposals for s in p.shares]
    assert proposed == {"SCB:m1": [], "KTB:m2": [("case-1", 40_000_00, 40_000_00)]}
