"""Training rows see the holds a victim report makes, as the workers do."""

from __future__ import annotations

import json
import math
from pathlib import Path

from factories import T0_MS, make_registry, make_report, make_transfer

from features.engine import FEATURE_NAMES
from models.dataset import build_rows

MINUTE_MS = 60_000
VICTIM, MULE, NEXT_HOP, SIBLING, PAYER = ("KBANK:111-1-11111", "SCB:222-2-22222", "BBL:333-3-33333",
                                          "BBL:444-4-44444", "KTB:555-5-55555")


def _write(data: Path, name: str, records: list[dict]) -> None:
    (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _split(account: str, prefix: str = "") -> dict[str, str]:
    """``"BANK:number"`` as the contracts' ``<prefix>bank`` and ``<prefix>account`` fields."""
    bank, _, number = account.partition(":")
    return {f"{prefix}bank": bank, f"{prefix}account": number}


def _transfer(tid: str, minute: int, src: str, dst: str, amount: str) -> dict:
    return make_transfer(transfer_id=tid, ts=T0_MS + minute * MINUTE_MS, **_split(src, "src_"),
                         **_split(dst, "dst_"), amount=amount, src_device_id=..., src_msisdn=...)


def test_a_traced_hold_reaches_the_rows_of_accounts_linked_to_it(tmp_path: Path) -> None:
    """A victim pays a mule and reports it; the mule's sibling account (same device) is paid
    later. The sibling's row knows a held account shares its device, as a worker would, and
    the mule, held, gives no row while held, as a worker does not score it."""
    data = tmp_path / "world"
    data.mkdir()
    device = {"device_id": "herder-phone", "msisdn": ..., "national_id": ...}
    _write(data, "registry.accounts.v1", [
        make_registry(**_split(MULE), ts=T0_MS - MINUTE_MS, **device),
        make_registry(**_split(SIBLING), ts=T0_MS - MINUTE_MS, **device),
    ])
    _write(data, "bank.transfers.v1", [
        _transfer("t-1", 0, VICTIM, MULE, "15000.00"),
        _transfer("t-2", 20, MULE, NEXT_HOP, "5000.00"),  # after the report: the mule is held
        _transfer("t-3", 30, PAYER, SIBLING, "2000.00"),
    ])
    _write(data, "victim.reports.v1", [
        make_report(ts=T0_MS + 10 * MINUTE_MS, **_split(VICTIM, "victim_"), transfer_ids=["t-1"]),
    ])
    rows = build_rows(data, labels={})
    by_event = {(account, event): i for i, (account, event) in enumerate(zip(rows.accounts, rows.event_ids,
                                                                              strict=True))}
    assert (MULE, "t-1") in by_event  # before the report the mule is scored
    assert (MULE, "t-2") not in by_event  # held: a worker does not score it
    sibling = rows.X[by_event[(SIBLING, "t-3")]]
    assert sibling[FEATURE_NAMES.index("held_identity_links")] == 1
    before = rows.X[by_event[(VICTIM, "t-1")]]
    assert before[FEATURE_NAMES.index("held_identity_links")] == 0
    assert math.isnan(before[FEATURE_NAMES.index("taint_hops")])
