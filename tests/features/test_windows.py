"""Window arithmetic against a brute-force recomputation over random event sequences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from features.windows import HORIZON_MS, MAX_EVENTS, WINDOWS_MS, Flow

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
        assert flow.window(at_ms, span) == brute(history, at_ms, span)


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


def test_size_is_bounded() -> None:
    flow = Flow()
    for i in range(MAX_EVENTS * 3):
        flow.add(i, 1, i)
    assert len(flow) == MAX_EVENTS
    assert flow.window(MAX_EVENTS * 3, 10**9)[0] == MAX_EVENTS


@given(events)
def test_bytes_round_trip(history) -> None:
    flow = Flow()
    for ts, amount, cp in history:
        flow.add(ts, amount, cp % 2**32)
    back, end = Flow.from_bytes(memoryview(flow.to_bytes()), 0)
    assert (list(back.ts), list(back.amount), list(back.cp)) == (list(flow.ts), list(flow.amount), list(flow.cp))
    assert end == len(flow.to_bytes())
