"""Follow the money against a real broker and a real worker: a call-centre case with a 4-hop
chain, fan-out and fan-in; bank answers, an appeal, a police complaint, expiry on a clock the
test moves; the case endpoints and their tokens; the refund proposal."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka_helpers import RunningWorker, consume_all, decoded, produce

from streams.timefmt import parse_ts
from streams.topics import (
    AUDIT,
    FREEZE_ACKS,
    FREEZE_REQUESTS,
    HOLD_APPEALS,
    REFUND_PROPOSALS,
    TRANSFERS,
    VICTIM_REPORTS,
)
from topologies.auth import bank_token, case_token, investigator_token
from topologies.broker import free_port
from topologies.worker import spawn_worker, stop_process, wait_ready

pytestmark = pytest.mark.integration

TOKEN_KEY = "test-token-key"
CASE = "rep-callcentre-1"
CONTROL_CASE = "rep-callcentre-control"  # reported with CASE, never extended: expires at 72 h
NOW_MS = int(time.time() * 1000)
T0 = NOW_MS - 2 * 3_600_000  # the scam call, two hours ago
MIN = 60_000
HOUR = 60 * MIN
THB = 100  # satang

# (transfer_id, minutes after T0, src, dst, THB)
TRANSFERS_MADE = [
    ("inn-before", -60, "SCB:m1", "KBANK:innocent-before", 5_000),  # M1 paid it before the stolen credit
    ("inn-payer", -50, "BAY:innocent-payer", "GSB:m3", 2_000),  # paid M3: a payer, not a receiver
    ("inn-old", -40, "TTB:m4", "BAY:innocent-old", 1_000),  # M4 paid it before taint arrived
    ("v1", 0, "KBANK:victim", "SCB:m1", 100_000),  # hop 1
    ("f1", 5, "SCB:m1", "KTB:m2a", 60_000),  # fan-out: hop 2
    ("f2", 6, "SCB:m1", "BBL:m2b", 40_000),
    ("c1", 10, "KTB:m2a", "GSB:m3", 60_000),  # fan-in: hop 3
    ("c2", 11, "BBL:m2b", "GSB:m3", 30_000),
    ("h4", 20, "GSB:m3", "TTB:m4", 80_000),  # hop 4
    ("h5", 25, "TTB:m4", "KKP:beyond", 10_000),  # hop 5: beyond the depth cap
    ("ctl1", 1, "KBANK:control-victim", "BAY:control-m", 20_000),  # the control case's one hop
]


def _transfer(tid: str, minutes: int, src: str, dst: str, thb: int) -> tuple[str, bytes, bytes]:
    sb, sa = src.split(":")
    db, da = dst.split(":")
    value = {"transfer_id": tid, "ts": T0 + minutes * MIN, "src_bank": sb, "src_account": sa, "dst_bank": db,
             "dst_account": da, "amount": f"{thb}.00", "channel": "mobile"}
    return TRANSFERS.name, src.encode(), json.dumps(value).encode()


def _report(report_id: str, minutes: int, police: str | None = None, victim: str = "KBANK:victim",
            transfer_ids: tuple[str, ...] = ("v1",)) -> tuple[str, bytes, bytes]:
    bank, account = victim.split(":")
    value = {"report_id": report_id, "ts": T0 + minutes * MIN, "victim_bank": bank,
             "victim_account": account, "transfer_ids": list(transfer_ids), "channel": "hotline_1441"}
    if police:
        value["police_complaint_ref"] = police
    return VICTIM_REPORTS.name, victim.encode(), json.dumps(value).encode()


@pytest.fixture(scope="module")
def clock(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clock") / "now_ms"
    path.write_text(str(NOW_MS))
    return path


@pytest.fixture(scope="module")
def tracing_worker(module_broker, model_dir: Path, clock: Path, tmp_path_factory) -> Iterator[RunningWorker]:
    work = tmp_path_factory.mktemp("tracing-worker")
    port = free_port()
    env = {"MULEGUARD_CLOCK_FILE": str(clock), "MULEGUARD_EXPIRY_CHECK_S": "1", "MULEGUARD_TOKEN_KEY": TOKEN_KEY}
    process = spawn_worker(module_broker.url, model_dir, work / "state", port, work / "worker.log", extra_env=env)
    try:
        wait_ready(port, 120, process)
        yield RunningWorker(process, port, work / "worker.log")
    finally:
        stop_process(process)


def _requests(bootstrap: str, until, timeout_s: float = 120.0, case_id: str = CASE) -> list[dict]:  # noqa: ANN001
    """Freeze requests of this case, polled until ``until(requests)`` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        mine = [r for r in decoded(consume_all(bootstrap, FREEZE_REQUESTS.name))
                if r["case_id"] == case_id]
        if until(mine):
            return mine
        assert time.monotonic() < deadline, f"condition not met; requests so far: {mine}"
        time.sleep(0.5)


