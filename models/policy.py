"""Turns a score into a decision and a decision into a freeze request, with legal timers.

Royal Decree on Technology Crime B.E. 2566 (amended 2025): a bank-initiated hold on
suspicion holds only the traced amount for up to 3 days (police may extend to 7); a
victim-reported hold lasts 72 hours, 7 days from a police complaint.
"""

from __future__ import annotations

from dataclasses import dataclass

from features import holds
from features.holds import Effects, Hold, make_audit, request_id
from features.signals import CaseHop
from features.state import AccountState
from features.trace import TraceHit
from features.windows import DAY_MS, HOUR_MS
from streams.contracts import FreezeRequest
from streams.topics import CASE_UPDATES

BANK_SUSPICION_HOLD_MS = 3 * DAY_MS
VICTIM_REPORT_HOLD_MS = 72 * HOUR_MS
POLICE_COMPLAINT_HOLD_MS = 7 * DAY_MS
LEGAL_BASIS_BANK = "bank_suspicion_3d"
LEGAL_BASIS_VICTIM = "victim_report_72h"
LEGAL_BASIS_POLICE = "police_complaint_7d"


__all__ = ["Decision", "act", "decide_on_score", "decide_on_trace", "freeze_request", "request_id"]


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
    model_inputs: dict | None = None  # model decisions: thresholds and the scored features (audit)
    case_id: str | None = None
    hop: int | None = None
    trace_via: str = ""  # fan-in: which traced credit of the sender this part came from


def decide_on_score(
    key: str, probability: float, model_version: str, hold_threshold: float,
    review_threshold: float, trigger_event_id: str, event_ts_ms: int, suspicious_inflow_satang: int,
) -> Decision | None:
    """Hold above the hold threshold, queue for review above the review threshold.

    The amount held is the recent inflow (the money the model suspects), never the balance:
    with no recent inflow there is nothing to hold, and a whole-balance freeze needs a court
    order, so the account goes to review instead. The thresholds are compared with the
    score as recorded (rounded), so a recorded hold never shows a score below its threshold.

    Examples:
        >>> decide_on_score("KTB:1", 0.99, "m1", 0.9, 0.5, "t1", 0, 5000).action
        'hold'
        >>> decide_on_score("KTB:1", 0.99, "m1", 0.9, 0.5, "t1", 0, 0).action  # no inflow to hold
        'review'
        >>> decide_on_score("KTB:1", 0.6, "m1", 0.9, 0.5, "t1", 0, 5000).action
        'review'
        >>> decide_on_score("KTB:1", 0.1, "m1", 0.9, 0.5, "t1", 0, 5000) is None
        True
    """
    score = round(probability, 6)
    if score >= hold_threshold and suspicious_inflow_satang > 0:
        action = "hold"
    elif score >= review_threshold:
        action = "review"
    else:
        return None
    return Decision(
        key=key, action=action, score=score, model_version=model_version,
        trigger_event_id=trigger_event_id, event_ts_ms=event_ts_ms,
        amount_satang=suspicious_inflow_satang if action == "hold" else None,
        expires_ts_ms=event_ts_ms + BANK_SUSPICION_HOLD_MS, legal_basis=LEGAL_BASIS_BANK,
        model_inputs={"hold_threshold": hold_threshold, "review_threshold": review_threshold},
    )


HOP_CONFIDENCE = (1.0, 0.95, 0.85, 0.7, 0.55)  # traced money is less certain at every hop


def hop_confidence(hop: int) -> float:
    """Examples:
    >>> hop_confidence(1), hop_confidence(9)
    (1.0, 0.55)
    """
    return HOP_CONFIDENCE[min(max(hop, 1), len(HOP_CONFIDENCE)) - 1]


def decide_on_trace(hit: TraceHit) -> Decision:
    """Hold exactly the traced amount, under the victim-report timer; shops get a review, and
    so does money that reached the account after that timer ran out (a hold would be born
    expired: only the police can hold it now).

    Examples:
        >>> from features.trace import TraceHit
        >>> hit = TraceHit("SCB:m1", "c1", 2, 5000, "t1", "KTB:m0", 10, 0, False, False, 0)
        >>> decide_on_trace(hit).action
        'hold'
        >>> from dataclasses import replace
        >>> decide_on_trace(replace(hit, credit_ts_ms=VICTIM_REPORT_HOLD_MS)).action
        'review'
    """
    if hit.police:
        basis, expires = LEGAL_BASIS_POLICE, hit.report_ts_ms + POLICE_COMPLAINT_HOLD_MS
    else:
        basis, expires = LEGAL_BASIS_VICTIM, hit.report_ts_ms + VICTIM_REPORT_HOLD_MS
    reasons = (f"traced from case {hit.case_id}: {hit.amount_satang / 100:,.2f} THB reached this account "
               f"at hop {hit.hop} via transfer {hit.transfer_id} from {hit.from_account}",)
    review = hit.merchant_like or hit.credit_ts_ms >= expires
    return Decision(
        key=hit.key, action="review" if review else "hold", score=hop_confidence(hit.hop),
        model_version=None, trigger_event_id=hit.transfer_id, event_ts_ms=hit.report_ts_ms,  # type: ignore[arg-type]
        amount_satang=hit.amount_satang, expires_ts_ms=expires, legal_basis=basis, reason="trace",
        top_reasons=reasons, case_id=hit.case_id, hop=hit.hop, trace_via=hit.via,
    )


