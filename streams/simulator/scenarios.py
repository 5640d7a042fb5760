"""One function per behaviour of the brief: the scam patterns here, the honest ones re-exported.

Scam patterns take a ``random.Random`` and return plans or rows for ``layering``, which runs
them in event time; only the SIM-farm dialling is vectorised per day. The legitimate patterns
live in ``legit`` (numpy, per day) and are re-exported so this module indexes every pattern.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from streams.simulator.calibration import DAY_MS, HOUR_MS, LOCAL_OFFSET_MS, MINUTE_MS, WorldConfig
from streams.simulator.columns import (
    CH_ATM,
    CH_COUNTER,
    CH_MOBILE,
    CH_PROMPTPAY,
    K_CALL,
    K_SIM_REGISTER,
    K_SIM_SWAP,
    K_SMS,
    NONE,
    OWN,
    TelecomCols,
    concat_telecom,
)
from streams.simulator.legit import (
    Day,
    big_credits,
    bill_payments,
    business_call_centres,
    cash_withdrawals,
    contact_calls,
    crypto_and_gold_buys,
    day_window,
    group_collections,
    large_first_time_purchases,
    merchant_purchases,
    merchant_settlements,
    p2p_among_contacts,
    payroll_runs,
    rent_collection,
    reseller_orders,
    sim_lifecycle,
)
from streams.simulator.population import (
    DORMANT_MULE,
    SCAM_COLLECTOR,
    Population,
    Ring,
)

__all__ = [
    # legitimate (legit.py)
    "p2p_among_contacts",
    "merchant_purchases",
    "bill_payments",
    "large_first_time_purchases",
    "cash_withdrawals",
    "crypto_and_gold_buys",
    "payroll_runs",
    "rent_collection",
    "group_collections",
    "merchant_settlements",
    "big_credits",
    "reseller_orders",
    "contact_calls",
    "business_call_centres",
    "sim_lifecycle",
    # scams
    "scam_sim_dialling",
    "call_centre_case",
    "repeated_payment_case",
    "victim_report",
    "forward_delay_ms",
    "fan_out",
    "cash_out",
    "herd_activation",
    "dormant_wake_swap",
    "pick_first_hop",
    "Day",
    "day_window",
    "CasePlan",
    "ScamSims",
]


# --- scams: SIM farms -----------------------------------------------------------------------


@dataclass(slots=True)
class ScamSims:
    """Scam SIMs in farms: each makes >100 calls/day from a SIM box (one IMEI, one cell)."""

    msisdn: np.ndarray
    box_device: np.ndarray  # device index of the SIM box (its IMEI)
    cell: np.ndarray
    active_from: np.ndarray
    active_to: np.ndarray
    registered: np.ndarray
    calls_per_day: np.ndarray


def scam_sim_dialling(
    pop: Population, sims: ScamSims, day: Day, rng: np.random.Generator
) -> TelecomCols:
    """Mass dialling from every SIM alive today (most calls unanswered), plus SIM registrations."""
    cfg = pop.cfg
    lo = np.maximum(sims.active_from, day.t0)
    hi = np.minimum(sims.active_to, day.t1)
    alive = np.flatnonzero(hi > lo)
    # dialling follows the scammers' working hours (cfg.scam_diurnal): calls drawn uniformly
    # and thinned by the hour's weight, the draw scaled so a whole day keeps calls_per_day
    weights = np.asarray(cfg.scam_diurnal, dtype=np.float64) / max(cfg.scam_diurnal)
    counts = rng.poisson(sims.calls_per_day[alive] * (hi[alive] - lo[alive]) / DAY_MS / weights.mean())
    which = np.repeat(alive, counts)
    ts = lo[which] + (rng.random(len(which)) * (hi[which] - lo[which])).astype(np.int64)
    kept = rng.random(len(ts)) < weights[(ts + LOCAL_OFFSET_MS) // HOUR_MS % 24]
    which, ts = which[kept], ts[kept]
    answered = rng.random(len(which)) < cfg.scam_call_answered_share
    duration = np.where(
        answered, rng.lognormal(math.log(40), 0.9, len(which)), rng.integers(0, 15, len(which))
    )
    calls = TelecomCols.make(
        ts,
        K_CALL,
        sims.msisdn[which],
        pop.p_msisdn[rng.integers(0, pop.n_persons, len(which))],
        np.minimum(duration, 86_400).astype(np.int32),
        sims.cell[which],
        sims.box_device[which],
    )
    new = np.flatnonzero((sims.registered >= day.t0) & (sims.registered < day.t1))
    regs = TelecomCols.make(
        sims.registered[new],
        K_SIM_REGISTER,
        sims.msisdn[new],
        cell=sims.cell[new],
        imei=sims.box_device[new],
    )
    return concat_telecom([calls, regs])


# --- scams: victims -------------------------------------------------------------------------


@dataclass(slots=True)
class CasePlan:
    """What the gang gets the victim to do; ``layering`` then moves the money on."""

    case_no: int
    scam_type: str
    victim: int
    ring: int
    depth: int
    payments: list[tuple[int, int, int, int]]  # (ts, first-hop account, satang, channel)
    telecom: list[tuple[int, int, int, int, int, int, int]] = field(default_factory=list)
    report: tuple[int, str, str | None] | None = None  # (ts, channel, police ref)
    sim: int = -1  # msisdn index of the scam number, -1 if none


def _weighted(r: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    return r.choices([k for k, _ in pairs], weights=[w for _, w in pairs])[0]


def _draw_index(r: random.Random, probs: tuple[float, ...]) -> int:
    return r.choices(range(len(probs)), weights=probs)[0]


def case_loss_satang(r: random.Random, cfg: WorldConfig, scam_type: str) -> int:
    """Total loss of one case: lognormal per type (brief: mean ~114,000 THB), capped."""
    median, sigma = next((m, s) for t, m, s in cfg.loss_thb if t == scam_type)
    thb = min(cfg.max_loss_thb, max(500.0, r.lognormvariate(math.log(median), sigma)))
    return int(round(thb)) * 100


def split_amount(
    r: random.Random, total: int, parts: int, weights: list[float] | None = None
) -> list[int]:
    """Split satang into ``parts`` positive pieces, round pieces the way people type them.

    Examples:
        >>> pieces = split_amount(random.Random(1), 1_234_567, 3)
        >>> sum(pieces), len(pieces), min(pieces) > 0
        (1234567, 3, True)
    """
    parts = max(1, min(parts, total // 100))
    w = weights or [r.gammavariate(2.0, 1.0) for _ in range(parts)]
    out: list[int] = []
    left = total
    for i in range(parts - 1):
        piece = int(total * w[i] / sum(w))
        unit = 10_000 if piece > 1_000_000 else 100
        piece = max(unit, piece // unit * unit)
        piece = min(piece, left - 100 * (parts - 1 - i))
        out.append(piece)
        left -= piece
    out.append(left)
    return out


def least_used(r: random.Random, candidates: list[int], load: dict[int, int]) -> int:
    """A random candidate among those that carried the fewest cases so far.

    Gangs rotate accounts: a mule is used for a case or two, then dropped before it draws
    attention (brief: 582,548 mules for ~887,000 cases). Without rotation a few mules would
    carry every case and move sums no honest account does.
    """
    low = min(load.get(a, 0) for a in candidates)
    chosen = r.choice([a for a in candidates if load.get(a, 0) == low])
    load[chosen] = low + 1
    return chosen


def pick_first_hop(
    r: random.Random, cfg: WorldConfig, pop: Population, ring: Ring, ts: int, load: dict[int, int]
) -> int:
    """The "safe account": mostly a rented collector account, otherwise any ready ring mule."""
    ready = [
        a
        for a in ring.members.tolist()
        if pop.mule_since[a] <= ts - MINUTE_MS and pop.opened_ts[a] < ts
    ]
    collectors = [a for a in ready if pop.kind[a] == SCAM_COLLECTOR]
    if collectors and (r.random() < cfg.first_hop_collector_share or len(ready) == len(collectors)):
        return least_used(r, collectors, load)
    others = [a for a in ready if pop.kind[a] != SCAM_COLLECTOR]
    return least_used(r, others or ready or ring.members.tolist(), load)


def call_centre_case(
    r: random.Random,
    pop: Population,
    case_no: int,
    t0: int,
    victim: int,
    ring_no: int,
    sim: int,
    sims: ScamSims,
    sim_row: int,
    load: dict[int, int],
) -> CasePlan:
    """Impersonation call from a farm SIM, then within minutes one or a burst of transfers."""
    cfg = pop.cfg
    ring = pop.rings[ring_no]
    n = _draw_index(r, cfg.call_centre_burst_p) + 1
    first = t0 + int(r.uniform(*cfg.call_to_first_transfer_min) * MINUTE_MS)
    times = [first]
    for _ in range(n - 1):
        times.append(
            min(
                first + cfg.call_centre_burst_max_ms,
                times[-1] + int(r.lognormvariate(math.log(8), 0.7) * MINUTE_MS),
            )
        )
    amounts = split_amount(r, case_loss_satang(r, cfg, "call_centre"), n)
    dst = pick_first_hop(r, cfg, pop, ring, t0, load)
    second = pick_first_hop(r, cfg, pop, ring, t0, load)
    payments = []
    if r.random() < cfg.victim_test_transfer_share:
        payments.append(
            (first - int(r.uniform(1, 3) * MINUTE_MS), dst, r.randint(1, 10) * 100, CH_MOBILE)
        )
    for ts, amount in zip(times, amounts, strict=True):
        payments.append((ts, dst if r.random() < 0.7 else second, amount, CH_MOBILE))
    duration_s = min(86_400, (times[-1] - t0) // 1000 + r.randint(60, 600))
    victim_phone = int(pop.p_msisdn[pop.person[victim]])
    call = (
        t0,
        K_CALL,
        sim,
        victim_phone,
        duration_s,
        int(sims.cell[sim_row]),
        int(sims.box_device[sim_row]),
    )
    return CasePlan(
        case_no,
        "call_centre",
        victim,
        ring_no,
        _draw_index(r, cfg.hop_depth_p) + 1,
        payments,
        [call],
        sim=sim,
    )


def repeated_payment_case(
    r: random.Random,
    pop: Population,
    case_no: int,
    scam_type: str,
    t0: int,
    victim: int,
    ring_no: int,
    sim: int,
    sims: ScamSims,
    sim_row: int,
    load: dict[int, int],
) -> CasePlan:
    """Investment, romance or loan-fee scam: repeated payments over hours to weeks."""
    cfg = pop.cfg
    ring = pop.rings[ring_no]
    lo, hi, gap_h = next((a, b, g) for t, a, b, g in cfg.repeat_payments if t == scam_type)
    n = r.randint(lo, hi)
    times = [t0]
    for _ in range(n - 1):
        times.append(times[-1] + int(r.lognormvariate(math.log(gap_h), 0.8) * HOUR_MS))
    weights = (
        [(i + 1) ** 1.3 for i in range(n)]
        if scam_type == "investment"
        else [r.uniform(0.8, 1.2) for _ in range(n)]
        if scam_type == "loan_fee"
        else None
    )
    amounts = split_amount(r, case_loss_satang(r, cfg, scam_type), n, weights)
    dst = pick_first_hop(r, cfg, pop, ring, t0, load)
    payments = []
    for ts, amount in zip(times, amounts, strict=True):
        if r.random() < 0.5:
            dst = pick_first_hop(r, cfg, pop, ring, ts, load)
        payments.append((ts, dst, amount, r.choice((CH_MOBILE, CH_PROMPTPAY))))
    telecom: list[tuple[int, int, int, int, int, int, int]] = []
    if sim >= 0:  # loan-fee lure: SMS then a call from a farm SIM
        phone = int(pop.p_msisdn[pop.person[victim]])
        cell, box = int(sims.cell[sim_row]), int(sims.box_device[sim_row])
        sms_ts = t0 - int(r.uniform(0.5, 6.0) * HOUR_MS)
        call_ts = t0 - int(r.uniform(5, 60) * MINUTE_MS)
        for ts, kind, dur in ((sms_ts, K_SMS, NONE), (call_ts, K_CALL, r.randint(120, 600))):
            if ts >= cfg.start_ts_ms:
                telecom.append((ts, kind, sim, phone, dur, cell, box))
    return CasePlan(
        case_no,
        scam_type,
        victim,
        ring_no,
        _draw_index(r, cfg.hop_depth_p) + 1,
        payments,
        telecom,
        sim=sim,
    )


def victim_report(
    r: random.Random, cfg: WorldConfig, scam_type: str, last_ts: int
) -> tuple[int, str, str | None] | None:
    """When (if ever) the victim reports: brief "usually 15-30 minutes after hanging up"."""
    if r.random() < cfg.report_never_share:
        return None
    bands = cfg.report_delay_call_centre if scam_type == "call_centre" else cfg.report_delay_other
    _, lo, hi = bands[_draw_index(r, tuple(b[0] for b in bands))]
    minutes = math.exp(r.uniform(math.log(lo), math.log(hi)))
    police = (
        f"PCR-{r.randint(10**7, 10**8 - 1)}" if r.random() < cfg.police_complaint_share else None
    )
    return last_ts + int(minutes * MINUTE_MS), _weighted(r, cfg.report_channel_mix), police


# --- scams: layering and cash-out -----------------------------------------------------------


def forward_delay_ms(r: random.Random, cfg: WorldConfig) -> int:
    """How long a mule sits on money: seconds if scripted, else minutes to hours (brief).

    Examples:
        >>> r, cfg = random.Random(3), WorldConfig()
        >>> all(1_000 <= forward_delay_ms(r, cfg) <= cfg.forward_delay_max_ms for _ in range(1000))
        True
    """
    if r.random() < cfg.forward_scripted_share:
        ms = r.uniform(*cfg.forward_scripted_s) * 1000
    else:
        median, sigma = cfg.forward_delay_min
        ms = r.lognormvariate(math.log(median), sigma) * MINUTE_MS
    return int(min(cfg.forward_delay_max_ms, max(1_000.0, ms)))


def fan_out(r: random.Random, cfg: WorldConfig, amount: int) -> list[int]:
    """Split a mule's outflow across 1-5 next mules (fewer when the sum is small)."""
    k = _draw_index(r, cfg.fan_out_p) + 1
    k = max(1, min(k, amount // 100_000))  # no part below ~1,000 THB
    return split_amount(r, amount, k)


def next_counter_open(r: random.Random, cfg: WorldConfig, ts: int) -> int:
    """``ts`` if a branch is open then, else a little after the next opening (local hours).

    Examples:
        >>> cfg = WorldConfig()
        >>> ten_local = cfg.start_ts_ms + 3 * 3_600_000  # 10:00 in Bangkok
        >>> next_counter_open(random.Random(1), cfg, ten_local) == ten_local
        True
    """
    lo, hi = cfg.counter_hours_local
    local = (ts + LOCAL_OFFSET_MS) % DAY_MS
    if lo * HOUR_MS <= local < hi * HOUR_MS - 10 * MINUTE_MS:
        return ts
    wait = (lo * HOUR_MS - local) % DAY_MS
    return ts + int(wait) + int(r.uniform(5, 120) * MINUTE_MS)


def cash_out(
    r: random.Random, pop: Population, ring: Ring, mule: int, amount: int, ts: int
) -> list[tuple[int, int, int, int, int, int]]:
    """The last mule empties the money: ATM bursts, a counter withdrawal, crypto or a gold shop.

    Returns rows ``(ts, dst, satang, channel, device, msisdn)``; ATM and counter cash come in
    THB hundreds, so up to 99 THB stays behind.
    """
    cfg = pop.cfg
    method = r.choices(range(4), weights=ring.cashout_p.tolist())[0]
    if method == 0 and amount > 30 * cfg.atm_max_thb * 100:
        method = 2  # too much for ATMs: a gang moves big sums through an exchange
    bank = int(pop.bank[mule])
    rows: list[tuple[int, int, int, int, int, int]] = []
    if method == 0:
        left, t = amount // 10_000 * 10_000, ts
        while left >= 10_000:
            chunk = min(left, r.randint(20, cfg.atm_max_thb // 100) * 10_000)
            rows.append((t, int(pop.cash_atm[bank]), chunk, CH_ATM, NONE, NONE))
            left -= chunk
            t += int(r.uniform(*cfg.atm_gap_s) * 1000)
    elif method == 1:
        cash = amount // 10_000 * 10_000
        if cash:
            rows.append(
                (
                    next_counter_open(r, cfg, ts),
                    int(pop.cash_counter[bank]),
                    cash,
                    CH_COUNTER,
                    NONE,
                    NONE,
                )
            )
    else:
        sinks = pop.exchanges if method == 2 else pop.shops
        dst = int(sinks[r.randrange(len(sinks))])
        t = ts
        for piece in split_amount(r, amount, r.randint(1, 3) if method == 2 else r.randint(1, 2)):
            rows.append((t, dst, piece, CH_MOBILE if method == 2 else CH_PROMPTPAY, OWN, OWN))
            t += int(r.uniform(*cfg.split_gap_s) * 1000)
    return rows


def herd_activation(
    r: random.Random, pop: Population, ring: Ring, mule: int, ts: int
) -> list[tuple[int, int, int, int, int, int, int]]:
    """A new mule is tested with 1-10 THB from a ring account (and often sends it back).

    Returns rows ``(ts, src, dst, satang, channel, device, msisdn)``.
    """
    cfg = pop.cfg
    ready = [
        a
        for a in ring.members.tolist()
        if a != mule and pop.mule_since[a] < ts and pop.opened_ts[a] < ts
    ]
    if not ready or r.random() >= cfg.herd_test_share:
        return []
    ctrl = r.choice(ready)
    amount = r.randint(*cfg.test_transfer_thb) * 100
    rows = [(ts, ctrl, mule, amount, CH_MOBILE, OWN, OWN)]
    if r.random() < cfg.test_transfer_back_share:
        rows.append(
            (ts + int(r.uniform(1, 10) * MINUTE_MS), mule, ctrl, amount, CH_MOBILE, OWN, OWN)
        )
    return rows


def dormant_wake_swap(
    r: random.Random, pop: Population, mule: int
) -> tuple[int, int, int, int, int, int, int] | None:
    """A sold dormant account that keeps its number: the gang SIM-swaps it before waking it.

    Brief mule signal: "SIM swap". Returns a telecom row ``(ts, kind, a, b, duration, cell,
    imei)`` on the new handset, or None when the account moves to a ring phone instead.
    """
    if pop.kind[mule] != DORMANT_MULE or pop.msisdn_new[mule] != pop.msisdn_old[mule]:
        return None
    ts = int(pop.mule_since[mule]) - int(r.uniform(10, 360) * MINUTE_MS)
    if ts < pop.cfg.start_ts_ms:
        return None
    person = int(pop.person[mule])
    return (
        ts,
        K_SIM_SWAP,
        int(pop.msisdn_old[mule]),
        NONE,
        NONE,
        int(pop.p_cell[person]),
        int(pop.dev_new[mule]),
    )
