"""The life of a hold at one account: requested, held/rejected/empty, extended, released.

Every hold is a row in the account's state (``AccountState.holds``, layout
``features.state.HOLD_LAYOUT``), keyed by its deterministic ``request_id``, so a repeated
report, a retried message or a replayed batch finds the row and changes nothing: the same
money never gets a second, different hold. The accounts agent is the only writer: bank
answers, appeals, police extensions and the expiry clock all arrive as signals keyed by the
account (``features.signals``), and each function here returns the ``Effects`` to send.

Timers (Royal Decree on Technology Crime B.E. 2566, amended 2025): a victim-reported hold
runs 72 hours, or 7 days from a police complaint; a bank-initiated hold on suspicion runs
3 days, extendable by the police to 7. A hold still active at its expiry is released with a
``release`` request. Nothing here reads a clock: ``now_ms`` comes with each signal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from features.signals import (
    RELEASED,
    CaseHold,
    CaseRefund,
    CaseRefunded,
    Confirmed,
    Emit,
    ExtendHold,
    HoldAcked,
    HoldAppealed,
    Link,
    RingReview,
)
from features.state import MAX_HOLDS, AccountState, IdentityState
from features.windows import DAY_MS
from streams.contracts import AuditRecord, FreezeRequest, HoldAck, HoldAppeal, RefundProposal, RefundShare
from streams.topics import ACCOUNT_SIGNALS, CASE_UPDATES, IDENTITY_SIGNALS

POLICE_HOLD_MS = 7 * DAY_MS
BANK_SUSPICION_HOLD_MS = 3 * DAY_MS  # as models.policy.BANK_SUSPICION_HOLD_MS (which imports this module)
ACTIVE = frozenset({"requested", "held"})
REFUND_METHOD = "pro_rata_largest_remainder"
LEGAL_BASIS_POLICE_COMPLAINT = "police_complaint_7d"  # victim hold, once the victim filed a complaint
LEGAL_BASIS_POLICE_EXTENSION = "police_extension_7d"  # bank-suspicion hold, extended by the police
LEGAL_BASIS_EXPIRED = "expired"
LEGAL_BASIS_APPEAL = "appeal_approved"


def request_id(key: str, trigger_event_id: str, action: str) -> str:
    """Deterministic: the same decision on the same event always gets the same id.

    Examples:
        >>> request_id("KTB:1", "t9", "hold") == request_id("KTB:1", "t9", "hold")
        True
        >>> request_id("KTB:1", "t9", "hold") != request_id("KTB:1", "t9", "release")
        True
    """
    return hashlib.sha256(f"{key}|{trigger_event_id}|{action}".encode()).hexdigest()[:32]


def make_audit(kind: str, subject: str, request_id_: str | None, ts_ms: int, trigger: str,
               details: dict) -> AuditRecord:
    """An audit record whose id depends only on what was decided, so a replay repeats the id."""
    audit_id = hashlib.sha256(f"{kind}|{subject}|{request_id_}|{trigger}".encode()).hexdigest()[:32]
    return AuditRecord(audit_id, kind, ts_ms, subject, request_id_, {"trigger": trigger, **details})


@dataclass(slots=True)
class Hold:
    """One row of ``AccountState.holds`` (see ``HOLD_LAYOUT``), mutable while it is worked on."""

    request_id: str
    case_id: str  # "" for a model hold
    reason: str  # trace, model, ring
    legal_basis: str
    status: str  # requested, held, rejected, empty, released, review
    hop: int  # 0: not traced
    traced_satang: int
    requested_satang: int
    held_satang: int  # -1: the bank has not said
    created_ts_ms: int
    expires_ts_ms: int
    released_satang: int
    trigger: str

    def row(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)  # type: ignore[attr-defined]

    @property
    def holding_satang(self) -> int:
        """What is held, as far as we know: the bank's figure, else what was requested."""
        return self.held_satang if self.held_satang >= 0 else self.requested_satang

    def view(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


@dataclass
class Effects:
    """What one lifecycle step asks the agent to send and count."""

    requests: list[tuple[FreezeRequest, str]] = field(default_factory=list)  # (request, cause)
    audits: list[AuditRecord] = field(default_factory=list)
    emits: list[Emit] = field(default_factory=list)
    proposals: list[RefundProposal] = field(default_factory=list)
    reviews: list[str] = field(default_factory=list)  # review reasons
    events: list[str] = field(default_factory=list)  # what happened, for a counter

    def __iadd__(self, other: Effects) -> Effects:
        for name in ("requests", "audits", "emits", "proposals", "reviews", "events"):
            getattr(self, name).extend(getattr(other, name))
        return self


def rows(state: AccountState) -> list[Hold]:
    return [Hold(*row) for row in state.holds]


def find(state: AccountState, request_id_: str) -> Hold | None:
    for row in state.holds:
        if row[0] == request_id_:
            return Hold(*row)
    return None


def _store(state: AccountState, hold: Hold) -> None:
    """Replace the row with this request id, or append it; trim inactive rows beyond the cap."""
    for i, row in enumerate(state.holds):
        if row[0] == hold.request_id:
            state.holds[i] = hold.row()
            break
    else:
        state.holds.append(hold.row())
    while len(state.holds) > MAX_HOLDS:
        old = next((i for i, row in enumerate(state.holds) if row[4] not in ACTIVE), None)
        if old is None:
            break  # every row is an active hold: keep them all (bounded by what banks hold)
        del state.holds[old]


def open_row(state: AccountState, hold: Hold) -> bool:
    """Record a new hold or review; False (and nothing changes) if its request id is known."""
    if find(state, hold.request_id) is not None:
        return False
    _store(state, hold)
    return True


def next_expiry_ms(state: AccountState) -> int:
    """When the next active hold expires (-1: none), for the worker's expiry timer."""
    rows = state.peek("h")
    if not rows:  # most accounts: no comprehension to build
        return -1
    due = [row[10] for row in rows if row[4] in ACTIVE and row[10] >= 0]
    return min(due) if due else -1


def note_score(state: AccountState, probability: float, ts_ms: int) -> None:
    """Keep a four-number score summary for bank staff (last, max, count, when)."""
    ppm = int(round(probability * 1_000_000))
    _, best, count, _ = state.score_summary
    state.score_summary = (ppm, max(best, ppm), count + 1, ts_ms)


def _refresh_held_until(state: AccountState, at_ms: int, key: str, ingest_ms: int, *,
                        exonerated: bool = False) -> list[Emit]:
    """The account counts as held until its last active hold expires, and no longer than
    ``at_ms`` once nothing is held. ``held_until_ms`` is compared with event time by the
    features, so an expiry never rewrites the past: replay, which has no clock, agrees.

    When nothing holds the account any more and it was ``exonerated`` (an appeal approved, the
    bank released it or found nothing), its identities stop counting it as held and its own
    hold stops tainting its payees. A hold that ran its time or was paid out to victims still
    counts: an account once held stays a held link, as replay (which has no clock and no bank
    answers) keeps it, so live and offline features agree wherever they can."""
    was_held = state.held_until_ms > at_ms
    active = max((row[10] for row in state.peek("h") if row[4] in ACTIVE), default=-1)
    state.held_until_ms = max(active, min(state.held_until_ms, at_ms))
    if not was_held or state.held_until_ms > at_ms:
        return []
    if not exonerated:
        return []
    if state.taint_hops == 0:
        state.taint_until_ms = min(state.taint_until_ms, at_ms)
    return [(IDENTITY_SIGNALS.name, ident, Link(at_ms, ingest_ms, key, False, RELEASED))
            for ident in state.identities()]


def _case_update(key: str, hold: Hold, ts_ms: int, ingest_ms: int, status: str = "") -> list[Emit]:
    """Tell the hold's case (``status``: what the case sees, when it differs from the account's)."""
    if not hold.case_id:
        return []
    return [(CASE_UPDATES.name, hold.case_id, CaseHold(
        ts_ms, ingest_ms, hold.case_id, key, hold.request_id, status or hold.status, hold.held_satang,
        hold.released_satang, hold.expires_ts_ms, hold.legal_basis))]


def _lifecycle_request(key: str, hold: Hold, action: str, trigger: str, now_ms: int, legal_basis: str,
                       why: str) -> FreezeRequest:
    """A release or extend request for an existing hold; its id follows from the hold's id."""
    bank, _, account = key.partition(":")
    return FreezeRequest(
        request_id=request_id(key, hold.request_id, action), bank=bank, account=account,
        action=action, amount_satang=hold.holding_satang or None,  # type: ignore[arg-type]
        reason=hold.reason if hold.reason in ("trace", "model", "ring") else "trace",  # type: ignore[arg-type]
        score=None, model_version=None, top_reasons=(why,), case_id=hold.case_id or None,
        hop=hold.hop or None, trigger_event_id=hold.request_id, event_ts_ms=now_ms, emitted_ts_ms=now_ms,
        legal_basis=legal_basis, expires_ts_ms=hold.expires_ts_ms if action == "extend" else None,
    )


def _release(key: str, hold: Hold, cause: str, trigger: str, now_ms: int, ingest_ms: int,
             legal_basis: str, why: str, state: AccountState) -> Effects:
    hold.status, hold.released_satang = "released", hold.holding_satang
    _store(state, hold)
    request = _lifecycle_request(key, hold, "release", trigger, now_ms, legal_basis, why)
    fx = Effects(requests=[(request, cause)], events=[f"release_{cause}"])
    fx.audits.append(make_audit("release", key, request.request_id, now_ms, trigger, {
        "cause": cause, "hold_request_id": hold.request_id, "case_id": hold.case_id or None,
        "released_satang": hold.released_satang, "legal_basis": legal_basis, "hold": hold.view()}))
    fx.emits += _case_update(key, hold, now_ms, ingest_ms)
    return fx


def on_expiry(state: AccountState, key: str, now_ms: int, ingest_ms: int) -> Effects:
    """Release every active hold whose legal time ran out by ``now_ms`` (the worker clock)."""
    due = [hold for hold in rows(state) if hold.status in ACTIVE and 0 <= hold.expires_ts_ms <= now_ms]
    if not due:
        return Effects()
    before = _refund_proposal(state, key, now_ms)
    fx = Effects()
    for hold in due:
        fx += _release(key, hold, "expiry", f"expiry/{hold.expires_ts_ms}", now_ms, ingest_ms,
                       LEGAL_BASIS_EXPIRED, f"legal hold time ({hold.legal_basis}) ran out, not extended", state)
    _refresh_held_until(state, now_ms, key, ingest_ms)
    fx += _revise_proposal(state, key, before, now_ms, ingest_ms)
    return fx


def _extend(state: AccountState, key: str, hold: Hold, basis: str, from_ms: int, ref: str, trigger: str,
            now_ms: int, ingest_ms: int, why: str) -> Effects:
    """Run ``hold`` 7 days from ``from_ms`` under ``basis``; once per hold (its id says so)."""
    if hold.status not in ACTIVE or hold.legal_basis in (LEGAL_BASIS_POLICE_COMPLAINT, LEGAL_BASIS_POLICE_EXTENSION):
        return Effects(events=["extend_noop"])
    hold.legal_basis = basis
    hold.expires_ts_ms = max(hold.expires_ts_ms, from_ms + POLICE_HOLD_MS)
    _store(state, hold)
    _refresh_held_until(state, now_ms, key, ingest_ms)  # extends: never ends a hold
    request = _lifecycle_request(key, hold, "extend", trigger, now_ms, basis, why)
    fx = Effects(requests=[(request, basis)], events=[f"extend_{basis}"])
    fx.audits.append(make_audit("extend", key, request.request_id, now_ms, trigger, {
        "hold_request_id": hold.request_id, "case_id": hold.case_id or None, "police_complaint_ref": ref,
        "complaint_ts_ms" if basis == LEGAL_BASIS_POLICE_COMPLAINT else "hold_start_ts_ms": from_ms,
        "expires_ts_ms": hold.expires_ts_ms, "legal_basis": basis,
        "amount_satang": hold.holding_satang}))
    fx.emits += _case_update(key, hold, now_ms, ingest_ms)
    return fx


def on_extend(state: AccountState, key: str, s: ExtendHold, now_ms: int) -> Effects:
    """A police complaint reached the case (through the cases agent): extend this hold."""
    hold = find(state, s.request_id)
    if hold is None:
        return Effects(events=["extend_unknown_request"])
    return _extend(state, key, hold, LEGAL_BASIS_POLICE_COMPLAINT, s.complaint_ts_ms, s.police_ref,
                   f"police/{s.police_ref}", now_ms, s.ingest_ms,
                   f"police complaint {s.police_ref}: hold runs 7 days from it")


def on_ack(state: AccountState, key: str, s: HoldAcked, now_ms: int) -> Effects:
    """The bank's answer. ``held`` confirms the account: refunds are proposed and its ring reviewed.

    The amount recorded as held never exceeds what was requested: muleguard holds only traced
    money, and a bank holding more is the bank's own decision, not one to divide among victims.
    """
    hold = find(state, s.request_id)
    if hold is None:
        return Effects(events=["ack_unknown_request"])
    if hold.status not in ACTIVE:
        return Effects(events=[f"ack_after_{hold.status}"])
    if s.status == "refunded":
        return _refunded(state, key, hold, s, now_ms)
    before = _refund_proposal(state, key, now_ms) if hold.reason == "trace" and s.status != "held" else []
    fx = Effects(events=[f"ack_{s.status}"])
    if s.status == "released":
        hold.status, hold.released_satang = "released", hold.holding_satang
    elif s.status == "held":
        was_held = hold.status == "held"
        hold.status = "held"
        hold.held_satang = min(max(s.held_satang, 0), hold.requested_satang) if hold.requested_satang > 0 \
            else max(s.held_satang, 0)
        if hold.reason == "trace" and not was_held:
            _store(state, hold)
            fx.proposals += _refund_proposal(state, key, now_ms)
            _remember_sent(state, fx.proposals)
            fx.emits += [(CASE_UPDATES.name, share.case_id, CaseRefund(
                now_ms, s.ingest_ms, share.case_id, key, p.proposal_id, share.amount_satang))
                for p in fx.proposals for share in p.shares]
            fx.emits += [(IDENTITY_SIGNALS.name, ident, Confirmed(now_ms, s.ingest_ms, key, hold.case_id))
                         for ident in (state.msisdn_hash, state.device_id, state.national_id_hash) if ident]
    else:  # rejected, empty: nothing is held
        hold.status, hold.held_satang = s.status, 0
    _store(state, hold)
    fx.emits += _refresh_held_until(state, s.ts_ms, key, s.ingest_ms, exonerated=s.status != "held")
    fx.emits[:0] = _case_update(key, hold, now_ms, s.ingest_ms)
    fx += _revise_proposal(state, key, before, now_ms, s.ingest_ms)
    return fx


def _refunded(state: AccountState, key: str, acked: Hold, s: HoldAcked, now_ms: int) -> Effects:
    """The bank paid the account's held traced money out as proposed: each case learns what its
    victim received (the shares of the proposal the bank names, ``s.proposal_id``; without one,
    the latest), and the traced holds that proposal divided end (released: nothing is left to
    hold). Only a confirmed (held) traced hold can be refunded. A hold the paid proposal did not
    divide (not confirmed yet, or confirmed after it was sent) stays, with its timer, and gets a
    proposal of its own; its money is neither frozen untracked nor released unasked."""
    if acked.reason != "trace" or acked.status != "held":
        return Effects(events=["ack_refunded_not_held"])
    current = _refund_proposal(state, key, now_ms)
    if s.proposal_id and not (current and current[0].proposal_id == s.proposal_id):
        sent = next((p for p in state.peek("p") if p[0] == s.proposal_id), None)
        if sent is None:  # not one of this account's recent proposals: nothing to credit safely
            return Effects(events=["ack_refunded_unknown_proposal"])
        paid_id, hold_ids, shares = sent[0], set(sent[1]), [tuple(share) for share in sent[2]]
    elif current:
        paid_id, shares = current[0].proposal_id, [(x.case_id, x.amount_satang) for x in current[0].shares]
        hold_ids = {h.request_id for h in rows(state) if h.reason == "trace" and h.status == "held"}
    else:
        return Effects(events=["ack_refunded_nothing_proposed"])
    fx = Effects(events=["ack_refunded"])
    fx.emits += [(CASE_UPDATES.name, case_id, CaseRefunded(now_ms, s.ingest_ms, case_id, key, amount, paid_id))
                 for case_id, amount in shares]
    for case_id, amount in shares:
        _paid_out(state, case_id, amount)
    for hold in rows(state):
        if hold.reason == "trace" and hold.status == "held" and hold.request_id in hold_ids:
            hold.status, hold.released_satang = "released", hold.holding_satang
            _store(state, hold)
            # the account's hold ends as released (nothing left to hold); the case sees this
            # hold, and no other at the account, paid out to victims
            fx.emits += _case_update(key, hold, now_ms, s.ingest_ms, status="refunded")
    _refresh_held_until(state, s.ts_ms, key, s.ingest_ms)
    if current and current[0].proposal_id != paid_id:  # the latest proposal also divided what was just paid
        fx += _revise_proposal(state, key, current, now_ms, s.ingest_ms)
    return fx


MAX_SENT_PROPOSALS = 4  # proposals a bank may still be paying out when a newer one goes out


def _remember_sent(state: AccountState, proposals: list[RefundProposal]) -> None:
    """Keep what each proposal sent divided (its held traced holds, its shares), so the bank's
    ``refunded`` answer naming it is credited exactly, even after a newer one went out."""
    if not proposals or not proposals[0].held_satang:  # a withdrawal pays nothing
        return
    [proposal] = proposals
    held = sorted(h.request_id for h in rows(state) if h.reason == "trace" and h.status == "held")
    sent = [p for p in state.peek("p") if p[0] != proposal.proposal_id]
    sent.append((proposal.proposal_id, held, [(x.case_id, x.amount_satang) for x in proposal.shares]))
    state.memory()["p"] = sent[-MAX_SENT_PROPOSALS:]


def _paid_out(state: AccountState, case_id: str, satang: int) -> None:
    """``satang`` of the case's traced money here went back to its victim: it is no longer
    here to claim (a later proposal divides only what the case is still owed here) nor to
    follow onward."""
    for i, taint in enumerate(state.taints):
        if satang <= 0:
            return
        if taint[0] == case_id and taint[3] > 0:
            used = min(taint[3], satang)
            state.taints[i] = (*taint[:3], taint[3] - used, *taint[4:])  # type: ignore[assignment]
            satang -= used


def on_appeal(state: AccountState, key: str, s: HoldAppealed, now_ms: int) -> Effects:
    """An approved appeal releases the hold at once; the police may extend a bank-suspicion hold."""
    hold = find(state, s.request_id)
    if hold is None:
        return Effects(events=["appeal_unknown_request"])
    if s.outcome == "police_extension":
        ref = s.police_ref or s.appeal_id
        if hold.case_id:  # a victim's hold: 7 days from the complaint
            return _extend(state, key, hold, LEGAL_BASIS_POLICE_COMPLAINT, s.ts_ms, ref, f"appeal/{s.appeal_id}",
                           now_ms, s.ingest_ms, f"police complaint {ref}: hold runs 7 days from it")
        # bank suspicion: "up to 3 days, which police may extend to 7", so 7 days in all from the
        # hold's start (its event time, 3 days before its own expiry), not 7 more from the extension
        start_ms = hold.expires_ts_ms - BANK_SUSPICION_HOLD_MS
        return _extend(state, key, hold, LEGAL_BASIS_POLICE_EXTENSION, start_ms, ref, f"appeal/{s.appeal_id}",
                       now_ms, s.ingest_ms, f"police extension {ref}: hold runs 7 days from its start")
    if s.outcome == "filed":
        return Effects(events=["appeal_filed"])
    fx = Effects(events=[f"appeal_{s.outcome}"])
    fx.audits.append(make_audit("appeal_outcome", key, hold.request_id, now_ms, f"appeal/{s.appeal_id}", {
        "appeal_id": s.appeal_id, "outcome": s.outcome, "decided_by": s.decided_by,
        "hold_status": hold.status, "case_id": hold.case_id or None, "amount_satang": hold.holding_satang}))
    if s.outcome == "approved" and hold.status in ACTIVE:
        before = _refund_proposal(state, key, now_ms) if hold.reason == "trace" else []
        fx += _release(key, hold, "appeal", f"appeal/{s.appeal_id}", now_ms, s.ingest_ms, LEGAL_BASIS_APPEAL,
                       f"appeal {s.appeal_id} approved by {s.decided_by}", state)
        fx.emits += _refresh_held_until(state, s.ts_ms, key, s.ingest_ms, exonerated=True)
        fx += _revise_proposal(state, key, before, now_ms, s.ingest_ms)
    return fx


def on_ring_review(state: AccountState, key: str, s: RingReview, now_ms: int) -> Effects:
    """A confirmed mule shares a phone, device or national ID with this account: review it.

    Person-level action as the national fraud registry takes it, but never a hold: families
    share phones. An account already on hold is not reviewed again.
    """
    if any(row[4] in ACTIVE for row in state.peek("h")):
        return Effects(events=["ring_member_already_held"])
    rid = request_id(key, f"ring/{s.case_id}/{s.source}", "review")
    review = Hold(rid, s.case_id, "ring", "", "review", 0, 0, 0, -1, s.ts_ms, -1, 0, s.source)
    if not open_row(state, review):
        return Effects(events=["ring_review_repeat"])
    fx = Effects(reviews=["ring"], events=["ring_review"])
    fx.audits.append(make_audit("review", key, rid, now_ms, f"ring/{s.case_id}/{s.source}", {
        "reason": "ring", "confirmed_account": s.source, "shared_identity": s.identity, "case_id": s.case_id}))
    return fx


def ring_members(state: IdentityState, key: str, s: Confirmed) -> list[Emit]:
    """At an identity (phone, device, national-ID hash): every other linked account is in the ring.

    Traced chains join the ring through the case: each account on the trail is held, and
    when its own hold is confirmed its own identities bring in their accounts.
    """
    return [(ACCOUNT_SIGNALS.name, account, RingReview(s.ts_ms, s.ingest_ms, s.account, key, s.case_id))
            for account in state.accounts if account != s.account]


# -- refunds ---------------------------------------------------------------------------------


def refund_shares(pool_satang: int, claims: dict[str, int]) -> list[tuple[str, int, int]]:
    """Divide ``pool_satang`` pro rata to ``claims`` (case -> traced satang), in whole satang.

    Largest remainder: each case gets floor(pool * claim / total); the satang left over go one
    each to the cases with the largest remainders, ties to the smaller case id. The shares add
    up to the pool exactly and never exceed a claim when the pool does not exceed the total.

    Examples:
        >>> refund_shares(100, {"a": 1, "b": 1, "c": 1})
        [('a', 1, 34), ('b', 1, 33), ('c', 1, 33)]
        >>> refund_shares(60_000, {"x": 100_000, "y": 50_000})
        [('x', 100000, 40000), ('y', 50000, 20000)]
    """
    total = sum(claims.values())
    if total <= 0 or pool_satang <= 0:
        return [(case, claim, 0) for case, claim in sorted(claims.items())]
    base = {case: pool_satang * claim // total for case, claim in claims.items()}
    remainder = {case: pool_satang * claim % total for case, claim in claims.items()}
    left = pool_satang - sum(base.values())
    for case in sorted(claims, key=lambda c: (-remainder[c], c))[:left]:
        base[case] += 1
    return [(case, claims[case], base[case]) for case in sorted(claims)]


def _claims(state: AccountState, key: str, holds: list[Hold]) -> dict[str, int]:
    """Per case, its traced money still at this account: what it may claim of the money held here.

    Traced money leaves first (the tainted-first rule), so what a taint traced onward is
    claimed where it went, not here as well: summed over a trail, claims never exceed what
    was reported. A hold's taint is found by the request id the policy gave the hold (from
    the account, the case and the credit); a hold whose taint is no longer kept (trimmed at
    a busy account) claims what it traced in.
    """
    left = {request_id(key, f"{t[0]}/{t[1]}", "hold"): t[3] for t in state.taints}
    claims: dict[str, int] = {}
    for h in holds:
        claims[h.case_id] = claims.get(h.case_id, 0) + left.get(h.request_id, h.traced_satang)
    return claims


def _refund_proposal(state: AccountState, key: str, now_ms: int) -> list[RefundProposal]:
    """The account's held traced money divided among every case whose traced money is still
    here and has a claim (not released on appeal, not only a review), never more than each
    claim: held money beyond the claims is no victim's here and stays held until released."""
    holds = [h for h in rows(state) if h.reason == "trace" and h.status not in ("released", "review")]
    pool = sum(h.held_satang for h in holds if h.status == "held")
    claims = _claims(state, key, holds)
    if pool <= 0 or sum(claims.values()) <= 0:
        return []
    # the claims too: a proposal revised because a claim ended needs an id of its own
    basis = json.dumps([sorted((h.request_id, h.held_satang) for h in holds if h.status == "held"),
                        sorted(claims.items())])
    bank, _, account = key.partition(":")
    payable = min(pool, sum(claims.values()))
    shares = tuple(RefundShare(case, claim, amount) for case, claim, amount in refund_shares(payable, claims))
    return [RefundProposal(request_id(key, basis, "refund"), now_ms, bank, account, pool, REFUND_METHOD, shares)]


def _revise_proposal(state: AccountState, key: str, before: list[RefundProposal], now_ms: int,
                     ingest_ms: int) -> Effects:
    """A traced hold stopped being held or claiming (released on appeal, expired, lifted or
    refused by the bank) after ``before`` was the account's proposal: send the recomputed one,
    or withdraw it (nothing held, every share 0), and tell each case its share (0 where it has
    no claim left), so no bank pays out released money and no case shows a refund it will not get."""
    after = _refund_proposal(state, key, now_ms)
    if not before or (after and after[0].proposal_id == before[0].proposal_id):
        return Effects()
    old = before[0]
    if not after:
        after = [RefundProposal(request_id(key, f"withdrawn/{old.proposal_id}", "refund"), now_ms, old.bank,
                                old.account, 0, REFUND_METHOD,
                                tuple(RefundShare(s.case_id, s.traced_satang, 0) for s in old.shares))]
    [new] = after
    _remember_sent(state, after)
    gone = sorted({s.case_id for s in old.shares} - {s.case_id for s in new.shares})
    fx = Effects(proposals=after, events=["refund_revised" if new.held_satang else "refund_withdrawn"])
    fx.emits += [(CASE_UPDATES.name, case_id, CaseRefund(now_ms, ingest_ms, case_id, key, new.proposal_id, amount))
                 for case_id, amount in [(s.case_id, s.amount_satang) for s in new.shares] + [(c, 0) for c in gone]]
    return fx


# -- inputs ------------------------------------------------------------------------------------


def route_hold_input(record: HoldAck | HoldAppeal, ingest_ms: int) -> list[Emit]:
    """Bank answers and appeals go to the account they are about (its worker owns its holds)."""
    if isinstance(record, HoldAck):
        held = -1 if record.held_amount_satang is None else record.held_amount_satang
        return [(ACCOUNT_SIGNALS.name, record.key, HoldAcked(
            record.ts_ms, ingest_ms, record.request_id, record.status, held, record.reason,
            record.proposal_id or ""))]
    return [(ACCOUNT_SIGNALS.name, record.key, HoldAppealed(
        record.ts_ms, ingest_ms, record.appeal_id, record.request_id, record.outcome, record.decided_by,
        record.police_complaint_ref))]
