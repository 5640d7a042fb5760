"""How much of each scam case's money the holds caught before it left the mule chain.

The simulated world does not react to holds: a held mule still "forwards" money in the
data. So the share is computed counterfactually, per case, by walking the case's chain of
transfers in event-time order together with the holds on its mule accounts:

* each mule account has a *free* and a *frozen* balance of the case's money;
* a chain transfer credits its receiver (if a mule) and debits the sender's free balance
  only: what the sender would have had to take from frozen money never leaves, so the
  receiver is credited ``min(amount, free balance)`` (a victim's own transfer is credited
  in full);
* a hold at time ``t`` on a mule moves ``min(free balance, what is left of the hold's
  amount)`` to frozen, after every transfer at ``t`` or earlier (a hold is decided on the
  event that triggered it). A hold's amount is shared by the cases that have money in the
  account, in case order; a hold without an amount catches nothing;
* money that reaches a non-mule (cash-out, an exchange, a shop, an honest account) has
  left the chain and can no longer be caught.

The case's held share is its frozen money over its loss. Money is never counted twice
(each satang is frozen at most once and frozen money never moves on); the method can
undercount, never overcount: a credit arriving in an already-held account counts only
if a later hold covers it.

With ``freeze_account=True`` a hold instead freezes the whole account until it expires:
case money credited to it in that time is frozen on arrival, whatever the hold's amount.
That is the upper bound (a bank that blocks the account, not just the amount).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Hold:
    key: str
    at_ms: int
    amount_satang: int
    reason: str
    until_ms: int = 0


@dataclass(frozen=True, slots=True)
class CaseMoney:
    case_id: str
    loss_satang: int
    held_satang: int
    first_credit_ms: int
    first_hold_ms: int | None  # first hold that froze some of this case's money
    reported: bool

    @property
    def share(self) -> float:
        return self.held_satang / self.loss_satang if self.loss_satang else 0.0

    @property
    def delay_ms(self) -> int | None:
        return None if self.first_hold_ms is None else self.first_hold_ms - self.first_credit_ms


@dataclass
class _Capacity:
    """What is left of each hold's amount, shared across cases."""

    left: dict[int, int] = field(default_factory=dict)


def case_money(cases: list[dict[str, Any]], holds: list[Hold], *, freeze_account: bool = False) -> list[CaseMoney]:
    """Per case, the money frozen before it left the mule chain (method: module docstring)."""
    by_account: dict[str, list[tuple[int, int]]] = defaultdict(list)  # key -> [(at_ms, hold index)]
    for index, hold in enumerate(holds):
        by_account[hold.key].append((hold.at_ms, index))
    big = 1 << 62
    capacity = _Capacity({i: big if freeze_account else max(h.amount_satang, 0) for i, h in enumerate(holds)})
    frozen_until = {k: [(at, holds[i].until_ms) for at, i in v] for k, v in by_account.items()}
    if not freeze_account:
        frozen_until = {}
    ordered = sorted(cases, key=lambda c: (c.get("first_ts_ms") or 0, c["case_id"]))
    return [_one_case(case, by_account, capacity, frozen_until) for case in ordered if case.get("loss_satang")]


def _one_case(case: dict[str, Any], by_account: dict[str, list[tuple[int, int]]],
              capacity: _Capacity, frozen_until: dict[str, list[tuple[int, int]]]) -> CaseMoney:
    mules = set(case.get("mules") or ())
    # Timeline: transfers (kind 0) before holds (kind 1) at the same millisecond.
    timeline: list[tuple[int, int, int, Any]] = []
    for n, tr in enumerate(case.get("chain") or ()):
        timeline.append((tr["ts_ms"], 0, n, tr))
    for key in mules:
        for at_ms, index in by_account.get(key, ()):
            timeline.append((at_ms, 1, index, key))
    timeline.sort(key=lambda e: e[:3])
    free: dict[str, int] = defaultdict(int)
    held = 0
    first_hold: int | None = None
    for ts, kind, index, item in timeline:
        if kind == 0:
            src, dst = f"{item['src_bank']}:{item['src_account']}", f"{item['dst_bank']}:{item['dst_account']}"
            amount = int(item["amount_satang"])
            if src in mules:
                amount = min(amount, free[src])
                free[src] -= amount
            if dst in mules:
                if amount and any(at <= ts < until for at, until in frozen_until.get(dst, ())):
                    held += amount  # lands in a frozen account
                    first_hold = ts if first_hold is None else first_hold
                else:
                    free[dst] += amount
            continue
        take = min(free[item], capacity.left[index])
        if take > 0:
            free[item] -= take
            capacity.left[index] -= take
            held += take
            first_hold = ts if first_hold is None else first_hold
    first_credit = min((tr["ts_ms"] for tr in case.get("chain") or () if tr.get("hop") == 1),
                       default=case.get("first_ts_ms") or 0)
    return CaseMoney(case["case_id"], int(case["loss_satang"]), held, first_credit, first_hold,
                     case.get("report") is not None)
