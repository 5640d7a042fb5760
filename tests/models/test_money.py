"""The money-held method on hand-made chains: counterfactual, never counts a satang twice."""

from __future__ import annotations

from models.money import Hold, case_money

V, M1, M2, SHOP = "KTB:victim", "SCB:m1", "BBL:m2", "KBANK:shop"


def _tr(hop: int, src: str, dst: str, amount: int, ts: int) -> dict:
    sb, sa = src.split(":")
    db, da = dst.split(":")
    return {"hop": hop, "transfer_id": f"t{ts}", "src_bank": sb, "src_account": sa, "dst_bank": db,
            "dst_account": da, "amount_satang": amount, "ts_ms": ts}


CASE = {
    "case_id": "case-1", "loss_satang": 1000, "first_ts_ms": 10, "report": None, "mules": [M1, M2],
    "chain": [_tr(1, V, M1, 1000, 10), _tr(2, M1, M2, 800, 20), _tr(3, M2, SHOP, 800, 30)],
}


def _one(holds: list[Hold], **kw) -> tuple[int, int | None]:
    [money] = case_money([CASE], holds, **kw)
    return money.held_satang, money.delay_ms


def test_a_hold_catches_what_sits_in_the_account_then() -> None:
    assert _one([Hold(M1, 15, 5000, "model")]) == (1000, 5)
    assert _one([Hold(M1, 20, 5000, "model")]) == (200, 10)  # the transfer at 20 left first
    assert _one([Hold(M2, 25, 5000, "trace")]) == (800, 15)
    assert _one([Hold(M2, 30, 5000, "trace")]) == (0, None)  # already cashed out at a shop


def test_money_frozen_upstream_is_not_counted_again_downstream() -> None:
    held, delay = _one([Hold(M1, 15, 5000, "model"), Hold(M2, 25, 5000, "trace")])
    assert (held, delay) == (1000, 5)


def test_a_hold_catches_at_most_its_amount_and_shares_it_between_cases() -> None:
    assert _one([Hold(M1, 15, 300, "trace")]) == (300, 5)
    assert _one([Hold(M1, 15, 0, "model")]) == (0, None)
    other = {**CASE, "case_id": "case-2", "first_ts_ms": 11,
             "chain": [_tr(1, "KTB:v2", M1, 500, 11)]}
    first, second = case_money([CASE, other], [Hold(M1, 15, 1200, "model")])
    assert (first.held_satang, second.held_satang) == (1000, 200)
    assert first.share == 1.0 and second.share == 200 / 1000


def test_upper_bound_freezes_credits_into_held_accounts() -> None:
    holds = [Hold(M2, 5, 0, "model", until_ms=100)]  # held before the money arrives
    assert _one(holds) == (0, None)
    assert _one(holds, freeze_account=True) == (800, 10)  # caught as it arrives at 20
