"""Turns a score into a decision and a decision into a freeze request, with legal timers.

Royal Decree on Technology Crime B.E. 2566 (amended 2025): a bank-initiated hold on
suspicion holds only the traced amount for up to 3 days (police may extend to 7); a
victim-reported hold lasts 72 hours, 7 days from a police complaint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from features.trace import TraceHit
from features.windows import DAY_MS, HOUR_MS
from streams.contracts import FreezeRequest

BANK_SUSPICION_HOLD_MS = 3 * DAY_MS
VICTIM_REPORT_HOLD_MS = 72 * HOUR_MS
POLICE_COMPLAINT_HOLD_MS = 7 * DAY_MS
LEGAL_BASIS_BANK = "bank_suspicion_3d"
LEGAL_BASIS_VICTIM = "victim_report_72h"
LEGAL_BASIS_POLICE = "police_complaint_7d"


def request_id(key: str, trigger_event_id: str, action: str) -> str:
    """Deterministic: the same decision on the same event always gets the same id.

    Examples:
        >>> request_id("KTB:1", "t9", "hold") == request_id("KTB:1", "t9", "hold")
        True
        >>> request_id("KTB:1", "t9", "hold") != request_id("KTB:1", "t9", "release")
        True
    """
    return hashlib.sha256(f"{key}|{trigger_event_id}|{action}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do about one account after one event, and why."""

    key: str
    action: str  # hold, review
    score: float
    model_version: str | None
    trigger_event_id: str
    event_ts_ms: int
    amount_satang: int | None
    expires_ts_ms: int
    legal_basis: str
    reason: str = "model"
    top_reasons: tuple[str, ...] = ()
    case_id: str | None = None
    hop: int | None = None


def decide_on_score(
    key: str, probability: float, model_version: str, hold_threshold: float,
    review_threshold: float, trigger_event_id: str, event_ts_ms: int, suspicious_inflow_satang: int,
) -> Decision | None:
    """Hold above the hold threshold, queue for review above the review threshold.

    The amount held is the recent inflow (the money the model suspects), not the balance.

    Examples:
        >>> decide_on_score("KTB:1", 0.99, "m1", 0.9, 0.5, "t1", 0, 5000).action
        'hold'
        >>> decide_on_score("KTB:1", 0.6, "m1", 0.9, 0.5, "t1", 0, 5000).action
        'review'
        >>> decide_on_score("KTB:1", 0.1, "m1", 0.9, 0.5, "t1", 0, 5000) is None
        True
    """
    if probability >= hold_threshold:
        action = "hold"
    elif probability >= review_threshold:
        action = "review"
    else:
        return None
    return Decision(
        key=key, action=action, score=round(probability, 6), model_version=model_version,
        trigger_event_id=trigger_event_id, event_ts_ms=event_ts_ms,
        amount_satang=suspicious_inflow_satang or None,
        expires_ts_ms=event_ts_ms + BANK_SUSPICION_HOLD_MS, legal_basis=LEGAL_BASIS_BANK,
    )


HOP_CONFIDENCE = (1.0, 0.95, 0.85, 0.7, 0.55)  # traced money is less certain at every hop


def hop_confidence(hop: int) -> float:
    """Examples:
    >>> hop_confidence(1), hop_confidence(9)
    (1.0, 0.55)
    """
    return HOP_CONFIDENCE[min(max(hop, 1), len(HOP_CONFIDENCE)) - 1]


def decide_on_trace(hit: TraceHit) -> Decision:
    """Hold exactly the traced amount, under the victim-report timer; shops get a review."""
    if hit.police:
        basis, expires = LEGAL_BASIS_POLICE, hit.report_ts_ms + POLICE_COMPLAINT_HOLD_MS
    else:
        basis, expires = LEGAL_BASIS_VICTIM, hit.report_ts_ms + VICTIM_REPORT_HOLD_MS
    reasons = (f"traced from case {hit.case_id}: {hit.amount_satang / 100:,.2f} THB reached this account "
               f"at hop {hit.hop} via transfer {hit.transfer_id} from {hit.from_account}",)
    return Decision(
        key=hit.key, action="review" if hit.merchant_like else "hold", score=hop_confidence(hit.hop),
        model_version=None, trigger_event_id=hit.transfer_id, event_ts_ms=hit.report_ts_ms,  # type: ignore[arg-type]
        amount_satang=hit.amount_satang, expires_ts_ms=expires, legal_basis=basis, reason="trace",
        top_reasons=reasons, case_id=hit.case_id, hop=hit.hop,
    )


def freeze_request(decision: Decision, emitted_ts_ms: int) -> FreezeRequest:
    bank, _, account = decision.key.partition(":")
    trigger = decision.trigger_event_id
    if decision.case_id is not None:
        trigger = f"{decision.case_id}/{trigger}"
    return FreezeRequest(
        request_id=request_id(decision.key, trigger, "hold"),
        bank=bank, account=account, action="hold", amount_satang=decision.amount_satang,
        reason=decision.reason, score=decision.score,  # type: ignore[arg-type]
        model_version=decision.model_version, top_reasons=decision.top_reasons,
        case_id=decision.case_id, hop=decision.hop, trigger_event_id=decision.trigger_event_id,
        event_ts_ms=decision.event_ts_ms, emitted_ts_ms=emitted_ts_ms,
        legal_basis=decision.legal_basis, expires_ts_ms=decision.expires_ts_ms,
    )
