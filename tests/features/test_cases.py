"""A case as its victim sees it: payouts counted once each, only the holds a payout ended shown
as refunded, updates merged in any order, and the trail bounded."""

from __future__ import annotations

from features import cases, holds
from features.signals import (
    CaseHold,
    CaseHop,
    CaseRefunded,
    CaseReported,
    HoldAcked,
    Taint,
    decode_signal,
    encode_signal,
)
from features.state import AccountState
from features.trace import on_taint
from models import policy
from streams.topics import CASE_UPDATES
from topologies.case_views import case_status, case_trail

T0 = 1_793_491_200_000
KEY = "SCB:mule-1"


def refunded(state: AccountState, amount: int, transfer_id: str, ts_ms: int) -> list[CaseRefunded]:
    """Trace ``amount`` of case c1 into the account, the bank holds it, then pays it out."""
    _, hit = on_taint(state, KEY, Taint(ts_ms, ts_ms, "c1", 1, amount, transfer_id, "KBANK:v", ts_ms, T0, False,
                                        amount, ""))
    [(request, _)] = policy.act(state, policy.decide_on_trace(hit), ts_ms, hit).requests
    rid = request.request_id
    holds.on_ack(state, KEY, HoldAcked(ts_ms, ts_ms, rid, "held", amount, None), ts_ms)
    fx = holds.on_ack(state, KEY, HoldAcked(ts_ms, ts_ms, rid, "refunded", -1, None), ts_ms)
    return [s for topic, _, s in fx.emits if topic == CASE_UPDATES.name and isinstance(s, CaseRefunded)]


def test_two_payouts_from_one_account_add_up_and_a_repeat_counts_once() -> None:
    state, case = AccountState(), cases.new_case("c1", T0)
    [first] = refunded(state, 100_000_00, "t1", T0)
    [second] = refunded(state, 50_000_00, "t2", T0 + 60_000)
    assert first.proposal_id and first.proposal_id != second.proposal_id
    for signal in (first, second, second):  # the last one redelivered
        cases.apply(case, signal)
    assert case["refunded_satang"] == 150_000_00 and case["status"] == "refunded"


def test_a_payout_written_before_proposal_ids_still_decodes() -> None:
    old = b'["D",5,6,"c1","SCB:mule-1",700]'  # already in muleguard.case-updates.v1
    signal = decode_signal(old)
    assert signal == CaseRefunded(5, 6, "c1", "SCB:mule-1", 700, "")
    assert decode_signal(encode_signal(CaseRefunded(5, 6, "c1", "SCB:mule-1", 700, "p1"))).proposal_id == "p1"
    case = cases.new_case("c1", 0)
    cases.apply(case, signal)
    cases.apply(case, signal)
    assert case["refunded_satang"] == 700


def _to_case(case: dict, emits: list) -> None:
    for topic, _, signal in emits:
        if topic == CASE_UPDATES.name:
            cases.apply(case, signal)


def _trace_in(state: AccountState, case: dict, amount: int, transfer_id: str, ts_ms: int) -> str:
    emits, hit = on_taint(state, KEY, Taint(ts_ms, ts_ms, "c1", 1, amount, transfer_id, "KBANK:v", ts_ms, T0, False,
                                            amount, ""))
    fx = policy.act(state, policy.decide_on_trace(hit), ts_ms, hit)
    _to_case(case, emits + fx.emits)
    return fx.requests[0][0].request_id


def test_only_the_holds_a_payout_ended_show_as_refunded() -> None:
    """Two traced credits at one mule: the first is confirmed and paid out, the second was not
    confirmed yet, so it keeps its timer and later expires. The victim must see 60,000 THB
    refunded and 40,000 THB released, and no refund still proposed."""
    state, case = AccountState(), cases.new_case("c1", T0)
    cases.apply(case, CaseReported(T0, T0, "c1", "KBANK:v", "c1", 100_000_00, None))
    paid = _trace_in(state, case, 60_000_00, "t1", T0)
    expired = _trace_in(state, case, 40_000_00, "t2", T0 + 60_000)
    _to_case(case, holds.on_ack(state, KEY, HoldAcked(T0 + 1, T0 + 1, paid, "held", 60_000_00, None), T0 + 1).emits)
    _to_case(case, holds.on_ack(state, KEY, HoldAcked(T0 + 2, T0 + 2, paid, "refunded", -1, None), T0 + 2).emits)
    later = T0 + 73 * 3_600_000
    _to_case(case, holds.on_expiry(state, KEY, later, later).emits)
    status = case_status(case)
    assert {h["request_id"]: h["status"] for h in status["holds"]} == {paid: "refunded", expired: "released"}
    assert (status["refunded_satang"], status["released_satang"], status["refund_proposed_satang"]) == (
        60_000_00, 40_000_00, 0)


