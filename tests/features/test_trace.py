"""A victim report and the transfers it names come by different topics: whichever reaches the
victim's account first, the same money is traced and the case hears of the same amount."""

from __future__ import annotations

import pytest

from features import cases, engine
from features.signals import CaseReported, Taint, TransferOut, VictimReported
from features.state import AccountState
from features.trace import TRACE_HISTORY_MS
from features.windows import DAY_MS
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
