"""Legitimate behaviour, per day and vectorised: the honest traffic that hides the mules.

Each function draws one pattern for one day window as numpy columns. They are deliberately
rich in the hard negatives the brief names (merchant fan-in, payroll fan-out, rent and group
pass-through, shared family devices, large first-time payees, busy business call centres),
so that no single mule rule separates honest accounts from mules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from streams.simulator.calibration import DAY_MS, HOUR_MS, LOCAL_OFFSET_MS, MINUTE_MS, WorldConfig
from streams.simulator.columns import (
    CH_ATM,
    CH_COUNTER,
    CH_INTERNET,
    CH_MOBILE,
    CH_OTHER,
    CH_PROMPTPAY,
    K_CALL,
    K_SCAM_REPORT,
    K_SIM_REGISTER,
    K_SIM_SWAP,
    K_SMS,
    NONE,
    OWN,
    TelecomCols,
    TransferCols,
    concat_telecom,
    concat_transfers,
)
from streams.simulator.population import (
    Population,
)

NEW_LINE_MSISDN_BASE = 90_000_000  # fresh legit SIMs: a reserved index range, no shared counter
_BUSINESS_HOURS = [0.0] * 8 + [1.0] * 12 + [0.0] * 4  # call centres dial 08:00-20:00


@dataclass(frozen=True, slots=True)
class Day:
    """One generation window: ``[t0, t1)``, at most 24 h, with its weekday flag."""

    index: int
    t0: int
    t1: int
    weekend: bool


def day_window(cfg: WorldConfig, index: int) -> Day:
    """The ``index``-th day of the world, clipped to its end.

    Examples:
        >>> d = day_window(WorldConfig(days=1.5), 1)
        >>> (d.t1 - d.t0) // 3_600_000, d.weekend
        (12, False)
    """
    t0 = cfg.start_ts_ms + index * DAY_MS
    t1 = min(t0 + DAY_MS, cfg.end_ts_ms)
    weekday = ((t0 + DAY_MS // 2 + LOCAL_OFFSET_MS) // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday
    return Day(index, t0, t1, weekday >= 5)


# --- small vectorised helpers -------------------------------------------------------------------


def times_by_hour(
    rng: np.random.Generator, n: int, day: Day, weights: tuple[float, ...] | list[float]
) -> np.ndarray:
    """Event times in the day window, drawn by local (Bangkok) hour weights."""
    w = np.asarray(weights, dtype=np.float64)
    hours = rng.choice(24, size=n, p=w / w.sum())
    local0 = (day.t0 + LOCAL_OFFSET_MS) % DAY_MS
    rel = ((hours * HOUR_MS - local0) % DAY_MS + rng.integers(0, HOUR_MS, size=n)) % DAY_MS
    return day.t0 + rel


def times_local(rng: np.random.Generator, n: int, day: Day, lo_h: float, hi_h: float) -> np.ndarray:
    """Uniform times between local hours ``lo_h`` and ``hi_h`` (hi may pass midnight)."""
    local0 = (day.t0 + LOCAL_OFFSET_MS) % DAY_MS
    local = rng.uniform(lo_h, hi_h, size=n) * HOUR_MS
    return day.t0 + ((local.astype(np.int64) - local0) % DAY_MS)


def thb_amounts(
    rng: np.random.Generator, median_sigma: tuple[float, float], n: int, round_share: float = 0.5
) -> np.ndarray:
    """Lognormal THB amounts as satang; people type round numbers, so some round to 10/100."""
    median, sigma = median_sigma
    thb = np.clip(rng.lognormal(math.log(median), sigma, size=n), 1.0, 2_000_000.0)
    whole = np.maximum(1.0, np.rint(thb))
    tens = np.where(whole > 100, np.rint(whole / 10) * 10, whole)
    hundreds = np.where(whole > 1_000, np.rint(whole / 100) * 100, tens)
    u = rng.random(n)
    out = np.where(u < round_share / 2, hundreds, np.where(u < round_share, tens, whole))
    return (out * 100).astype(np.int64)


def _senders(
    rng: np.random.Generator, pop: Population, rate: float, eligible: np.ndarray
) -> np.ndarray:
    counts = rng.poisson(rate * pop.activity[eligible])
    return np.repeat(eligible, counts)


def _pick(
    rng: np.random.Generator, options: tuple[int, ...], probs: tuple[float, ...], n: int
) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    return np.asarray(options, dtype=np.int8)[rng.choice(len(options), size=n, p=p / p.sum())]


# --- legitimate transfers -----------------------------------------------------------------------


def p2p_among_contacts(
    pop: Population, day: Day, rng: np.random.Generator, senders: np.ndarray
) -> TransferCols:
    """Small, heavy-tailed P2P among stable contacts; a few go to first-time payees."""
    cfg = pop.cfg
    src = _senders(rng, pop, cfg.p2p_per_day, senders)
    k = pop.contacts.shape[1]
    slot_p = 1.0 / np.arange(1, k + 1)
    dst = pop.contacts[src, rng.choice(k, size=len(src), p=slot_p / slot_p.sum())]
    first = rng.random(len(src)) < cfg.first_time_payee_share
    dst[first] = rng.choice(pop.people, size=int(first.sum()))
    channel = _pick(rng, (CH_PROMPTPAY, CH_MOBILE, CH_INTERNET), (0.55, 0.37, 0.08), len(src))
    device = np.where(channel == CH_INTERNET, NONE, OWN)
    return TransferCols.make(
        times_by_hour(rng, len(src), day, cfg.diurnal),
        src,
        dst,
        thb_amounts(rng, cfg.p2p_amount_thb, len(src)),
        channel,
        device,
    )


def merchant_purchases(
    pop: Population, day: Day, rng: np.random.Generator, senders: np.ndarray
) -> TransferCols:
    """QR payments to shops by Zipf popularity: big shops get fan-in from many first-time payers."""
    cfg = pop.cfg
    factor = cfg.weekend_factor if day.weekend else 1.0
    src = _senders(rng, pop, cfg.purchase_per_day * factor, senders)
    dst = rng.choice(pop.merchants, size=len(src), p=pop.merchant_p)
    channel = _pick(rng, (CH_PROMPTPAY, CH_MOBILE), (0.7, 0.3), len(src))
    return TransferCols.make(
        times_by_hour(rng, len(src), day, cfg.diurnal),
        src,
        dst,
        thb_amounts(rng, cfg.purchase_amount_thb, len(src), 0.2),
        channel,
    )


def bill_payments(
    pop: Population, day: Day, rng: np.random.Generator, senders: np.ndarray
) -> TransferCols:
    """Utility, phone and card bills to a handful of billers (the largest fan-in of all)."""
    cfg = pop.cfg
    src = _senders(rng, pop, cfg.bill_per_day, senders)
    dst = rng.choice(pop.billers, size=len(src))
    channel = _pick(rng, (CH_MOBILE, CH_INTERNET, CH_PROMPTPAY), (0.6, 0.2, 0.2), len(src))
    device = np.where(channel == CH_INTERNET, NONE, OWN)
    return TransferCols.make(
        times_by_hour(rng, len(src), day, cfg.diurnal),
        src,
        dst,
        thb_amounts(rng, cfg.bill_amount_thb, len(src), 0.0),
        channel,
        device,
    )


def large_first_time_purchases(
    pop: Population,
    day: Day,
    rng: np.random.Generator,
    senders: np.ndarray,
) -> tuple[TransferCols, TelecomCols]:
    """Occasional big payments to a never-paid shop or seller, sometimes right after a sales call.

    The victim-side signal ("call, then large transfer to a first-time payee") must also fire
    on honest people now and then, or a model learns it as a perfect rule.
    """
    cfg = pop.cfg
    src = _senders(rng, pop, cfg.large_purchase_per_day, senders)
    to_shop = rng.random(len(src)) < 0.6
    dst = np.where(
        to_shop, rng.choice(pop.merchants, size=len(src)), rng.choice(pop.people, size=len(src))
    )
    ts = times_by_hour(rng, len(src), day, cfg.diurnal)
    channel = _pick(rng, (CH_MOBILE, CH_INTERNET), (0.8, 0.2), len(src))
    transfers = TransferCols.make(
        ts,
        src,
        dst,
        thb_amounts(rng, cfg.large_purchase_amount_thb, len(src), 0.9),
        channel,
        np.where(channel == CH_INTERNET, NONE, OWN),
    )
    transfers = with_test_transfers(rng, transfers, cfg.honest_test_transfer_share)
    called = np.flatnonzero(rng.random(len(src)) < cfg.sales_call_before_large_purchase)
    call_ts = ts[called] - rng.integers(5 * MINUTE_MS, 40 * MINUTE_MS, size=len(called))
    keep = call_ts >= day.t0
    called, call_ts = called[keep], call_ts[keep]
    calls = TelecomCols.make(
        call_ts,
        K_CALL,
        rng.choice(pop.call_centres, size=len(called)),
        pop.p_msisdn[pop.person[src[called]]],
        rng.lognormal(math.log(240), 0.6, len(called)).astype(np.int32),
    )
    return transfers, calls


def with_test_transfers(rng: np.random.Generator, t: TransferCols, share: float) -> TransferCols:
    """Add a 1-10 THB check a few minutes before some big payments to a first-time payee.

    Brief mule signal "small test transfers": honest people do it too, before paying a
    stranger a large sum, so a test credit alone cannot mark a mule.
    """
    picked = np.flatnonzero((t.amount >= 500_000) & (rng.random(len(t)) < share))
    tests = TransferCols.make(
        t.ts[picked] - rng.integers(MINUTE_MS, 15 * MINUTE_MS, size=len(picked)),
        t.src[picked],
        t.dst[picked],
        rng.integers(1, 11, size=len(picked)) * 100,
        t.channel[picked],
        t.device[picked],
        t.msisdn[picked],
    )
    return concat_transfers([t, tests])


def big_credits(
    pop: Population, day: Day, rng: np.random.Generator, senders: np.ndarray
) -> TransferCols:
    """Large honest credits (car sale, family support) that the receiver often pays on at once.

    Brief hard negatives: "people who legitimately pass money on" and "occasional large
    purchases to first-time payees": a big credit followed within hours by a debit of >=80%
    of it is exactly the pass-through rule, done by an ordinary person.
    """
    cfg = pop.cfg
    src = _senders(rng, pop, cfg.big_credit_per_day, senders)
    k = pop.contacts.shape[1]
    dst = pop.contacts[src, rng.integers(0, k, size=len(src))]
    stranger = rng.random(len(src)) < 0.3  # a buyer paying a seller
    dst[stranger] = rng.choice(pop.people, size=int(stranger.sum()))
    ts = times_local(rng, len(src), day, 8.0, 20.0)
    amount = thb_amounts(rng, cfg.big_credit_amount_thb, len(src), 0.9)
    credits = TransferCols.make(
        ts, src, dst, amount, _pick(rng, (CH_MOBILE, CH_INTERNET), (0.8, 0.2), len(src))
    )
    on = np.flatnonzero(rng.random(len(src)) < cfg.big_credit_passed_on)
    median, sigma = cfg.big_credit_pass_delay_min
    delay = (rng.lognormal(math.log(median), sigma, len(on)) * MINUTE_MS).astype(np.int64)
    out_thb = amount[on] * rng.uniform(0.8, 1.0, len(on)) // 10_000  # whole hundreds of THB
    # Paid on to 1-3 payees (a dealer, a hospital, relatives), or drawn as cash at ATMs in
    # <=20,000 THB pieces, like a mule's cash-out.
    cash = (rng.random(len(on)) < cfg.big_credit_cash_share) & (out_thb <= 1_000)
    parts = np.where(cash, np.ceil(out_thb / 200), rng.integers(1, 4, len(on))).astype(np.int64)
    parts = np.maximum(1, np.minimum(parts, out_thb.astype(np.int64)))
    row = np.repeat(np.arange(len(on)), parts)
    piece = np.repeat(out_thb.astype(np.int64) // parts, parts) * 10_000
    gap = (np.arange(len(row)) - np.repeat(np.cumsum(parts) - parts, parts)) * rng.integers(
        60_000, 400_000, size=len(row)
    )
    is_cash = cash[row]
    payee = np.where(
        rng.random(len(row)) < 0.6,
        rng.choice(pop.merchants, size=len(row)),
        rng.choice(pop.people, size=len(row)),
    )
    passed = TransferCols.make(
        ts[on][row] + np.maximum(delay, 30_000)[row] + gap,
        dst[on][row],
        np.where(is_cash, pop.cash_atm[pop.bank[dst[on][row]]], payee),
        piece,
        np.where(is_cash, CH_ATM, _pick(rng, (CH_MOBILE, CH_PROMPTPAY), (0.7, 0.3), len(row))),
        np.where(is_cash, NONE, OWN),
        np.where(is_cash, NONE, OWN),
    )
    return concat_transfers([credits, with_test_transfers(rng, passed, cfg.honest_test_transfer_share)])


def small_credits(pop: Population, day: Day, rng: np.random.Generator) -> TransferCols:
    """1-9 THB credits (cashback, refunds, a friend checking the account) to ordinary people."""
    dst = _senders(rng, pop, pop.cfg.small_credit_per_day, pop.people)
    from_shop = rng.random(len(dst)) < 0.6
    src = np.where(
        from_shop, rng.choice(pop.billers, size=len(dst)), rng.choice(pop.people, size=len(dst))
    )
    return TransferCols.make(
        times_by_hour(rng, len(dst), day, pop.cfg.diurnal),
        src,
        dst,
        rng.integers(1, 10, size=len(dst)) * 100,
        np.where(from_shop, CH_OTHER, CH_PROMPTPAY),
        np.where(from_shop, NONE, OWN),
        np.where(from_shop, NONE, OWN),
    )


def reseller_orders(pop: Population, day: Day, rng: np.random.Generator) -> TransferCols:
    """Dropshippers: many first-time buyers pay, 80-95% goes on to a supplier within the hour.

    Fan-in from strangers, fast pass-through and many small debits: three mule rules at once
    on an honest account. Each reseller's habit (order by order or one evening batch, its
    margin) is fixed by its index so it is stable across days.
    """
    cfg = pop.cfg
    res = pop.resellers
    if not len(res):
        return TransferCols.empty()
    factor = cfg.weekend_factor if day.weekend else 1.0
    counts = rng.poisson(cfg.reseller_orders_per_day * factor * pop.activity[res])
    which = np.repeat(np.arange(len(res)), counts)
    ts = times_by_hour(rng, len(which), day, cfg.diurnal)
    amount = thb_amounts(rng, cfg.reseller_order_thb, len(which), 0.3)
    orders = TransferCols.make(
        ts,
        rng.choice(pop.people, size=len(which)),
        res[which],
        amount,
        _pick(rng, (CH_PROMPTPAY, CH_MOBILE), (0.7, 0.3), len(which)),
    )
    golden = (np.arange(len(res)) * 0.6180339887) % 1.0
    per_order = ((np.arange(len(res)) * 0.7548776662) % 1.0) < cfg.reseller_per_order_share
    lo, hi = cfg.reseller_forward_share
    margin = lo + (hi - lo) * golden
    median, sigma = cfg.reseller_delay_min
    one = np.flatnonzero(per_order[which])
    delay = (rng.lognormal(math.log(median), sigma, len(one)) * MINUTE_MS).astype(np.int64)
    supplier = pop.suppliers[which[one], rng.integers(0, 2, size=len(one))]
    singles = TransferCols.make(
        ts[one] + np.maximum(delay, 20_000),
        res[which[one]],
        supplier,
        np.maximum(100, (amount[one] * margin[which[one]]).astype(np.int64)),
        CH_MOBILE,
    )
    batch = np.flatnonzero(~per_order)
    total = np.bincount(which, weights=amount, minlength=len(res))[batch]
    batch = batch[total > 0]
    batched = TransferCols.make(
        times_local(rng, len(batch), day, 20.0, 23.5),
        res[batch],
        pop.suppliers[batch, 0],
        (np.bincount(which, weights=amount, minlength=len(res))[batch] * margin[batch]).astype(
            np.int64
        ),
        CH_INTERNET,
    )
    return concat_transfers([orders, singles, batched])


def cash_withdrawals(
    pop: Population, day: Day, rng: np.random.Generator, senders: np.ndarray
) -> TransferCols:
    """Honest ATM and counter withdrawals, so the cash channels are not mule-only."""
    cfg = pop.cfg
    atm_src = _senders(rng, pop, cfg.atm_per_day, senders)
    atm_amt = (
        np.clip(
            np.rint(
                rng.lognormal(math.log(cfg.atm_amount_thb[0]), cfg.atm_amount_thb[1], len(atm_src))
                / 100
            ),
            1,
            cfg.atm_max_thb // 100,
        )
        * 10_000
    )
    atm = TransferCols.make(
        times_by_hour(rng, len(atm_src), day, cfg.diurnal),
        atm_src,
        pop.cash_atm[pop.bank[atm_src]],
        atm_amt.astype(np.int64),
        CH_ATM,
        NONE,
        NONE,
    )
    ctr_src = _senders(rng, pop, cfg.counter_per_day, senders)
    ctr_amt = (
        np.maximum(
            1,
            np.rint(
                rng.lognormal(
                    math.log(cfg.counter_amount_thb[0]), cfg.counter_amount_thb[1], len(ctr_src)
                )
                / 100
            ),
        )
        * 10_000
    )
    lo, hi = cfg.counter_hours_local
    ctr = TransferCols.make(
        times_local(rng, len(ctr_src), day, lo, hi),
        ctr_src,
        pop.cash_counter[pop.bank[ctr_src]],
        ctr_amt.astype(np.int64),
        CH_COUNTER,
        NONE,
        NONE,
    )
    return concat_transfers([atm, ctr])


def crypto_and_gold_buys(
    pop: Population, day: Day, rng: np.random.Generator, senders: np.ndarray
) -> TransferCols:
    """Honest buyers at the exchanges and gold shops that gangs also cash out through."""
    cfg = pop.cfg
    c_src = _senders(rng, pop, cfg.crypto_buy_per_day, senders)
    g_src = _senders(rng, pop, cfg.gold_buy_per_day, senders)
    src = np.concatenate([c_src, g_src])
    dst = np.concatenate(
        [rng.choice(pop.exchanges, size=len(c_src)), rng.choice(pop.shops, size=len(g_src))]
    )
    amount = np.concatenate(
        [
            thb_amounts(rng, cfg.crypto_buy_amount_thb, len(c_src)),
            thb_amounts(rng, cfg.gold_buy_amount_thb, len(g_src), 1.0),
        ]
    )
    return TransferCols.make(
        times_by_hour(rng, len(src), day, cfg.diurnal), src, dst, amount, CH_MOBILE
    )


def _due(groups_period: np.ndarray, groups_phase: np.ndarray, day_index: int) -> np.ndarray:
    return np.flatnonzero((day_index + groups_phase) % groups_period == 0)


def payroll_runs(pop: Population, day: Day, rng: np.random.Generator) -> TransferCols:
    """Employers are funded by a client the day before payday, then fan out salaries in a batch."""
    g = pop.payroll
    parts: list[TransferCols] = []
    for e in _due(g.period, g.phase, day.index).tolist():
        staff = g.members[g.ptr[e] : g.ptr[e + 1]]
        run = int(times_local(rng, 1, day, 9.0, 10.0)[0])
        ts = run + np.arange(len(staff)) * 1_000 + rng.integers(0, 1_000, size=len(staff))
        parts.append(
            TransferCols.make(
                ts,
                np.full(len(staff), g.owner[e]),
                staff,
                g.amount[g.ptr[e] : g.ptr[e + 1]],
                CH_OTHER,
                NONE,
                NONE,
            )
        )
    for e in _due(g.period, g.phase, day.index + 1).tolist():
        total = int(g.amount[g.ptr[e] : g.ptr[e + 1]].sum() * rng.uniform(1.0, 1.15))
        k = int(rng.integers(1, 3))
        split = np.full(k, total // k, dtype=np.int64)
        split[-1] += total - split.sum()
        parts.append(
            TransferCols.make(
                times_local(rng, k, day, 10.0, 16.0),
                np.full(k, g.other[e]),
                np.full(k, g.owner[e]),
                split,
                CH_INTERNET,
                NONE,
                NONE,
            )
        )
    return concat_transfers(parts)


def rent_collection(pop: Population, day: Day, rng: np.random.Generator) -> TransferCols:
    """Tenants pay a collector over two days; the collector passes 85-97% to the landlord."""
    g = pop.rent
    parts: list[TransferCols] = []
    for c in range(len(g.owner)):
        lo, hi = int(g.ptr[c]), int(g.ptr[c + 1])
        offsets = g.offset[lo:hi]
        paying = np.flatnonzero((day.index - offsets + g.phase[c]) % g.period[c] == 0)
        if len(paying):
            parts.append(
                TransferCols.make(
                    times_local(rng, len(paying), day, 8.0, 21.0),
                    g.members[lo:hi][paying],
                    np.full(len(paying), g.owner[c]),
                    g.amount[lo:hi][paying],
                    _pick(rng, (CH_PROMPTPAY, CH_MOBILE), (0.6, 0.4), len(paying)),
                )
            )
        if (day.index - 1 + g.phase[c]) % g.period[c] == 0:
            total = int(g.amount[lo:hi].sum() * g.share[c])
            parts.append(
                TransferCols.make(
                    times_local(rng, 1, day, 21.5, 23.5),
                    [g.owner[c]],
                    [g.other[c]],
                    [total],
                    CH_MOBILE,
                )
            )
    return concat_transfers(parts)


def group_collections(pop: Population, day: Day, rng: np.random.Generator) -> TransferCols:
    """An organiser collects shares from a group, then pays the trip/restaurant/chit-fund winner."""
    g = pop.groups
    parts: list[TransferCols] = []
    for o in _due(g.period, g.phase, day.index).tolist():
        lo, hi = int(g.ptr[o]), int(g.ptr[o + 1])
        paid = np.flatnonzero(rng.random(hi - lo) < pop.cfg.group_pay_probability)
        if not len(paid):
            continue
        members = g.members[lo:hi]
        parts.append(
            TransferCols.make(
                times_local(rng, len(paid), day, 9.0, 20.5),
                members[paid],
                np.full(len(paid), g.owner[o]),
                g.amount[lo:hi][paid],
                CH_PROMPTPAY,
            )
        )
        payee = g.other[o] if rng.random() < 0.7 else int(rng.choice(members))
        total = int(g.amount[lo:hi][paid].sum() * g.share[o])
        parts.append(
            TransferCols.make(
                times_local(rng, 1, day, 21.0, 23.5), [g.owner[o]], [payee], [total], CH_MOBILE
            )
        )
    return concat_transfers(parts)


def merchant_settlements(
    pop: Population, day: Day, rng: np.random.Generator, taken: TransferCols
) -> TransferCols:
    """Shops pass part of the day's takings to a supplier; resellers pass nearly all of it."""
    cfg = pop.cfg
    is_m = np.zeros(pop.n, dtype=bool)
    is_m[pop.merchants] = True
    inflow = np.bincount(
        taken.dst[is_m[taken.dst]], weights=taken.amount[is_m[taken.dst]], minlength=pop.n
    )
    payers = np.flatnonzero(inflow > 0)
    payers = payers[rng.random(len(payers)) < cfg.merchant_settle_probability]
    share = rng.uniform(*cfg.merchant_settle_share, size=len(payers))
    amount = np.maximum(100, (inflow[payers] * share).astype(np.int64) // 100 * 100)
    supplier = np.where(
        rng.random(len(payers)) < 0.5,
        rng.choice(pop.merchants, size=len(payers)),
        rng.choice(pop.people, size=len(payers)),
    )
    return TransferCols.make(
        times_local(rng, len(payers), day, 21.0, 23.9),
        payers,
        supplier,
        amount,
        _pick(rng, (CH_INTERNET, CH_MOBILE), (0.5, 0.5), len(payers)),
    )


# --- legitimate telecom ------------------------------------------------------------------------


def contact_calls(pop: Population, day: Day, rng: np.random.Generator) -> TelecomCols:
    """Calls and SMS among contacts, from home cells, on each person's own handset."""
    cfg = pop.cfg
    primary = pop.p_primary
    persons = np.flatnonzero(primary >= 0)
    out = []
    for kind, rate in ((K_CALL, cfg.calls_per_person_day), (K_SMS, cfg.sms_per_person_day)):
        who = np.repeat(persons, rng.poisson(rate * pop.activity[primary[persons]]))
        k = pop.contacts.shape[1]
        callee_acc = pop.contacts[primary[who], rng.integers(0, k, size=len(who))]
        a, b = pop.p_msisdn[who], pop.p_msisdn[pop.person[callee_acc]]
        ok = (a != b) & (pop.person[callee_acc] >= 0)
        who, a, b = who[ok], a[ok], b[ok]
        cell = np.where(
            rng.random(len(who)) < 0.8, pop.p_cell[who], rng.integers(0, pop.n_cells, size=len(who))
        )
        duration = (
            rng.lognormal(
                math.log(cfg.call_duration_s[0]), cfg.call_duration_s[1], len(who)
            ).astype(np.int32)
            if kind == K_CALL
            else NONE
        )
        duration = np.minimum(duration, 86_400) if kind == K_CALL else duration
        out.append(
            TelecomCols.make(
                times_by_hour(rng, len(who), day, cfg.diurnal),
                kind,
                a,
                b,
                duration,
                cell,
                pop.p_device[who],
            )
        )
    return concat_telecom(out)


def business_call_centres(pop: Population, day: Day, rng: np.random.Generator) -> TelecomCols:
    """Banks, insurers and shops dialling hundreds of customers a day (>100 calls/day negative)."""
    cfg = pop.cfg
    counts = rng.poisson(pop.call_centre_rate * (0.4 if day.weekend else 1.0))
    a = np.repeat(pop.call_centres, counts)
    answered = rng.random(len(a)) < 0.6
    duration = np.where(answered, rng.lognormal(math.log(60), 0.8, len(a)), 0).astype(np.int32)
    calls = TelecomCols.make(
        times_by_hour(rng, len(a), day, _BUSINESS_HOURS),
        K_CALL,
        a,
        pop.p_msisdn[rng.integers(0, pop.n_persons, size=len(a))],
        np.minimum(duration, 86_400),
    )
    reported = pop.call_centres[
        rng.random(len(pop.call_centres)) < cfg.call_centre_spam_report_per_day
    ]
    reports = TelecomCols.make(
        times_by_hour(rng, len(reported), day, cfg.diurnal),
        K_SCAM_REPORT,
        reported,
        pop.p_msisdn[rng.integers(0, pop.n_persons, size=len(reported))],
    )
    return concat_telecom([calls, reports])


def sim_lifecycle(pop: Population, day: Day, rng: np.random.Generator) -> TelecomCols:
    """Honest SIM swaps (lost phones) and new lines at a low base rate."""
    cfg = pop.cfg
    swappers = np.flatnonzero(rng.random(pop.n_persons) < cfg.sim_swap_per_person_day)
    swaps = TelecomCols.make(
        times_by_hour(rng, len(swappers), day, cfg.diurnal),
        K_SIM_SWAP,
        pop.p_msisdn[swappers],
        cell=pop.p_cell[swappers],
        imei=pop.p_device[swappers],
    )
    joiners = np.flatnonzero(rng.random(pop.n_persons) < cfg.sim_register_per_person_day)[:99_999]
    new_lines = NEW_LINE_MSISDN_BASE + (day.index % 99) * 100_000 + np.arange(len(joiners))
    regs = TelecomCols.make(
        times_by_hour(rng, len(joiners), day, cfg.diurnal),
        K_SIM_REGISTER,
        new_lines,
        cell=pop.p_cell[joiners],
        imei=pop.p_device[joiners],
    )
    return concat_telecom([swaps, regs])
