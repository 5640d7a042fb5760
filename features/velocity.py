"""Money in and out over sliding windows: counts, sums, maxima, distinct counterparties."""

from __future__ import annotations

from features.spec import FeatureSpec
from features.state import AccountState
from features.windows import DAY_MS, WINDOW_NAMES, WINDOWS_MS

_T = "bank.transfers.v1"
SMALL_TEST_SATANG = 1_000  # under 10 THB: the "test transfer" a herder sends to check an account
# Every span the vector reads from the in/out flows, shortest first (48h is pass-through's).
SPANS_MS: tuple[int, ...] = (*WINDOWS_MS[:3], 2 * DAY_MS, WINDOWS_MS[3])
SPAN_AT = {span: i for i, span in enumerate(SPANS_MS)}
FlowStats = list[tuple[int, int, int, int]]  # per span: count, sum, max, distinct

FEATURES: tuple[FeatureSpec, ...] = tuple(
    spec
    for direction, word, party in (("in", "received", "payers"), ("out", "sent", "payees"))
    for w in WINDOW_NAMES
    for spec in (
        FeatureSpec(f"{direction}_count_{w}", f"transfers {word}", w, _T),
        FeatureSpec(f"{direction}_sum_thb_{w}", f"THB {word}", w, _T),
        *((FeatureSpec(f"{direction}_max_thb_{w}", f"largest single transfer {word}, THB", w, _T),)
          if w in ("24h", "7d") else ()),
        *((FeatureSpec(f"{direction}_distinct_{w}", f"distinct {party}", w, _T),)
          if w != "10m" else ()),
    )
) + (FeatureSpec("small_in_count_24h", "credits under 10 THB (test transfers)", "24h", _T),)

# (flow 0=in/1=out, span index, figure index 0..3, divisor) per window feature, in FEATURES order
_PLAN: tuple[tuple[int, int, int, int], ...] = tuple(
    (d, SPAN_AT[span], figure, divisor)
    for d in (0, 1)
    for span, name in zip(WINDOWS_MS, WINDOW_NAMES, strict=True)
    for figure, divisor, wanted in (
        (0, 1, True), (1, 100, True), (2, 100, name in ("24h", "7d")), (3, 1, name != "10m"))
    if wanted
)


def flow_stats(state: AccountState, at_ms: int) -> tuple[FlowStats, FlowStats]:
    """In and out figures for every span in ``SPANS_MS``, one pass over each flow."""
    return state.inflow.nested(at_ms, SPANS_MS), state.outflow.nested(at_ms, SPANS_MS)


def _plan_function():  # noqa: ANN202
    """``_PLAN`` as one generated expression (``[i[0][0], i[0][1] / 100, ...]``): the same
    figures as looping over the plan, without a tuple unpacking and lookup per feature."""
    terms = ", ".join(f"{'io'[d]}[{s}][{k}] / {div}" for d, s, k, div in _PLAN)
    scope: dict = {}
    exec(f"def window_figures(i, o):\n    return [{terms}]\n", scope)  # noqa: S102 - from constants
    return scope["window_figures"]


_window_figures = _plan_function()


def columns(state: AccountState, at_ms: int, stats: tuple[FlowStats, FlowStats] | None = None) -> list[float]:
    """Window figures at ``at_ms``, in ``FEATURES`` order."""
    inflow, outflow = stats or flow_stats(state, at_ms)
    out = _window_figures(inflow, outflow)
    out.append(state.inflow.count_below(at_ms - DAY_MS, at_ms, SMALL_TEST_SATANG))
    return out
