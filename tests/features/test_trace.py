"""A victim report and the transfers it names come by different topics: whichever reaches the
victim's account first, the same money is traced and the case hears of the same amount."""

from __future__ import annotations

import pytest

from features import cases, engine
from features.signals import CaseReported, Taint, TransferOut, VictimReported
from features.state import MAX_TAINTS, AccountState
from features.trace import TAINT_LIFETIME_MS, TRACE_HISTORY_MS
from features.windows import DAY_MS
from models import policy
from streams.topics import ACCOUNT_SIGNALS, CASE_UPDATES

T0 = 1_793_491_200_000
VICTIM = "KBANK:victim"
TRANSFERS = (
    TransferOut(T0 - 20 * 60_000, T0, "t1", "SCB:m1", 700_00, "mobile", None, None),
    TransferOut(T0 - 10 * 60_000, T0, "t2", "KTB:m2", 300_00, "mobile", None, None),
    TransferOut(T0 - 5 * 60_000, T0, "t3", "", 200_00, "atm", None, None),  # cash: nothing to trace
)
REPORT = VictimReported(T0, T0, "rep-1", ("t1", "t2", "t3"), "hotline_1441", None)


def _apply(signals: list) -> tuple[list[Taint], dict]:
    """The victim's account applies ``signals`` in this order; the taints it sends and the case."""
    state, case, taints = AccountState(), cases.new_case("rep-1", T0), []
    for signal in signals:
        emits, _ = engine.update(state, VICTIM, signal)
        taints += [s for topic, _, s in emits if topic == ACCOUNT_SIGNALS.name and isinstance(s, Taint)]
        for _, _, update in (e for e in emits if e[0] == CASE_UPDATES.name):
            cases.apply(case, update)
    return taints, case


@pytest.mark.parametrize("report_at", [0, 1, 2, 3], ids=["report-first", "after-1", "after-2", "report-last"])
def test_the_same_money_is_traced_whenever_the_report_arrives(report_at: int) -> None:
    in_time, in_time_case = _apply([*TRANSFERS, REPORT])
    signals = [*TRANSFERS]
    signals.insert(report_at, REPORT)
    taints, case = _apply(signals)

    assert [(t.hop, t.amount_satang, t.transfer_id, t.credit_ts_ms, t.report_ts_ms) for t in in_time] == [
        (1, 700_00, "t1", T0 - 20 * 60_000, T0), (1, 300_00, "t2", T0 - 10 * 60_000, T0)]
    assert sorted(taints, key=repr) == sorted(in_time, key=repr)
    assert case["reported_satang"] == in_time_case["reported_satang"] == 1_000_00
    assert case["victim"] == VICTIM


def test_a_repeated_report_after_the_late_transfer_counts_its_money_once() -> None:
    taints, case = _apply([REPORT, TRANSFERS[0], REPORT])
    assert {(t.case_id, t.transfer_id) for t in taints} == {("rep-1", "t1")}  # receivers skip repeats
    assert case["reported_satang"] == 700_00


def test_an_unmatched_report_is_forgotten_after_the_trace_history() -> None:
    """The transfers a report named that the account has not seen are kept for the trace
    history, not for ever: the account's next transfer after it forgets them."""
    state = AccountState()
    engine.update(state, VICTIM, REPORT)
    within = TransferOut(T0 + TRACE_HISTORY_MS - DAY_MS, T0, "t8", "TTB:x", 100_00, "mobile", None, None)
    engine.update(state, VICTIM, within)
    assert [row[0] for row in state.unmatched_reports] == ["t1", "t2", "t3"]
    beyond = TransferOut(T0 + TRACE_HISTORY_MS + DAY_MS, T0, "t9", "TTB:x", 100_00, "mobile", None, None)
    engine.update(state, VICTIM, beyond)
    assert state.unmatched_reports == []


def test_unmatched_reports_survive_the_state_encoding() -> None:
    state = AccountState()
    engine.update(state, VICTIM, REPORT)
    restored = AccountState.from_bytes(state.to_bytes())
    assert restored.unmatched_reports == [("t1", "rep-1", T0, 0), ("t2", "rep-1", T0, 0), ("t3", "rep-1", T0, 0)]
    emits, _ = engine.update(restored, VICTIM, TRANSFERS[1])
    [reported] = [s for topic, _, s in emits if topic == CASE_UPDATES.name]
    assert reported == CaseReported(T0, T0, "rep-1", VICTIM, "rep-1+t2", 300_00, None)


MULE, SHOP, PAYEE = "SCB:mule", "SCB:shop", "KTB:payee"


def _taint(case_id: str, transfer_id: str, amount: int, at: int = T0, police: bool = False) -> Taint:
    """Hop-1 traced money from the victim, credited and reported at ``at``."""
    return Taint(at, at, case_id, 1, amount, transfer_id, VICTIM, at, at, police, amount, "")


def _pays(state: AccountState, key: str, transfer_id: str, ts: int, amount: int) -> list[Taint]:
    """``key`` pays PAYEE: the taints that payment sends on."""
    emits, _ = engine.update(state, key, TransferOut(ts, ts, transfer_id, PAYEE, amount, "mobile", None, None))
    return [s for topic, _, s in emits if topic == ACCOUNT_SIGNALS.name and isinstance(s, Taint)]


