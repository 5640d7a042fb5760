"""A victim's case: what was reported, where the money went, what is held, what may come back.

Kept per case id (table ``cases_v1``) by the cases agent, fed by case updates that the
traced accounts send through ``muleguard.case-updates.v1`` (hops happen on many
partitions; the case's partition hears all of them). Updates may arrive in any order: each
one is merged, and the status is derived from the contents, never from arrival order.

Stored as compact JSON (a case is read by people, a few times, not per event).
"""

from __future__ import annotations

import json

from features.signals import CaseHold, CaseHop, CaseRefund, CaseRefunded, CaseReported, Emit, ExtendHold, Signal
from streams.topics import ACCOUNT_SIGNALS

MAX_EDGES = 400
MAX_HOLDS = 200
MAX_HISTORY = 32
STATUSES = ("received", "tracing", "holds_requested", "held", "released", "refund_proposed", "refunded")
VICTIM_BASIS = "victim_report_72h"


def new_case(case_id: str, ts_ms: int) -> dict:
    return {"case_id": case_id, "victim": None, "reported_ts_ms": ts_ms, "updated_ts_ms": ts_ms,
            "reported_satang": 0, "reports": [], "police_ref": None, "police_ts_ms": -1,
            "nodes": {}, "edges": [], "holds": {}, "refunds": {}, "status": "received",
            "history": [[ts_ms, "received"]]}


def to_bytes(case: dict) -> bytes:
    return json.dumps(case, separators=(",", ":"), ensure_ascii=False).encode()


def from_bytes(raw: bytes | None, case_id: str, ts_ms: int) -> dict:
    return json.loads(raw) if raw else new_case(case_id, ts_ms)


def status_of(case: dict) -> str:
    """Derived, so late or reordered updates cannot leave a stale status.

    Examples:
        >>> c = new_case("c1", 0); status_of(c)
        'received'
        >>> c["holds"]["r1"] = {"status": "held"}; status_of(c)
        'held'
        >>> c["refunds"]["KTB:1"] = 5; status_of(c)
        'refund_proposed'
    """
    statuses = {h["status"] for h in case["holds"].values()}
    if case.get("refunded_satang", 0) > 0:
        return "refunded"
    if any(case["refunds"].values()):
        return "refund_proposed"
    if "held" in statuses:
        return "held"
    if "requested" in statuses:
        return "holds_requested"
    if "released" in statuses:
        return "released"
    if case["nodes"] or case["edges"]:
        return "tracing"
    return "received"


def _extensions(case: dict, ts_ms: int, ingest_ms: int) -> list[Emit]:
    """Once a police complaint is on the case, every victim-timer hold runs 7 days from it."""
    if not case["police_ref"]:
        return []
    return [(ACCOUNT_SIGNALS.name, h["account"], ExtendHold(
        ts_ms, ingest_ms, case["case_id"], rid, case["police_ref"], case["police_ts_ms"]))
        for rid, h in case["holds"].items()
        if h["status"] in ("requested", "held") and h["legal_basis"] == VICTIM_BASIS]


def _hold_row(account: str, hop: int, traced_satang: int, requested_satang: int, status: str,
              expires_ts_ms: int, legal_basis: str) -> dict:
    return {"account": account, "hop": hop, "traced_satang": traced_satang, "requested_satang": requested_satang,
            "held_satang": None, "status": status, "expires_ts_ms": expires_ts_ms, "legal_basis": legal_basis,
            "released_satang": 0}


def _on_hop(case: dict, s: CaseHop) -> list[Emit]:
    """A traced hop: its edge and node (both bounded: a node only with its edge), and its hold."""
    edge = [s.transfer_id, s.from_account, s.account, s.credit_ts_ms, s.transfer_satang, s.traced_satang, s.hop]
    stored = edge not in case["edges"] and len(case["edges"]) < MAX_EDGES
    node = case["nodes"].get(s.account)
    if stored:
        case["edges"].append(edge)
        if node is None:
            node = case["nodes"][s.account] = {"hop": s.hop, "role": s.role, "traced_satang": 0}
        node["traced_satang"] += s.traced_satang
    if node is not None:
        node["hop"] = min(node["hop"], s.hop)
    if s.action not in ("hold", "review"):
        return []
    hold = case["holds"].get(s.request_id)
    if hold is not None:
        if hold["hop"] == 0:  # its status came first (reordered): the hop fills in what it knows
            hold.update(hop=s.hop, traced_satang=s.traced_satang, requested_satang=s.requested_satang)
        return []
    if len(case["holds"]) >= MAX_HOLDS:
        return []
    case["holds"][s.request_id] = _hold_row(
        s.account, s.hop, s.traced_satang, s.requested_satang, "requested" if s.action == "hold" else "review",
        s.expires_ts_ms, s.legal_basis)
    return [e for e in _extensions(case, s.ts_ms, s.ingest_ms) if e[2].request_id == s.request_id]  # type: ignore[attr-defined]


def apply(case: dict, s: Signal) -> list[Emit]:
    """Merge one update into ``case`` (in place); return signals for the accounts (extensions)."""
    case["updated_ts_ms"] = max(case["updated_ts_ms"], s.ts_ms)
    emits: list[Emit] = []
    if isinstance(s, CaseReported):
        case["victim"] = case["victim"] or s.victim
        if s.report_id not in case["reports"]:
            case["reports"].append(s.report_id)
            case["reported_satang"] += s.reported_satang
            case["reported_ts_ms"] = min(case["reported_ts_ms"], s.ts_ms)
        if s.police_ref and not case["police_ref"]:
            case["police_ref"], case["police_ts_ms"] = s.police_ref, s.ts_ms
            emits = _extensions(case, s.ts_ms, s.ingest_ms)
    elif isinstance(s, CaseHop):
        emits = _on_hop(case, s)
    elif isinstance(s, CaseHold):
        hold = case["holds"].get(s.request_id)
        if hold is None:  # before its hop (reordered): kept, the hop fills in the rest
            if len(case["holds"]) >= MAX_HOLDS:
                return emits
            hold = case["holds"][s.request_id] = _hold_row(s.account, 0, 0, 0, s.status, s.expires_ts_ms,
                                                           s.legal_basis)
        hold.update(status=s.status, expires_ts_ms=s.expires_ts_ms, legal_basis=s.legal_basis,
                    released_satang=s.released_satang)
        if s.held_satang >= 0:
            hold["held_satang"] = s.held_satang
    elif isinstance(s, CaseRefund):
        case["refunds"][s.account] = s.amount_satang  # a later proposal (or a withdrawal, 0) supersedes
    elif isinstance(s, CaseRefunded):
        paid = case.setdefault("refunds_paid", {})  # one entry per payout: two add up, a repeat counts once
        paid[f"{s.account}/{s.proposal_id}" if s.proposal_id else s.account] = s.amount_satang
        case["refunded_satang"] = sum(paid.values())
        case["refunds"][s.account] = 0  # paid: no longer proposed (a later proposal says anew)
    status = status_of(case)
    if status != case["status"]:
        case["status"] = status
        case["history"] = (case["history"] + [[s.ts_ms, status]])[-MAX_HISTORY:]
    return emits
