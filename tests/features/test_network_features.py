"""Network features read as their documented meaning (docs/features.md), at the edges."""

from __future__ import annotations

import math

from replay_run import OfflineRun

from features.windows import DAY_MS, HOUR_MS

T0 = 1_793_491_200_000


def test_time_from_credit_to_debit_counts_only_credits_within_its_seven_days() -> None:
    run = OfflineRun()
    run.send("in", T0, "x", "a", 1_000)
    run.send("soon", T0 + 6 * DAY_MS, "a", "y", 100)
    run.send("late", T0 + 7 * DAY_MS + 5 * HOUR_MS, "a", "y", 100)  # the flow still keeps the credit
    assert run.feature("a", "soon", "credit_to_debit_min") == 6 * 24 * 60
    assert math.isnan(run.feature("a", "late", "credit_to_debit_min"))


def test_first_time_payer_share_is_a_share_when_a_burst_fills_the_flow() -> None:
    """Hundreds of 1 THB credits from one payer push the big first-time credits out of the
    capped inflow before they leave the first-time flow: the share still stays within 0..1."""
    run = OfflineRun()
    for n in range(10):
        run.send(f"big{n}", T0 + n, f"p{n}", "a", 10_000)
    for n in range(260):
        run.send(f"tiny{n}", T0 + 100 + n, "q", "a", 1)
    run.send("out", T0 + 1_000, "a", "y", 50)
    assert 0.0 <= run.feature("a", "out", "first_time_payer_share_24h") <= 1.0