def test_a_hold_status_arriving_before_its_hop_is_kept() -> None:
    expires = T0 + 72 * 3_600_000
    hop = CaseHop(T0, T0, "c1", KEY, 1, "mule", 50_000_00, "t1", "KBANK:v", T0, 50_000_00, "hold", "r1",
                  50_000_00, expires, "victim_report_72h")
    held = CaseHold(T0 + 5, T0 + 5, "c1", KEY, "r1", "held", 50_000_00, 0, expires, "victim_report_72h")
    seen = []
    for order in ((hop, held), (held, hop)):
        case = cases.new_case("c1", T0)
        for signal in order:
            cases.apply(case, signal)
        seen.append((case["status"], case_status(case)["held_satang"], case_status(case)["holds"][0]["hop"]))
    assert seen == [("held", 50_000_00, 1), ("held", 50_000_00, 1)]


def test_the_trail_keeps_no_account_without_its_transfer() -> None:
    case = cases.new_case("c1", T0)
    for n in range(cases.MAX_EDGES + 100):
        cases.apply(case, CaseHop(T0, T0, "c1", f"CASH:w{n}", 3, "cash", 50_00, f"w{n}", "SCB:m", T0, 50_00,
                                  "none", "", 0, -1, ""))
    trail = case_trail(case)
    assert len(case["edges"]) == len(case["nodes"]) == cases.MAX_EDGES
    assert all(node["traced_satang"] > 0 for node in trail["nodes"])


def test_a_payout_is_credited_as_the_proposal_the_bank_paid() -> None:
    """The bank pays out the first proposal (60,000 THB); before its answer arrives a second
    hold is confirmed and a larger proposal goes out. The answer names the proposal it paid:
    the victim is credited 60,000, not the newer 100,000, only the paid hold ends, and the
    still-held 40,000 gets a proposal of its own."""
    state, case = AccountState(), cases.new_case("c1", T0)
    cases.apply(case, CaseReported(T0, T0, "c1", "KBANK:v", "c1", 100_000_00, None))
    first = _trace_in(state, case, 60_000_00, "t1", T0)
    second = _trace_in(state, case, 40_000_00, "t2", T0 + 60_000)
    fx = holds.on_ack(state, KEY, HoldAcked(T0 + 1, T0 + 1, first, "held", 60_000_00, None), T0 + 1)
    [paid] = fx.proposals
    _to_case(case, fx.emits)
    fx = holds.on_ack(state, KEY, HoldAcked(T0 + 2, T0 + 2, second, "held", 40_000_00, None), T0 + 2)
    assert [p.held_satang for p in fx.proposals] == [100_000_00]
    _to_case(case, fx.emits)
    fx = holds.on_ack(state, KEY, HoldAcked(T0 + 3, T0 + 3, first, "refunded", -1, None, paid.proposal_id), T0 + 3)
    _to_case(case, fx.emits)
    assert [(s.proposal_id, s.amount_satang) for _, _, s in fx.emits if isinstance(s, CaseRefunded)] == [
        (paid.proposal_id, 60_000_00)]
    assert {h.request_id: h.status for h in holds.rows(state)} == {first: "released", second: "held"}
    assert [(p.held_satang, [x.amount_satang for x in p.shares]) for p in fx.proposals] == [(40_000_00, [40_000_00])]
    status = case_status(case)
    assert (status["refunded_satang"], status["refund_proposed_satang"], status["held_satang"]) == (
        60_000_00, 40_000_00, 40_000_00)


def test_a_payout_naming_an_unknown_proposal_changes_nothing() -> None:
    state, case = AccountState(), cases.new_case("c1", T0)
    hold = _trace_in(state, case, 60_000_00, "t1", T0)
    holds.on_ack(state, KEY, HoldAcked(T0 + 1, T0 + 1, hold, "held", 60_000_00, None), T0 + 1)
    fx = holds.on_ack(state, KEY, HoldAcked(T0 + 2, T0 + 2, hold, "refunded", -1, None, "f" * 32), T0 + 2)
    assert fx.events == ["ack_refunded_unknown_proposal"] and not fx.emits
    assert [h.status for h in holds.rows(state)] == ["held"]
