"""Runs the scams in event time: victims pay, mules forward, cash-out, victims report.

Everything planned is pushed on one heap of future actions; ``run_until(t)`` pops what is
due before ``t``. Memory therefore grows with the cases in flight, not with the world's
length. Money is tracked per (case, mule): a mule forwards only what it has received for
that case, after a drawn delay, minus a small cut, which is what makes the ground-truth
chains conservative by construction (and checkable by the tests).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streams.simulator.calibration import DAY_MS, HOUR_MS, LOCAL_OFFSET_MS, MINUTE_MS
from streams.simulator.columns import CH_MOBILE, CH_PROMPTPAY, K_SCAM_REPORT, NONE, OWN
from streams.simulator.naming import phone_numbers, report_id, transfer_id
from streams.simulator.population import HERDER_MULE, SCAM_COLLECTOR, Population
from streams.simulator.scenarios import (
    CasePlan,
    ScamSims,
    call_centre_case,
    cash_out,
    dormant_wake_swap,
    fan_out,
    forward_delay_ms,
    herd_activation,
    least_used,
    repeated_payment_case,
    victim_report,
)

_EMIT, _FORWARD, _TELECOM, _REPORT, _TEST = range(5)
TransferRow = tuple[
    int, int, int, int, int, int, int, int
]  # ts, src, dst, satang, ch, dev, msisdn, seq
TelecomRow = tuple[int, int, int, int, int, int, int]  # ts, kind, a, b, duration, cell, imei


@dataclass(slots=True)
class _Case:
    plan: CasePlan
    hop: dict[int, int] = field(default_factory=dict)
    by_hop: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    victim_ids: list[str] = field(default_factory=list)
    first_ts: int | None = None
    loss: int = 0
    chain: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None


def draw_in_local_hours(r: random.Random, start: int, end: int, weights: tuple[float, ...]) -> int:
    """A time in ``[start, end)`` whose Bangkok hour follows ``weights`` (rejection sampling:
    any window, even one shorter than a day, keeps its own mix of hours).

    Examples:
        >>> r = random.Random(1)
        >>> hours = [((draw_in_local_hours(r, 0, DAY_MS, (0,) * 8 + (1,) + (0,) * 15) + LOCAL_OFFSET_MS)
        ...           // HOUR_MS) % 24 for _ in range(5)]
        >>> hours
        [8, 8, 8, 8, 8]
    """
    top = max(weights)
    while True:
        t = start + int(r.random() * (end - start))
        if r.random() * top < weights[(t + LOCAL_OFFSET_MS) // HOUR_MS % 24]:
            return t


def plan_scams(pop: Population) -> tuple[list[CasePlan], ScamSims]:
    """Draw every case (time, type, victim, ring, payments, report) and the scam SIMs upfront.

    Done once from the seed, so a world's cases are known before generation and two
    iterations of ``World.events()`` see the same plans.
    """
    cfg = pop.cfg
    r = random.Random(cfg.seed * 1_000_003 + 2)
    start, end = cfg.start_ts_ms, cfg.end_ts_ms
    n_cases = int(round(cfg.scam_cases_per_day * cfg.days))
    times = sorted(draw_in_local_hours(r, start, end, cfg.scam_diurnal) for _ in range(n_cases))
    types = [t for t, _ in cfg.scam_type_mix]
    type_w = [w for _, w in cfg.scam_type_mix]
    ring_w = [len(ring.members) for ring in pop.rings]
    people = pop.people.tolist()

    case_types = [r.choices(types, weights=type_w)[0] for _ in times]
    sim_rows: list[tuple[int, int, int]] = []  # (active_from, active_to, registered)
    sim_row_of: list[int] = []
    uses = 0
    for t, scam_type in zip(times, case_types, strict=True):
        if scam_type not in ("call_centre", "loan_fee"):
            sim_row_of.append(-1)
            continue
        if sim_rows and uses < cfg.cases_per_scam_sim and sim_rows[-1][1] > t + 3 * HOUR_MS:
            uses += 1
        else:
            active_from = max(start, t - int(r.uniform(1, 12) * HOUR_MS))
            active_to = max(
                active_from + int(r.uniform(*cfg.scam_sim_life_days) * DAY_MS), t + 3 * HOUR_MS
            )
            registered = active_from - int(r.uniform(*cfg.scam_sim_registered_before_h) * HOUR_MS)
            sim_rows.append((active_from, active_to, registered))
            uses = 1
        sim_row_of.append(len(sim_rows) - 1)

    n_sims = len(sim_rows)
    n_farms = max(1, -(-n_sims // cfg.sims_per_farm))
    farm = np.arange(n_sims) // cfg.sims_per_farm
    msisdn = pop.alloc_msisdn(n_sims)
    boxes = pop.alloc_device(n_farms)
    rows = np.array(sim_rows, dtype=np.int64).reshape(-1, 3)
    lo, hi = cfg.scam_sim_calls_per_day
    sims = ScamSims(
        msisdn=msisdn,
        box_device=boxes[farm],
        cell=np.array([r.randrange(pop.n_cells) for _ in range(n_farms)], dtype=np.int32)[farm],
        active_from=rows[:, 0],
        active_to=rows[:, 1],
        registered=rows[:, 2],
        calls_per_day=np.array([r.randint(lo, hi) for _ in range(n_sims)], dtype=np.float64),
    )

    plans: list[CasePlan] = []
    load: dict[int, int] = {}  # first-hop accounts' cases so far: gangs rotate them
    r = random.Random(cfg.seed * 1_000_003 + 3)
    for case_no, (t, scam_type, sim_row) in enumerate(
        zip(times, case_types, sim_row_of, strict=True)
    ):
        victim = people[r.randrange(len(people))]
        for _ in range(20):
            if pop.opened_ts[victim] < t - DAY_MS:
                break
            victim = people[r.randrange(len(people))]
        ring_no = r.choices(range(len(pop.rings)), weights=ring_w)[0]
        sim = int(sims.msisdn[sim_row]) if sim_row >= 0 else -1
        if scam_type == "call_centre":
            plan = call_centre_case(r, pop, case_no, t, victim, ring_no, sim, sims, sim_row, load)
        else:
            plan = repeated_payment_case(
                r, pop, case_no, scam_type, t, victim, ring_no, sim, sims, sim_row, load
            )
        plan.report = victim_report(r, cfg, scam_type, max(p[0] for p in plan.payments))
        plans.append(plan)
    return plans, sims


class Layering:
    """The scam side of one run of the world; create a fresh one per ``World.events()`` call."""

    def __init__(self, pop: Population, plans: list[CasePlan]) -> None:
        self.pop, self.cfg = pop, pop.cfg
        self.r = random.Random(self.cfg.seed * 1_000_003 + 4)
        self.heap: list[tuple[int, int, int, Any]] = []
        self.order = itertools.count()
        self.cases = [_Case(plan) for plan in plans]
        self.pending: dict[tuple[int, int], int] = defaultdict(int)
        self.report_seq = 0
        self.load: dict[int, int] = {}  # later-hop mules' cases so far (see scenarios.least_used)
        for case in self.cases:
            plan = case.plan
            for ts, dst, amount, channel in plan.payments:
                self._push(
                    ts, _EMIT, (plan.victim, dst, amount, channel, OWN, OWN, plan.case_no, 1)
                )
                if self.pop.ring[dst] >= 0 and dst not in case.hop and ts < self.cfg.end_ts_ms:
                    case.hop[dst] = 1  # the victim's payee is hop 1 from the start: no forward
                    case.by_hop[1].append(dst)  # of the case takes it as a fresh deeper mule
            for row in plan.telecom:
                self._push(row[0], _TELECOM, row)
            if plan.report is not None:
                self._push(plan.report[0], _REPORT, plan.case_no)
        start, end = self.cfg.start_ts_ms, self.cfg.end_ts_ms
        for ring in pop.rings:
            for mule in ring.members.tolist():
                since = int(pop.mule_since[mule])
                if start <= since < end:
                    self._push(since, _TEST, mule)
                    swap = dormant_wake_swap(self.r, pop, mule)
                    if swap is not None:
                        self._push(swap[0], _TELECOM, swap)

    def _push(self, ts: int, kind: int, payload: Any) -> None:
        heapq.heappush(self.heap, (ts, next(self.order), kind, payload))

    def run_until(
        self, t_end: int, seq: int
    ) -> tuple[list[TransferRow], list[TelecomRow], list[tuple[int, str, dict[str, Any]]], int]:
        """Everything due before ``t_end``: transfers (numbered from ``seq``), telecom, reports."""
        transfers: list[TransferRow] = []
        telecom: list[TelecomRow] = []
        reports: list[tuple[int, str, dict[str, Any]]] = []
        end = self.cfg.end_ts_ms
        while self.heap and self.heap[0][0] < t_end:
            ts, _, kind, payload = heapq.heappop(self.heap)
            if ts >= end:
                continue
            if kind == _EMIT:
                transfers.append(self._emit(ts, payload, seq))
                seq += 1
            elif kind == _FORWARD:
                self._forward(ts, *payload)
            elif kind == _TELECOM:
                telecom.append(payload)
            elif kind == _REPORT:
                self._report(ts, payload, reports)
            elif kind == _TEST:
                ring = self.pop.rings[int(self.pop.ring[payload])]
                for t, src, dst, amount, channel, device, msisdn in herd_activation(
                    self.r, self.pop, ring, payload, ts
                ):
                    self._push(t, _EMIT, (src, dst, amount, channel, device, msisdn, -1, 0))
        return transfers, telecom, reports, seq

    def _emit(self, ts: int, payload: tuple[int, ...], seq: int) -> TransferRow:
        src, dst, amount, channel, device, msisdn, case_no, hop = payload
        if case_no >= 0:
            case = self.cases[case_no]
            tid = transfer_id(seq, self.pop.salt)
            case.chain.append(
                {
                    "hop": hop,
                    "transfer_id": tid,
                    "src_bank": self.pop.bank_str[src],
                    "src_account": self.pop.acct_str[src],
                    "dst_bank": self.pop.bank_str[dst],
                    "dst_account": self.pop.acct_str[dst],
                    "amount_satang": amount,
                    "ts_ms": ts,
                }
            )
            if src == case.plan.victim:
                case.victim_ids.append(tid)
                case.loss += amount
                case.first_ts = ts if case.first_ts is None else case.first_ts
            if self.pop.ring[dst] >= 0:  # a mule: hold the money, forward it later
                if dst not in case.hop:
                    case.hop[dst] = hop
                    case.by_hop[hop].append(dst)
                key = (case_no, dst)
                if key not in self.pending:
                    self._push(ts + forward_delay_ms(self.r, self.cfg), _FORWARD, key)
                self.pending[key] += amount
        return (ts, src, dst, amount, channel, device, msisdn, seq)

    def _forward(self, ts: int, case_no: int, mule: int) -> None:
        amount = self.pending.pop((case_no, mule))
        case = self.cases[case_no]
        ring = self.pop.rings[case.plan.ring]
        hop = case.hop[mule]
        cut = 0 if self.pop.kind[mule] == HERDER_MULE else int(amount * ring.cut_share)
        out = amount - cut
        if out < 10_000:
            return
        if hop >= case.plan.depth:
            self._cash_out(ts, case_no, mule, out, hop)
            return
        t = ts
        for part in fan_out(self.r, self.cfg, out):
            nxt = self._next_mule(case, hop + 1, t)
            if nxt is None:
                self._cash_out(t, case_no, mule, part, hop)
            else:
                channel = self.r.choice((CH_MOBILE, CH_PROMPTPAY))
                self._push(t, _EMIT, (mule, nxt, part, channel, OWN, OWN, case_no, hop + 1))
            t += int(self.r.uniform(*self.cfg.split_gap_s) * 1000)

    def _cash_out(self, ts: int, case_no: int, mule: int, amount: int, hop: int) -> None:
        ring = self.pop.rings[self.cases[case_no].plan.ring]
        for t, dst, piece, channel, device, msisdn in cash_out(
            self.r, self.pop, ring, mule, amount, ts
        ):
            self._push(t, _EMIT, (mule, dst, piece, channel, device, msisdn, case_no, hop + 1))

    def _next_mule(self, case: _Case, level: int, ts: int) -> int | None:
        """Fan-in to a mule already at this hop sometimes; else a fresh, ready ring mule."""
        pop = self.pop
        existing = case.by_hop.get(level, [])
        if existing and self.r.random() < self.cfg.fan_in_merge_p:
            return self.r.choice(existing)
        fresh = [
            a
            for a in pop.rings[case.plan.ring].members.tolist()
            if a not in case.hop
            and pop.kind[a] != SCAM_COLLECTOR
            and pop.mule_since[a] <= ts - MINUTE_MS
            and pop.opened_ts[a] < ts
        ]
        if fresh:
            chosen = least_used(self.r, fresh, self.load)
            # taken at this hop now, not when its credit is emitted (minutes later): another
            # forward meanwhile must not take it "fresh" at another hop
            case.hop[chosen] = level
            case.by_hop[level].append(chosen)
            return chosen
        return self.r.choice(existing) if existing else None

    def _report(self, ts: int, case_no: int, out: list[tuple[int, str, dict[str, Any]]]) -> None:
        case = self.cases[case_no]
        if not case.victim_ids or case.plan.report is None:
            return
        _, channel, police = case.plan.report
        rid = report_id(self.report_seq, self.pop.salt)
        self.report_seq += 1
        victim = case.plan.victim
        bank, account = self.pop.bank_str[victim], self.pop.acct_str[victim]
        value: dict[str, Any] = {
            "report_id": rid,
            "ts": ts,
            "victim_bank": bank,
            "victim_account": account,
            "transfer_ids": list(case.victim_ids[:100]),
            "channel": channel,
        }
        if police is not None:
            value["police_complaint_ref"] = police
        out.append((ts, f"{bank}:{account}", value))
        case.report = {"report_id": rid, "ts_ms": ts, "channel": channel}
        if case.plan.sim >= 0 and self.r.random() < self.cfg.scam_number_report_share:
            phone = int(self.pop.p_msisdn[self.pop.person[victim]])
            delay = int(self.r.uniform(1, 60) * MINUTE_MS)
            self._push(
                ts + delay,
                _TELECOM,
                (ts + delay, K_SCAM_REPORT, case.plan.sim, phone, NONE, NONE, NONE),
            )

    def ground_truth(self) -> list[dict[str, Any]]:
        """One dict per case that moved money inside the world (see docs/simulator.md)."""
        out = []
        pop = self.pop
        for case in self.cases:
            if not case.victim_ids:
                continue
            plan = case.plan
            sim = plan.sim
            out.append(
                {
                    "case_id": f"case-{plan.case_no:06d}",
                    "scam_type": plan.scam_type,
                    "victim": {
                        "bank": pop.bank_str[plan.victim],
                        "account": pop.acct_str[plan.victim],
                    },
                    "victim_transfer_ids": list(case.victim_ids),
                    "loss_satang": case.loss,
                    "first_ts_ms": case.first_ts,
                    "report": case.report,
                    "chain": case.chain,
                    "mules": [f"{pop.bank_str[a]}:{pop.acct_str[a]}" for a in case.hop],
                    "depth": plan.depth,
                    "ring": plan.ring,
                    "scam_msisdns": []
                    if sim < 0
                    else ["0" + str(int(phone_numbers(np.array([sim]), pop.salt)[0]))],
                }
            )
        return out
