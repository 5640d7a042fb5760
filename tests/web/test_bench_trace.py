"""The tracing benchmark's arithmetic: latencies per case and the share of stolen money held."""

from __future__ import annotations

from streams.contracts import FreezeRequest
from topologies.bench_trace import held_share, latencies


def transfer(tid: str, src: str, dst: str, amount: int, ts: int) -> dict:
    return {"transfer_id": tid, "src_bank": "X", "src_account": src, "dst_bank": "X", "dst_account": dst,
            "amount_satang": amount, "ts_ms": ts}


# V pays A 1000 (t=0); A splits 600 to B and 400 to C (t=100, fan-out); both pay D (t=200, t=300, fan-in);
# the report comes at t=150, after A's split but before B and C moved the money on.
CASE = {"report": {"report_id": "r", "ts_ms": 150}, "loss_satang": 1000, "victim": {"bank": "X", "account": "V"},
        "chain": [transfer("t1", "V", "A", 1000, 0), transfer("t2", "A", "B", 600, 100),
                  transfer("t3", "A", "C", 400, 100), transfer("t4", "B", "D", 600, 200),
                  transfer("t5", "C", "D", 400, 300)]}
SENT = {"r": 10_000.0, "t1": 9_000.0, "t2": 9_500.0, "t3": 9_500.0, "t4": 10_500.0, "t5": 11_000.0}


def hold(account: str, trigger: str, amount: int, emitted: float) -> FreezeRequest:
    return FreezeRequest("q", "X", account, "hold", amount, "trace", 1.0, None, (), "r", 1, trigger, 150,
                         int(emitted), "victim_report", None)


def test_latencies_split_known_trail_from_live_tracing() -> None:
    holds = [hold("A", "t1", 1000, 10_200), hold("B", "t2", 600, 10_400), hold("C", "t3", 400, 10_900),
             hold("D", "t5", 400, 11_300)]
    lat = latencies([CASE], holds, SENT)
    assert lat["first_hold"] == [200.0]
    assert lat["last_hop"] == [900.0]  # C: its money had moved before the report
    assert lat["live_hop"] == [300.0]  # D: traced from t5, sent after the report


def test_held_share_counts_money_once_and_only_what_is_still_there() -> None:
    # A is empty by the report; B and C are held before they pay D (B with half the requested amount).
    holds = [hold("A", "t1", 1000, 10_100), hold("B", "t2", 300, 10_010), hold("C", "t3", 400, 10_020),
             hold("D", "t5", 200, 11_100)]
    # 300 at B, 400 at C (nothing of it reaches D), and 200 of B's other 300 at D: never more than was there.
    assert held_share([CASE], holds, SENT) == (900, 1000)
    # 15 minutes later every hold comes after all the moves: only D still has money, and 200 is requested.
    assert held_share([CASE], holds, SENT, delay_ms=15 * 60_000) == (200, 1000)