def freeze_request(decision: Decision, emitted_ts_ms: int) -> FreezeRequest:
    bank, _, account = decision.key.partition(":")
    return FreezeRequest(
        request_id=request_id(decision.key, _trigger(decision), "hold"),
        bank=bank, account=account, action="hold", amount_satang=decision.amount_satang,
        reason=decision.reason, score=decision.score,  # type: ignore[arg-type]
        model_version=decision.model_version, top_reasons=decision.top_reasons,
        case_id=decision.case_id, hop=decision.hop, trigger_event_id=decision.trigger_event_id,
        event_ts_ms=decision.event_ts_ms, emitted_ts_ms=emitted_ts_ms,
        legal_basis=decision.legal_basis, expires_ts_ms=decision.expires_ts_ms,
    )


def _trigger(decision: Decision) -> str:
    if decision.case_id is not None:
        via = f"<{decision.trace_via}" if decision.trace_via else ""
        return f"{decision.case_id}/{decision.trigger_event_id}{via}"
    return decision.trigger_event_id


def _audit_details(decision: Decision, hit: TraceHit | None) -> dict:
    details = {
        "action": decision.action, "reason": decision.reason, "score": decision.score,
        "model_version": decision.model_version, "top_reasons": list(decision.top_reasons),
        "trigger_event_id": decision.trigger_event_id, "event_ts_ms": decision.event_ts_ms,
        "amount_satang": decision.amount_satang, "legal_basis": decision.legal_basis,
        "expires_ts_ms": decision.expires_ts_ms, "case_id": decision.case_id, "hop": decision.hop,
    }
    if decision.model_inputs is not None:
        details.update(decision.model_inputs)
    if hit is not None:
        details.update(traced_satang=hit.amount_satang, from_account=hit.from_account,
                       transfer_id=hit.transfer_id, credit_ts_ms=hit.credit_ts_ms, merchant_like=hit.merchant_like)
    return details


def act(state: AccountState, decision: Decision, now_ms: int, hit: TraceHit | None = None) -> Effects:
    """Turn a decision into what is sent: the freeze request (holds only), the hold's row in
    the account's state, its audit record, and, for traced money, the case's trail.

    Idempotent: a hold whose request id the account already has is not requested again.
    """
    key = decision.key
    trigger = _trigger(decision)
    traced = hit.amount_satang if hit is not None else 0
    fx = Effects()
    if decision.action == "hold":
        request = freeze_request(decision, now_ms)
        row = Hold(request.request_id, decision.case_id or "", decision.reason, decision.legal_basis, "requested",
                   decision.hop or 0, traced, decision.amount_satang or 0, -1, now_ms, decision.expires_ts_ms, 0,
                   decision.trigger_event_id)
        if not holds.open_row(state, row):
            return Effects(events=["hold_repeat"])
        fx.requests.append((request, decision.reason))
        rid = request.request_id
    else:
        rid = request_id(key, trigger, "review")
        if hit is not None and not holds.open_row(state, Hold(
                rid, decision.case_id or "", decision.reason, decision.legal_basis, "review", decision.hop or 0,
                traced, 0, -1, now_ms, -1, 0, decision.trigger_event_id)):
            return Effects(events=["review_repeat"])
        fx.reviews.append(decision.reason)
    fx.audits.append(make_audit(decision.action, key, rid, now_ms, trigger, _audit_details(decision, hit)))
    if hit is not None:
        fx.emits.append((CASE_UPDATES.name, hit.case_id, CaseHop(
            now_ms, hit.ingest_ms, hit.case_id, key, hit.hop, "endpoint" if hit.merchant_like else "mule",
            hit.amount_satang, hit.transfer_id, hit.from_account, hit.credit_ts_ms, hit.transfer_satang,
            decision.action, rid, decision.amount_satang or 0 if decision.action == "hold" else 0,
            decision.expires_ts_ms if decision.action == "hold" else -1,
            decision.legal_basis if decision.action == "hold" else "")))
    return fx
