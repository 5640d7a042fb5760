"""Money in and out over sliding windows: counts, sums, maxima, distinct counterparties."""

from __future__ import annotations

from features.spec import FeatureSpec
from features.state import AccountState
from features.windows import DAY_MS, WINDOW_NAMES, WINDOWS_MS

_T = "bank.transfers.v1"
SMALL_TEST_SATANG = 1_000  # under 10 THB: the "test transfer" a herder sends to check an account

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


def columns(state: AccountState, at_ms: int) -> list[float]:
    """Window figures at ``at_ms``, in ``FEATURES`` order."""
    out: list[float] = []
    for flow in (state.inflow, state.outflow):
        for span, name in zip(WINDOWS_MS, WINDOW_NAMES, strict=True):
            count, total, biggest, distinct = flow.window(at_ms, span)
            out.append(count)
            out.append(total / 100)
            if name in ("24h", "7d"):
                out.append(biggest / 100)
            if name != "10m":
                out.append(distinct)
    out.append(_small_credits(state, at_ms))
    return out


def _small_credits(state: AccountState, at_ms: int) -> int:
    flow = state.inflow
    return sum(
        1 for ts, amount in zip(flow.ts, flow.amount, strict=True)
        if at_ms - DAY_MS < ts <= at_ms and amount < SMALL_TEST_SATANG
    )
