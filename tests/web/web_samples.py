"""Sample Case status and Trail JSON in the shared contract shapes (COMMON.md, docs/web.md)."""

from __future__ import annotations

import copy

# A call-centre case: 48,750.00 THB reported, traced through 3 hops with fan-out and fan-in.
CASE_STATUS = {
    "case_id": "rpt-20261122-0042",
    "status": "held",
    "reported_ts": "2026-11-22T10:05:00.000+07:00",
    "updated_ts": "2026-11-22T10:05:02.415+07:00",
    "reported_satang": 4_875_000,
    "traced_satang": 4_612_300,
    "requested_satang": 4_612_300,
    "held_satang": 3_961_250,
    "released_satang": 0,
    "refund_proposed_satang": 0,
    "max_hop": 3,
    "holds": [
        {"bank": "KBANK", "account": "204-8-31597", "hop": 1, "traced_satang": 4_875_000,
         "requested_satang": 1_200_000, "held_satang": 1_200_000, "status": "held",
         "expires_ts": "2026-11-25T10:05:01.000+07:00", "legal_basis": "victim_report_72h",
         "request_id": "req-a1"},
        {"bank": "SCB", "account": "771-2-60418", "hop": 2, "traced_satang": 2_100_000,
         "requested_satang": 2_100_000, "held_satang": 2_100_000, "status": "held",
         "expires_ts": "2026-11-25T10:05:02.000+07:00", "legal_basis": "victim_report_72h",
         "request_id": "req-b2"},
        {"bank": "KTB", "account": "915-0-22863", "hop": 2, "traced_satang": 1_575_000,
         "requested_satang": 1_312_300, "held_satang": 661_250, "status": "held",
         "expires_ts": "2026-11-25T10:05:02.000+07:00", "legal_basis": "victim_report_72h",
         "request_id": "req-c3"},
        {"bank": "BBL", "account": "338-7-10954", "hop": 3, "traced_satang": 650_000,
         "requested_satang": 650_000, "held_satang": None, "status": "empty",
         "expires_ts": None, "legal_basis": "victim_report_72h", "request_id": "req-d4"},
    ],
    "history": [
        {"ts": "2026-11-22T10:05:00.000+07:00", "status": "received"},
        {"ts": "2026-11-22T10:05:00.210+07:00", "status": "tracing"},
        {"ts": "2026-11-22T10:05:00.480+07:00", "status": "holds_requested"},
        {"ts": "2026-11-22T10:05:02.415+07:00", "status": "held"},
    ],
}

# Victim -> two mules (fan-out) -> both pay one collector (fan-in) -> cash-out.
TRAIL = {
    "case_id": "rpt-20261122-0042",
    "nodes": [
        {"id": "GSB:020-1-44417", "bank": "GSB", "account": "020-1-44417", "hop": 0, "role": "victim",
         "hold_status": None, "traced_satang": 4_875_000},
        {"id": "KBANK:204-8-31597", "bank": "KBANK", "account": "204-8-31597", "hop": 1, "role": "mule",
         "hold_status": "held", "traced_satang": 2_875_000},
        {"id": "TTB:506-3-77120", "bank": "TTB", "account": "506-3-77120", "hop": 1, "role": "mule",
         "hold_status": "requested", "traced_satang": 2_000_000},
        {"id": "SCB:771-2-60418", "bank": "SCB", "account": "771-2-60418", "hop": 2, "role": "mule",
         "hold_status": "held", "traced_satang": 3_350_000},
        {"id": "BBL:338-7-10954", "bank": "BBL", "account": "338-7-10954", "hop": 3, "role": "endpoint",
         "hold_status": "review", "traced_satang": 650_000},
        {"id": "SCB:cash", "bank": "SCB", "account": "cash", "hop": 3, "role": "cash",
         "hold_status": None, "traced_satang": 1_200_000},
    ],
    "edges": [
        {"transfer_id": "t1", "from": "GSB:020-1-44417", "to": "KBANK:204-8-31597",
         "ts": "2026-11-22T09:41:00.000+07:00", "amount_satang": 2_875_000, "traced_satang": 2_875_000, "hop": 1},
        {"transfer_id": "t2", "from": "GSB:020-1-44417", "to": "TTB:506-3-77120",
         "ts": "2026-11-22T09:44:00.000+07:00", "amount_satang": 2_000_000, "traced_satang": 2_000_000, "hop": 1},
        {"transfer_id": "t3", "from": "KBANK:204-8-31597", "to": "SCB:771-2-60418",
         "ts": "2026-11-22T09:52:00.000+07:00", "amount_satang": 2_000_000, "traced_satang": 1_850_000, "hop": 2},
        {"transfer_id": "t4", "from": "TTB:506-3-77120", "to": "SCB:771-2-60418",
         "ts": "2026-11-22T09:55:00.000+07:00", "amount_satang": 1_500_000, "traced_satang": 1_500_000, "hop": 2},
        {"transfer_id": "t5", "from": "SCB:771-2-60418", "to": "BBL:338-7-10954",
         "ts": "2026-11-22T10:01:00.000+07:00", "amount_satang": 650_000, "traced_satang": 650_000, "hop": 3},
        {"transfer_id": "t6", "from": "SCB:771-2-60418", "to": "SCB:cash",
         "ts": "2026-11-22T10:03:00.000+07:00", "amount_satang": 1_200_000, "traced_satang": 1_200_000, "hop": 3},
    ],
}


def case_status(**changes: object) -> dict:
    """A deep copy of the sample status with some fields replaced."""
    status = copy.deepcopy(CASE_STATUS)
    status.update(changes)
    return status


# Real cases, built the way the cases agent builds them: signals merged by features.cases.
T0 = 1_795_316_400_000  # 2026-11-22 10:00 Bangkok
EXPIRES = T0 + 72 * 3_600_000
VICTIM = "GSB:020-1-44417"


def real_case(*signals: object, case_id: str = "rpt-1") -> dict:
    from features import cases

    case = cases.new_case(case_id, T0)
    for s in signals:
        cases.apply(case, s)  # type: ignore[arg-type]
    return case


def reported(satang: int, case_id: str = "rpt-1") -> object:
    from features.signals import CaseReported

    return CaseReported(T0, T0, case_id, VICTIM, f"{case_id}+r", satang, None)


def hop(account: str, n: int, traced: int, transfer_id: str, request_id: str, *, src: str = VICTIM,
        action: str = "hold", case_id: str = "rpt-1") -> object:
    from features.signals import CaseHop

    hold = action == "hold"
    return CaseHop(T0 + n, T0, case_id, account, n, "mule", traced, transfer_id, src, T0, traced, action,
                   request_id, traced if hold else 0, EXPIRES if hold else -1, "victim_report_72h" if hold else "")


def hold(account: str, request_id: str, status: str, held: int, released: int = 0, case_id: str = "rpt-1") -> object:
    from features.signals import CaseHold

    return CaseHold(T0 + 10, T0, case_id, account, request_id, status, held, released, EXPIRES, "victim_report_72h")


def refund(account: str, proposal_id: str, satang: int, *, paid: bool = False, case_id: str = "rpt-1") -> object:
    from features.signals import CaseRefund, CaseRefunded

    if paid:
        return CaseRefunded(T0 + 30, T0, case_id, account, satang, proposal_id)
    return CaseRefund(T0 + 20, T0, case_id, account, proposal_id, satang)
