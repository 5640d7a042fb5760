"""Telecom context of an account, joined through its registry-linked phone."""

from __future__ import annotations

import math

from features.spec import FeatureSpec
from features.state import AccountState
from features.windows import DAY_MS

NAN = math.nan
_TEL, _R = "telecom.events.v1", "registry.accounts.v1"

FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("risky_call_min_ago", "minutes since this account's phone got a call/SMS from a scam-like number", "1h", f"{_TEL}, {_R}"),
    FeatureSpec("risky_caller_calls_24h", "that caller's outgoing calls in 24h", "24h", _TEL),
    FeatureSpec("sim_change_days", "days since the linked SIM was swapped or registered", "all", f"{_TEL}, {_R}"),
    FeatureSpec("phone_calls_sms_24h", "outgoing calls and SMS of the linked phone (level pushed at 20/50/100)", "24h",
                _TEL),
)
RISKY_CALL_HORIZON_MS = 60 * 60_000


def risky_call_age_ms(state: AccountState, at_ms: int) -> int:
    """Age of the latest risky call within the horizon, or -1."""
    if state.risky_call_ts_ms < 0:
        return -1
    age = at_ms - state.risky_call_ts_ms
    return age if 0 <= age <= RISKY_CALL_HORIZON_MS else -1


def columns(state: AccountState, at_ms: int) -> list[float]:
    if state.phone_context_ts_ms < 0:
        return [NAN] * len(FEATURES)
    age = risky_call_age_ms(state, at_ms)
    return [
        age / 60_000 if age >= 0 else NAN,
        float(state.risky_caller_calls_24h) if age >= 0 else 0.0,
        (at_ms - state.sim_change_ts_ms) / DAY_MS if state.sim_change_ts_ms >= 0 else NAN,
        float(max(state.phone_calls_24h, 0)),
    ]