def _get(port: int, path: str, token: str | None = None, header: bool = False) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{port}{path}"
    headers = {"Accept": "application/json"}
    if token and header:
        headers["Authorization"] = f"Bearer {token}"
    elif token:
        url += f"?token={token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _case(port: int, until, timeout_s: float = 120.0, case_id: str = CASE) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = _get(port, f"/cases/{case_id}", case_token(case_id, TOKEN_KEY))
        if status == 200 and until(body):
            return body
        assert time.monotonic() < deadline, f"case never got there: {status} {body}"
        time.sleep(0.5)


def _holds(requests: list[dict]) -> dict[str, list[dict]]:
    by_account: dict[str, list[dict]] = {}
    for r in requests:
        if r["action"] == "hold" and r["reason"] == "trace":
            by_account.setdefault(f"{r['bank']}:{r['account']}", []).append(r)
    return by_account


def _thb(amount: str) -> int:
    return round(float(amount))


def _victim_sees_on_a_phone(port: int, tmp_path: Path, expected: list[str]) -> None:
    """The victim's link, opened in headless Chromium at a phone's size, read back by OCR."""
    from web_browser import ocr, screenshot_url, squash

    url = f"http://127.0.0.1:{port}/cases/{CASE}?token={case_token(CASE, TOKEN_KEY)}&lang=en"
    text = squash(ocr(screenshot_url(url, tmp_path / "victim.png")))
    missing = [words for words in expected if squash(words) not in text]
    assert not missing, f"the victim page shows no {missing}: OCR read {text[:400]!r}"


def test_a_report_that_reaches_the_worker_before_its_transfer_is_traced_when_the_transfer_does(
        module_broker, tracing_worker: RunningWorker) -> None:
    """The bank's report feed can be ahead of its transfer feed (they are separate topics)."""
    bootstrap, port, case_id = module_broker.bootstrap, tracing_worker.web_port, "rep-early-1"
    consumed = tracing_worker.metric("muleguard_events_consumed_total", topic=VICTIM_REPORTS.name)
    produce(bootstrap, [_report(case_id, 30, victim="KBANK:early-victim", transfer_ids=("e1",))])
    _case(port, lambda c: c["status"] == "received", case_id=case_id)  # nothing to trace yet
    assert tracing_worker.metric("muleguard_events_consumed_total", topic=VICTIM_REPORTS.name) == consumed + 1
    produce(bootstrap, [_transfer("e1", 0, "KBANK:early-victim", "SCB:early-m1", 50_000),
                        _transfer("e2", 5, "SCB:early-m1", "KTB:early-m2", 40_000)])
    holds = _holds(_requests(bootstrap, lambda rs: len(_holds(rs)) == 2, case_id=case_id))
    assert {k: [_thb(r["amount"]) for r in v] for k, v in holds.items()} == {
        "SCB:early-m1": [50_000], "KTB:early-m2": [40_000]}
    case = _case(port, lambda c: len(c["holds"]) == 2, case_id=case_id)
    assert case["reported_satang"] == case["traced_satang"] == 50_000 * THB