def _traced(state: AccountState, key: str, taint: Taint) -> tuple[list, object]:
    """The account applies ``taint`` and the policy decides on the hit (recording its hold row)."""
    emits, hit = engine.update(state, key, taint)
    if hit is not None:
        policy.act(state, policy.decide_on_trace(hit), taint.ts_ms, hit)
    return emits, hit


def test_an_endpoint_keeps_its_taint_but_never_passes_it_on() -> None:
    """A merchant is reviewed, not traced through: its later payment to a supplier is its own."""
    state = AccountState()
    _, hit = engine.update(state, SHOP, _taint("rep-1", "t1", 500_00), frozenset({SHOP}))
    assert hit is not None and hit.merchant_like
    assert _pays(state, SHOP, "s1", T0 + 60_000, 400_00) == []
    assert engine.update(state, SHOP, _taint("rep-1", "t1", 500_00), frozenset({SHOP})) == ([], None)  # still known


def test_a_repeat_report_tells_the_case_and_traces_nothing_again() -> None:
    """The money was traced by the first report; the repeat only brings the police complaint."""
    state = AccountState()
    engine.update(state, VICTIM, TRANSFERS[0])
    engine.update(state, VICTIM, VictimReported(T0, T0, "rep-1", ("t1",), "hotline_1441", None))
    emits, _ = engine.update(state, VICTIM, VictimReported(T0 + 60_000, T0, "rep-1", ("t1",), "online", "POL-7"))
    assert [(topic, key, s.police_ref) for topic, key, s in emits] == [(CASE_UPDATES.name, "rep-1", "POL-7")]


def test_a_repeated_taint_is_known_after_eight_other_cases_reached_the_account() -> None:
    """A busy mule: rep-1's used-up taint is trimmed for eight live ones, but its hold row
    still says the money was traced here, so a repeat traces nothing and holds no one."""
    state = AccountState()
    _traced(state, MULE, _taint("rep-1", "t1", 1_000_00))
    assert len(_pays(state, MULE, "m1", T0 + 60_000, 1_000_00)) == 1  # rep-1's money moves on
    for i in range(8):
        _traced(state, MULE, _taint(f"rep-x{i}", f"x{i}", 200_00, T0 + 120_000 + i))
    assert {t[0] for t in state.taints} == {f"rep-x{i}" for i in range(8)}  # the live ones are kept
    assert engine.update(state, MULE, _taint("rep-1", "t1", 1_000_00, T0 + 3_600_000)) == ([], None)


def test_traced_money_is_not_followed_past_its_longest_hold() -> None:
    """No hold can be requested for money moved after report + 7 days (a police complaint's
    hold): the taint's remainder no longer goes anywhere."""
    assert TAINT_LIFETIME_MS == policy.POLICE_COMPLAINT_HOLD_MS
    within, beyond = AccountState(), AccountState()
    for state in (within, beyond):
        engine.update(state, MULE, _taint("rep-1", "t1", 1_000_00, police=True))
    assert len(_pays(within, MULE, "m1", T0 + TAINT_LIFETIME_MS - 60_000, 1_000_00)) == 1
    assert _pays(beyond, MULE, "m1", T0 + TAINT_LIFETIME_MS, 1_000_00) == []
    late = AccountState()  # the report reaches the mule after it paid out (a backlog)
    _pays(late, MULE, "m1", T0 + TAINT_LIFETIME_MS, 1_000_00)
    assert engine.update(late, MULE, _taint("rep-1", "t1", 1_000_00, police=True))[0] == []


def test_a_second_report_before_the_transfer_joins_the_waiting_case() -> None:
    """rep-2 (with a police complaint) names a transfer rep-1 is still waiting for: as when
    the transfer came first, case rep-1 hears of the complaint and no empty case is opened."""
    state, case = AccountState(), cases.new_case("rep-1", T0)
    emits, _ = engine.update(state, VICTIM, REPORT)
    emits += engine.update(state, VICTIM, VictimReported(T0 + 60_000, T0, "rep-2", ("t1",), "online", "POL-123"))[0]
    emits += engine.update(state, VICTIM, TRANSFERS[0])[0]
    assert {key for topic, key, _ in emits if topic == CASE_UPDATES.name} == {"rep-1"}
    for _, _, update in (e for e in emits if e[0] == CASE_UPDATES.name):
        cases.apply(case, update)
    assert case["police_ref"] == "POL-123"
    assert [(s.case_id, s.transfer_id) for topic, _, s in emits if topic == ACCOUNT_SIGNALS.name
            and isinstance(s, Taint)] == [("rep-1", "t1")]


def test_taints_with_money_left_outlast_used_up_ones() -> None:
    """Trimming to MAX_TAINTS drops taints that have nothing left to follow first."""
    state = AccountState()
    for i in range(8):
        _pays(state, MULE, f"m{i}", T0 + 10 + i, 200_00)  # each pays out one earlier credit below
    engine.update(state, MULE, _taint("live", "t-live", 500_00, T0 + 100))  # after every payment: all left
    for i in range(8):
        engine.update(state, MULE, _taint(f"rep-x{i}", f"x{i}", 200_00, T0 + 10 + i))
    assert ("live", 500_00) in [(t[0], t[3]) for t in state.taints]
    assert len(state.taints) == MAX_TAINTS
