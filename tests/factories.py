"""Small factories for wire messages: ``make_transfer(**overrides)`` instead of JSON fixtures."""

from __future__ import annotations

import json
from typing import Any

T0_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z
# Decode these messages with this ingest clock (``now_ms=NOW_MS``), never the wall clock: the
# fixed T0_MS is more than a year old to a worker from 2027-11 on (``codec.MAX_EVENT_AGE_MS``).
NOW_MS = T0_MS + 3_600_000


def make_transfer(**overrides: Any) -> dict[str, Any]:
    msg = {
        "transfer_id": "t-1", "ts": T0_MS, "src_bank": "KBANK", "src_account": "111-1-11111",
        "dst_bank": "SCB", "dst_account": "222-2-22222", "amount": "1500.00", "channel": "mobile",
        "src_device_id": "device-a", "src_msisdn": "0812345678",
    }
    msg.update(overrides)
    return {k: v for k, v in msg.items() if v is not ...}


def make_telecom(**overrides: Any) -> dict[str, Any]:
    msg = {"event_id": "e-1", "ts": T0_MS, "kind": "call", "msisdn_a": "0899999999",
           "msisdn_b": "0812345678", "duration_s": 120}
    msg.update(overrides)
    return {k: v for k, v in msg.items() if v is not ...}


def make_registry(**overrides: Any) -> dict[str, Any]:
    msg = {"bank": "SCB", "account": "222-2-22222", "opened_ts": T0_MS - 5 * 86_400_000,
           "ts": T0_MS, "msisdn": "0811111111", "national_id": "1100700123456", "device_id": "device-b"}
    msg.update(overrides)
    return {k: v for k, v in msg.items() if v is not ...}


def make_report(**overrides: Any) -> dict[str, Any]:
    msg = {"report_id": "r-1", "ts": T0_MS, "victim_bank": "KBANK", "victim_account": "111-1-11111",
           "transfer_ids": ["t-1"], "channel": "hotline_1441"}
    msg.update(overrides)
    return {k: v for k, v in msg.items() if v is not ...}


def raw(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg).encode()