def test_call_centre_case_is_held_on_every_tainted_hop_and_followed_to_release(
        module_broker, tracing_worker: RunningWorker, clock: Path, tmp_path: Path) -> None:
    bootstrap, port = module_broker.bootstrap, tracing_worker.web_port
    produce(bootstrap, [_transfer(*t) for t in TRANSFERS_MADE])
    deadline = time.monotonic() + 120
    while tracing_worker.metric("muleguard_events_consumed_total", topic=TRANSFERS.name) < len(TRANSFERS_MADE):
        assert time.monotonic() < deadline and tracing_worker.alive()
        time.sleep(0.5)
    produce(bootstrap, [_report(CASE, 30),
                        _report(CONTROL_CASE, 30, victim="KBANK:control-victim", transfer_ids=("ctl1",))])

    # 1. Holds: every account that received traced money, for the traced amount (tainted first).
    expected_accounts = {"SCB:m1", "KTB:m2a", "BBL:m2b", "GSB:m3", "TTB:m4"}
    requests = _requests(bootstrap, lambda rs: set(_holds(rs)) >= expected_accounts
                         and len(_holds(rs).get("TTB:m4", [])) == 2 and len(_holds(rs).get("GSB:m3", [])) == 2)
    holds = _holds(requests)
    assert set(holds) == expected_accounts, "innocent counterparties and the hop beyond the cap get no hold"
    amounts = {k: sorted(_thb(r["amount"]) for r in v) for k, v in holds.items()}
    assert amounts["SCB:m1"] == [100_000]
    assert amounts["KTB:m2a"] == [60_000] and amounts["BBL:m2b"] == [40_000]
    assert amounts["GSB:m3"] == [30_000, 60_000]  # fan-in: two traced credits
    assert sum(amounts["TTB:m4"]) == 80_000  # 90,000 traced into M3 but only 80,000 left through h4
    assert {r["hop"] for r in holds["TTB:m4"]} == {4}
    assert all(r["legal_basis"] == "victim_report_72h" for v in holds.values() for r in v)

    # 2. The case, its tokens, its trail.
    case = _case(port, lambda c: len(c["holds"]) == 7)
    assert case["status"] == "holds_requested" and case["max_hop"] == 4
    assert case["reported_satang"] == case["traced_satang"] == 100_000 * THB
    assert case["requested_satang"] == (100_000 + 60_000 + 40_000 + 90_000 + 80_000) * THB
    for path in (f"/cases/{CASE}", "/cases/no-such-case", f"/cases/{CASE}/trail", "/cases/no-such-case/trail"):
        assert _get(port, path)[0] == 401
        assert _get(port, path, "0" * 32) == (403, {"error": "forbidden"})
    assert _get(port, "/cases/no-such-case", case_token(CASE, TOKEN_KEY))[0] == 403  # another case's token
    status, trail = _get(port, f"/cases/{CASE}/trail", investigator_token(CASE, TOKEN_KEY), header=True)
    assert status == 200
    roles = {n["id"]: (n["role"], n["hop"]) for n in trail["nodes"]}
    assert roles["KBANK:victim"] == ("victim", 0) and roles["GSB:m3"] == ("mule", 3)
    assert {(e["from"], e["to"]) for e in trail["edges"]} == {
        ("KBANK:victim", "SCB:m1"), ("SCB:m1", "KTB:m2a"), ("SCB:m1", "BBL:m2b"), ("KTB:m2a", "GSB:m3"),
        ("BBL:m2b", "GSB:m3"), ("GSB:m3", "TTB:m4")}
    status, masked = _get(port, f"/cases/{CASE}/trail", case_token(CASE, TOKEN_KEY))  # the victim's link
    assert status == 200 and "SCB:m1" not in json.dumps(masked, ensure_ascii=False)
    assert _get(port, "/accounts/SCB/m1")[0] == 401
    assert _get(port, "/accounts/SCB/m1", bank_token("KTB", TOKEN_KEY))[0] == 403
    status, account = _get(port, "/accounts/SCB/m1", bank_token("SCB", TOKEN_KEY))
    assert status == 200 and [h["status"] for h in account["holds"] if h["reason"] == "trace"] == ["requested"]

    # 3. Banks answer: M1 held 70,000 (other money: the victim's had all moved on), M4 held its
    # larger traced part (how 80,000 splits in two depends on which credit reached M3 first),
    # M2a rejected.
    m1, m2a = holds["SCB:m1"][0], holds["KTB:m2a"][0]
    m4_large = max(holds["TTB:m4"], key=lambda r: _thb(r["amount"]))
    m4_held = _thb(m4_large["amount"])
    m3_small = next(r for r in holds["GSB:m3"] if _thb(r["amount"]) == 30_000)
    ack_ts = NOW_MS
    produce(bootstrap, [
        (FREEZE_ACKS.name, b"SCB:m1", json.dumps({"request_id": m1["request_id"], "ts": ack_ts, "bank": "SCB",
                                                  "account": "m1", "status": "held", "held_amount": "70000"}).encode()),
        (FREEZE_ACKS.name, b"TTB:m4", json.dumps({"request_id": m4_large["request_id"], "ts": ack_ts, "bank": "TTB",
                                                  "account": "m4", "status": "held",
                                                  "held_amount": str(m4_held)}).encode()),
        (FREEZE_ACKS.name, b"KTB:m2a", json.dumps({"request_id": m2a["request_id"], "ts": ack_ts, "bank": "KTB",
                                                   "account": "m2a", "status": "rejected",
                                                   "reason": "account closed"}).encode()),
        (FREEZE_ACKS.name, b"SCB:m1", b"{not json"),
        (HOLD_APPEALS.name, b"GSB:m3", json.dumps({
            "appeal_id": "ap-1", "ts": ack_ts, "bank": "GSB", "account": "m3", "request_id": m3_small["request_id"],
            "outcome": "approved", "decided_by": "aoc"}).encode()),
    ])
    case = _case(port, lambda c: c["status"] == "refund_proposed" and c["held_satang"] == (70_000 + m4_held) * THB)
    assert case["refund_proposed_satang"] == m4_held * THB  # M1's held money is not the victim's
    _victim_sees_on_a_phone(port, tmp_path, [f"{m4_held:,}.00", "Refund proposed"])
    [proposal] = decoded(consume_all(bootstrap, REFUND_PROPOSALS.name, until=lambda v: len(v) >= 1))
    assert (proposal["account"], proposal["held_amount"]) == ("m4", f"{m4_held}.00")
    # M4 is the last hop followed: all 80,000 traced into it is claimed there
    assert proposal["shares"] == [{"case_id": CASE, "traced_amount": "80000.00", "amount": f"{m4_held}.00"}]
    appeal_release = _requests(bootstrap, lambda rs: any(r["action"] == "release" for r in rs))
    [release] = [r for r in appeal_release if r["action"] == "release"]
    assert (release["trigger_event_id"], release["legal_basis"]) == (m3_small["request_id"], "appeal_approved")
    assert tracing_worker.metric("muleguard_events_rejected_total", topic=FREEZE_ACKS.name) >= 1

    # 4. The victim files a police complaint: active victim holds run 7 days from it.
    produce(bootstrap, [_report("rep-callcentre-1-police", 40, police="POL-2026-0042")])
    active = [r for v in holds.values() for r in v
              if r["request_id"] not in (m2a["request_id"], m3_small["request_id"])]
    extended = _requests(bootstrap, lambda rs: sum(r["action"] == "extend" for r in rs) >= len(active))
    extends = [r for r in extended if r["action"] == "extend"]
    assert {r["trigger_event_id"] for r in extends} == {r["request_id"] for r in active}
    complaint_ms = T0 + 40 * MIN
    assert {r["legal_basis"] for r in extends} == {"police_complaint_7d"}
    assert {parse_ts(r["expires_ts"]) for r in extends} == {complaint_ms + 7 * 86_400_000}  # past the 72 h

    # 5. 72 h after the reports: the control case's hold expires (the timer ran on the moved
    # clock), the extended holds stay.
    _requests(bootstrap, lambda rs: any(r["action"] == "hold" for r in rs), case_id=CONTROL_CASE)
    clock.write_text(str(T0 + 30 * MIN + 72 * HOUR + MIN))
    control = _requests(bootstrap, lambda rs: any(r["action"] == "release" for r in rs), case_id=CONTROL_CASE)
    assert [r["legal_basis"] for r in control if r["action"] == "release"] == ["expired"]
    time.sleep(3)  # the same expiry check round would have reached this case's accounts
    assert [r for r in _requests(bootstrap, lambda rs: True) if r["legal_basis"] == "expired"] == []

    # 6. The clock passes 7 days after the complaint: each still active hold is released once.
    clock.write_text(str(complaint_ms + 7 * 86_400_000 + MIN))
    final = _requests(bootstrap, lambda rs: sum(r["action"] == "release" for r in rs) >= 1 + len(active))
    releases = [r for r in final if r["action"] == "release"]
    expired = [r for r in releases if r["legal_basis"] == "expired"]
    assert sorted(r["trigger_event_id"] for r in expired) == sorted(r["request_id"] for r in active)
    assert len({r["request_id"] for r in releases}) == len(releases) == 1 + len(active)
    case = _case(port, lambda c: all(h["status"] in ("released", "rejected") for h in c["holds"]))
    assert case["released_satang"] > 0

    audits = decoded(consume_all(bootstrap, AUDIT.name, until=lambda v: sum(
        json.loads(a)["kind"] == "release" for a in v) >= 1 + len(active)))
    kinds = {a["kind"] for a in audits}
    assert {"hold", "release", "extend", "appeal_outcome"} <= kinds
    hold_audit = next(a for a in audits if a["request_id"] == m1["request_id"])
    assert hold_audit["details"]["case_id"] == CASE and hold_audit["details"]["amount_satang"] == 100_000 * THB
