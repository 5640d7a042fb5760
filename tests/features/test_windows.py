"""Window arithmetic against a brute-force recomputation over random event sequences,
including out-of-order events within the allowed lateness and events that arrive after it."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from features import engine
from features.engine import FEATURE_NAMES, counterparty_id
from features.signals import TransferIn
from features.state import AccountState
from features.windows import (
    ALLOWED_LATENESS_MS,
    HORIZON_MS,
    HOUR_MS,
    MAX_EVENTS,
    RETENTION_MS,
    WINDOW_NAMES,
    WINDOWS_MS,
    Flow,
    too_late,
)

events = st.lists(
    st.tuples(st.integers(0, 10 * 86_400_000), st.integers(1, 10**9), st.integers(0, 50)),
    max_size=120,
)


def brute(history: list[tuple[int, int, int]], at_ms: int, span_ms: int) -> tuple[int, int, int, int]:
    inside = [(ts, amount, cp) for ts, amount, cp in history if at_ms - span_ms < ts <= at_ms]
    if not inside:
        return (0, 0, 0, 0)
    return (len(inside), sum(a for _, a, _ in inside), max(a for _, a, _ in inside), len({c for *_, c in inside}))


@settings(max_examples=300, deadline=None)
@given(events, st.integers(0, 12 * 86_400_000))
def test_windows_match_brute_force_in_any_arrival_order(history, at_ms) -> None:
    """Out-of-order events land in place: any arrival order gives the same windows."""
    flow = Flow()
    for ts, amount, cp in history:
        flow.add(ts, amount, cp)
    for span in WINDOWS_MS + (1, 90_000):
        expected = brute(history, at_ms, span)
        assert flow.window(at_ms, span) == expected
        assert flow.count_distinct(at_ms, span) == (expected[0], expected[3])
    assert flow.nested(at_ms, WINDOWS_MS) == [brute(history, at_ms, span) for span in WINDOWS_MS]


@settings(max_examples=200, deadline=None)
@given(events)
def test_expiry_forgets_only_what_no_window_can_see(history) -> None:
    """Events arriving later than the horizon are gone; everything the windows can see is kept."""
    flow = Flow()
    latest = 0
    for ts, amount, cp in history:
        flow.add(ts, amount, cp)
        latest = max(latest, ts)
        flow.expire_before(latest - HORIZON_MS)
    for span in WINDOWS_MS:
        assert flow.window(latest, span) == brute(history, latest, span)
    # ...and only that is kept (queries at ``latest`` alone would not notice a flow that never forgets)
    assert list(flow.ts) == sorted(ts for ts, _, _ in history if ts >= latest - HORIZON_MS)


def test_size_is_bounded() -> None:
    """At the bound the oldest events make room: the newest ``MAX_EVENTS`` are kept."""
    flow = Flow()
    for i in range(MAX_EVENTS * 3):
        flow.add(i, 1, i)
    assert len(flow) == MAX_EVENTS
    assert list(flow.ts) == list(range(2 * MAX_EVENTS, 3 * MAX_EVENTS))
    assert flow.window(MAX_EVENTS * 3, 10**9)[0] == MAX_EVENTS


@given(events)
def test_bytes_round_trip(history) -> None:
    flow = Flow()
    for ts, amount, cp in history:
        flow.add(ts, amount, cp % 2**32)
    back, end = Flow.from_bytes(memoryview(flow.to_bytes()), 0)
    assert (list(back.ts), list(back.amount), list(back.cp)) == (list(flow.ts), list(flow.amount), list(flow.cp))
    assert end == len(flow.to_bytes())


# Arrivals as (advance of the newest event time, how far behind it this event is, amount, payer):
# lateness is drawn up to three times the allowed lateness, so both sides of the policy occur.
arrivals = st.lists(
    st.tuples(st.integers(0, 3 * HOUR_MS), st.integers(0, 3 * ALLOWED_LATENESS_MS),
              st.integers(1, 10**9), st.integers(0, 30)),
    max_size=150,
)


def _arrive(stream: list[tuple[int, int, int, int]]):  # noqa: ANN202
    """Event times of ``stream``, with the newest-so-far time at each arrival."""
    newest = 0
    for advance, behind, amount, cp in stream:
        newest += advance
        yield max(newest - behind, 0), amount, cp


# newest at twice the lateness: on time; half the lateness behind: out of order but within;
# one and a half behind: refused
MIXED = [(2 * ALLOWED_LATENESS_MS, 0, 5, 1), (0, ALLOWED_LATENESS_MS // 2, 7, 2),
         (0, 3 * ALLOWED_LATENESS_MS // 2, 9, 3), (60_000, 0, 11, 1)]


@settings(max_examples=300, deadline=None)
@given(arrivals)
@example(MIXED)
def test_lateness_policy_against_brute_force(stream) -> None:
    """Within the allowed lateness an event is counted where it belongs and its own figures are
    exact, and every query an on-time event can still make is exact afterwards. Events beyond
    it are refused by the caller (the engine, next test), so they never reach the flow."""
    flow, accepted, watermark = Flow(), [], -1
    late = on_time = 0
    for ts, amount, cp in _arrive(stream):
        if too_late(ts, watermark):
            late += 1
            continue
        on_time += 1
        flow.add(ts, amount, cp)
        accepted.append((ts, amount, cp))
        watermark = max(watermark, ts)
        flow.expire_before(watermark - RETENTION_MS)
        for span in WINDOWS_MS:  # the vector of this event: as of its own time, exact
            assert flow.window(ts, span) == brute(accepted, ts, span)
    for back in (0, 1, ALLOWED_LATENESS_MS // 2, ALLOWED_LATENESS_MS):
        at = watermark - back  # any query an on-time event can still make
        assert flow.nested(at, WINDOWS_MS) == [brute(accepted, at, span) for span in WINDOWS_MS]
    assert late + on_time == len(stream)
    if stream == MIXED:
        assert (on_time, late) == (3, 1)


def test_lateness_boundary() -> None:
    assert not too_late(10 * HOUR_MS - ALLOWED_LATENESS_MS, 10 * HOUR_MS)
    assert too_late(10 * HOUR_MS - ALLOWED_LATENESS_MS - 1, 10 * HOUR_MS)
    assert not too_late(0, -1)  # nothing seen yet: nothing is late


@settings(max_examples=100, deadline=None)
@given(arrivals)
@example(MIXED)
def test_engine_refuses_late_transfers_and_counts_the_rest_exactly(stream) -> None:
    """Through the engine: a credit further behind the account's newest transfer than the
    allowed lateness is rejected as ``late_event`` and changes no byte of the account's state
    (the worker dead-letters it); every on-time credit's window features match a brute-force
    recount."""
    state, accepted, newest, refused = AccountState(), [], -1, 0
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    for i, (ts, amount, cp) in enumerate(_arrive(stream)):
        signal = TransferIn(ts, ts, f"t{i}", f"KTB:{cp}", amount, "mobile", True, 0.0, -1, False, -1)
        late = ts < newest - ALLOWED_LATENESS_MS  # the policy, from the accepted events alone
        assert engine.is_late(state, signal) == late
        assert engine.rejection(state, signal) == ("late_event" if late else None)
        if late:
            refused += 1
            before = state.to_bytes()
            assert engine.update(state, "SCB:1", signal) == ([], None)
            assert state.to_bytes() == before
            continue
        engine.update(state, "SCB:1", signal)
        newest = max(newest, ts)
        accepted.append((ts, amount, counterparty_id(f"KTB:{cp}")))
        vec = engine.vector(state, signal)
        for name, span in zip(WINDOW_NAMES, WINDOWS_MS, strict=True):
            count, total, biggest, distinct = brute(accepted, ts, span)
            assert vec[col[f"in_count_{name}"]] == count
            assert vec[col[f"in_sum_thb_{name}"]] == total / 100
            if f"in_max_thb_{name}" in col:
                assert vec[col[f"in_max_thb_{name}"]] == biggest / 100
            if f"in_distinct_{name}" in col:
                assert vec[col[f"in_distinct_{name}"]] == distinct
    if stream == MIXED:
        assert refused == 1  # the third arrival, one and a half times the lateness behind


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3 * 86_400_000), st.integers(0, 40), st.sampled_from((0, 1, 3))),
                max_size=400),
       st.sampled_from((60_000, HOUR_MS, 86_400_000)))
@example([(i * 1_000, i % 7, 0) for i in range(MAX_EVENTS + 200)], 86_400_000)  # the size bound cuts the window
def test_distinct_counts_stay_exact_while_the_window_slides(calls, span) -> None:
    """A phone's call velocity is counted from the last window's difference; any arrival
    order, expiry (also inside the counted window) and the size bound still give the
    brute-force figures over what the flow keeps."""
    flow = Flow()
    latest = 0
    for ts, callee, expiry in calls:
        flow.add(ts, 10**6, callee)  # an amount no callee has: a misplaced slice shows
        latest = max(latest, ts)
        if expiry:
            flow.expire_before(latest - span // expiry)
        kept = list(zip(flow.ts, flow.amount, flow.cp, strict=True))
        expected = brute(kept, ts, span)
        assert flow.count_distinct(ts, span) == (expected[0], expected[3])
