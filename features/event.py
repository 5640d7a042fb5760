"""Features of the scored transfer itself and of the account's age and dormancy."""

from __future__ import annotations

import math

from features.signals import TransferIn, TransferOut
from features.spec import FeatureSpec
from features.state import AccountState
from features.windows import DAY_MS, HOUR_MS

NAN = math.nan
_T, _R = "bank.transfers.v1", "registry.accounts.v1"
CHANNEL_CODES = {"mobile": 0, "internet": 1, "promptpay": 2, "atm": 3, "counter": 4, "other": 5}
BANGKOK_OFFSET_MS = 7 * HOUR_MS

FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("event_is_debit", "1 if the scored transfer leaves this account, 0 if it arrives", "event", _T),
    FeatureSpec("event_amount_thb", "amount of the scored transfer", "event", _T),
    FeatureSpec("event_amount_vs_mean_out", "amount / this account's mean outgoing amount", "all", _T),
    FeatureSpec("first_time_pair", "1 if this payer never paid this payee before", "bounded history", _T),
    FeatureSpec("channel", "channel code (mobile, internet, promptpay, atm, counter, other)", "event", _T),
    FeatureSpec("night", "1 if between 00:00 and 05:59 Bangkok time", "event", _T),
    FeatureSpec("payer_amount_ratio", "credits: amount / the payer's own mean outgoing amount", "all", _T),
    FeatureSpec("payer_risky_call_min", "credits: minutes since the payer's phone got a scam-like call", "1h", "telecom.events.v1"),
    FeatureSpec("account_age_days", "days since the account was opened", "all", _R),
    FeatureSpec("dormant_days", "idle days before the current burst of activity", "all", _T),
)


def columns(state: AccountState, signal: TransferIn | TransferOut, at_ms: int) -> list[float]:
    is_debit = isinstance(signal, TransferOut)
    mean_out = state.out_sum_total / state.out_count_total if state.out_count_total else 0
    if is_debit:
        first_pair, payer_ratio, payer_call = NAN, NAN, NAN
    else:
        first_pair = float(signal.first_time_pair)
        payer_ratio = signal.payer_amount_ratio if signal.payer_amount_ratio > 0 else NAN
        age = signal.payer_risky_call_age_ms
        payer_call = age / 60_000 if age >= 0 else NAN
    hour = ((at_ms + BANGKOK_OFFSET_MS) % DAY_MS) // HOUR_MS
    return [
        float(is_debit),
        signal.amount_satang / 100,
        signal.amount_satang / mean_out if mean_out else NAN,
        first_pair,
        float(CHANNEL_CODES.get(signal.channel, 5)),
        float(hour < 6),
        payer_ratio,
        payer_call,
        (at_ms - state.opened_ts_ms) / DAY_MS if state.opened_ts_ms >= 0 else NAN,
        state.dormant_gap_ms / DAY_MS if state.dormant_gap_ms >= 0 else NAN,
    ]
