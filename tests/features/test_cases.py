"""A case's refunds: payouts counted once each, whatever order or how often they arrive."""

from __future__ import annotations

from features import cases, holds
from features.signals import CaseRefunded, HoldAcked, Taint, decode_signal, encode_signal
from features.state import AccountState
from features.trace import on_taint
from models import policy
from streams.topics import CASE_UPDATES

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
