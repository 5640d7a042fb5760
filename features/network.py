"""Money-network signals: pass-through, first-time payers, taint from held accounts, shared identity."""

from __future__ import annotations

import math

from features.spec import FeatureSpec
from features.state import AccountState
from features.velocity import SPAN_AT, FlowStats, flow_stats
from features.windows import DAY_MS, HOUR_MS

_T, _R = "bank.transfers.v1", "registry.accounts.v1"
NAN = math.nan
PASS_THROUGH_CAP = 5.0

FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("first_time_payer_share_24h", "share of THB received from payers paying it for the first time", "24h", _T),
    FeatureSpec("pass_through_48h", "THB sent / THB received (capped at 5)", "48h", _T),
    FeatureSpec("drain_1h", "THB sent in the last hour / THB received in 24h (capped at 5)", "1h / 24h", _T),
    FeatureSpec("credit_to_debit_min", "minutes from the latest credit to this debit (debits only)", "7d", _T),
    FeatureSpec("tainted_in_thb_24h", "THB received from held or traced accounts", "24h", _T),
    FeatureSpec("taint_hops", "hops from the nearest held or traced account (missing: none)", "7d", _T),
    FeatureSpec("accounts_per_phone", "accounts linked to this account's phone (counted up to 32)", "all", _R),
    FeatureSpec("accounts_per_device", "accounts linked to this account's device(s) (counted up to 32)", "all",
                f"{_R}, {_T}"),
    FeatureSpec("accounts_per_national_id", "accounts of the same national-ID holder (counted up to 32)", "all",
                _R),
    FeatureSpec("held_identity_links", "held accounts sharing a phone, device or national ID", "all", f"{_R}, {_T}"),
)


TAINT_WINDOW_MS = 7 * DAY_MS  # the taint features' window (as long as traced money is followed)


def taint_hops_at(state: AccountState, at_ms: int) -> int:
    """Hops from the nearest held or traced account as known at ``at_ms``, -1 for none. A taint
    lapses ``TAINT_WINDOW_MS`` after the money (or hold) that brought it: an account held
    once, or paid once by one, is not tainted for good."""
    return state.taint_hops if at_ms < state.taint_until_ms else -1


def _known(value: int) -> float:
    return NAN if value < 0 else float(value)


_DAY, _TWO_DAYS, _HOUR = SPAN_AT[DAY_MS], SPAN_AT[2 * DAY_MS], SPAN_AT[HOUR_MS]
_WEEK = 7 * DAY_MS


def columns(state: AccountState, at_ms: int, is_debit: bool,
            stats: tuple[FlowStats, FlowStats] | None = None) -> list[float]:
    inflow, outflow = stats or flow_stats(state, at_ms)
    received_24h, received_48h = inflow[_DAY][1], inflow[_TWO_DAYS][1]
    sent_48h, sent_1h = outflow[_TWO_DAYS][1], outflow[_HOUR][1]
    first_24h = state.first_inflow.sum_between(at_ms - DAY_MS, at_ms)
    last_credit = state.inflow.last_ts_before(at_ms + 1)
    return [
        min(first_24h / received_24h, 1.0) if received_24h else NAN,  # a share (the two flows cap apart)
        min(sent_48h / received_48h, PASS_THROUGH_CAP) if received_48h else NAN,
        min(sent_1h / received_24h, PASS_THROUGH_CAP) if received_24h else NAN,
        (at_ms - last_credit) / 60_000 if is_debit and last_credit is not None and at_ms - last_credit <= _WEEK
        else NAN,  # the flow keeps 7 days and the lateness allowance: only the window counts
        state.tainted_inflow.sum_between(at_ms - DAY_MS, at_ms) / 100,
        _known(taint_hops_at(state, at_ms)),
        _known(state.phone_accounts),
        _known(state.device_accounts),
        _known(state.nid_accounts),
        float(state.held_identity_links),
    ]
