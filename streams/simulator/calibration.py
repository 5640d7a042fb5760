"""Every number the synthetic world is built from, in one frozen dataclass with its source.

A number marked **brief** comes from /work/shared/brief.md (public Thai figures, 2023-2025).
A number marked **assumed** is our reasoning where no public figure exists; change it here,
never inline in the generators, so a reader can audit the world against the brief in one
place. Amount distributions are lognormal ``(median_thb, sigma)``: money is heavy tailed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
WEEK_MS = 7 * DAY_MS
LOCAL_OFFSET_MS = 7 * HOUR_MS  # Bangkok (UTC+7): the daily rhythm follows local hours.
DEFAULT_START_TS_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z = 07:00 Bangkok, a Sunday

SCAM_TYPES: tuple[str, ...] = ("call_centre", "investment", "romance", "loan_fee")

# Average 2023 retail-payment rhythm, Bangkok hours 00..23 (assumed: quiet 01-05, peaks at
# lunch and 18-21, the usual shape of PromptPay traffic; only the shape matters).
_DIURNAL = (
    0.30,
    0.14,
    0.08,
    0.06,
    0.06,
    0.14,
    0.40,
    0.80,
    1.10,
    1.20,
    1.25,
    1.35,
    1.60,
    1.35,
    1.20,
    1.15,
    1.20,
    1.40,
    1.60,
    1.65,
    1.55,
    1.30,
    0.90,
    0.50,
)

# When scammers work, Bangkok hours 00..23 (assumed): call centres and loan-fee callers keep
# office hours and romance/investment chats run into the evening, so victims pay and scam SIMs
# dial mostly 08-21; little happens 01-06. Not the retail rhythm: without a daily rhythm of
# their own, scam payments were a third night-time against 3% of honest ones, and the
# `night` feature gave mules away.
_SCAM_DIURNAL = (
    0.15, 0.06, 0.04, 0.04, 0.04, 0.06, 0.15, 0.40, 0.90, 1.10, 1.15, 1.15,
    1.00, 1.10, 1.15, 1.15, 1.10, 1.00, 0.95, 0.95, 0.90, 0.75, 0.50, 0.30,
)


@dataclass(frozen=True, slots=True)
class WorldConfig:
    """Size, seed and every rate of one synthetic world (see the module docstring for sources)."""

    # --- size and time -------------------------------------------------------------------
    accounts: int = 20_000  # total accounts, cash-out endpoints included (assumed: trains fast)
    days: float = 3.0
    seed: int = 7
    start_ts_ms: int = DEFAULT_START_TS_MS  # fixed: worlds read from files; live traffic: recent_start_ms

    # --- population mix (shares of all accounts) ----------------------------------------------
    merchant_share: float = 0.02  # assumed: shops/billers with huge fan-in (brief: hard negative)
    biller_count: int = 12  # assumed: utilities, telcos, card issuers everyone pays monthly
    merchant_new_share: float = 0.15  # brief: "some merchants new"; assumed 15% < 30 days old
    payroll_share: float = 0.003  # assumed: employers paying salaries (brief: fan-out negative)
    rent_collector_share: float = 0.004  # assumed; brief: "rent collection" passes money on
    group_organiser_share: float = 0.004  # assumed; brief: "group payments" pass money on
    merchant_registered_share: float = 0.5  # assumed: the rest are street vendors taking QR
    # payments on a personal account, so they are not on the AOC allow-list (endpoints.csv)
    reseller_share: float = 0.006  # assumed: dropshippers/online resellers (brief: "people who
    # legitimately pass money on"): fan-in from first-time buyers, forwarded within the hour
    shared_device_share: float = 0.07  # assumed: families on one phone (brief: hard negative)
    # Family size on one device; overlaps a careful herder's 2-6 accounts per handset.
    family_size_p: tuple[tuple[int, float], ...] = (
        (2, 0.25),
        (3, 0.30),
        (4, 0.22),
        (5, 0.12),
        (6, 0.07),
        (8, 0.04),
    )
    family_shares_phone: float = 0.4
    # brief: 582,548 mules / 121 M accounts ~0.5%, about one mule per 1.5 cases. Cases are
    # boosted for training (see scam_cases_per_day), so mules are too, or each would carry
    # dozens of cases and move sums no honest account moves.
    mule_share: float = 0.025
    crypto_exchange_count: int = 4  # brief: cash-out "via crypto exchanges"
    gold_shop_count: int = 6  # brief: cash-out "via shops with fake sales"
    person_accounts_p: tuple[float, float, float] = (0.80, 0.15, 0.05)  # assumed: 1/2/3 accounts
    # brief: 121 M deposit accounts for 64.8 M SIM holders, i.e. most people have a few.
    new_account_share: float = 0.05  # assumed: legit accounts opened in the 30 days before start
    opened_in_world_share_per_day: float = 0.0005  # assumed: accounts opened while the world runs
    account_age_mean_days: float = 1_500.0  # assumed: mean age of established accounts

    # --- legitimate transfers, per account per day (brief: ~1 transfer/account/day:
    #     74 M PromptPay/day over 121 M accounts ~0.6, plus other rails) ------------------
    p2p_per_day: float = 0.40
    purchase_per_day: float = 0.30
    bill_per_day: float = 0.07
    atm_per_day: float = 0.08  # legit cash withdrawals, so "atm" is not a mule-only channel
    counter_per_day: float = 0.008
    large_purchase_per_day: float = 0.003  # brief hard negative: large first-time payee
    crypto_buy_per_day: float = 0.004  # legit buyers, so exchanges are not mule-only sinks
    gold_buy_per_day: float = 0.002
    first_time_payee_share: float = 0.05  # assumed: P2P to someone never paid before
    activity_sigma: float = 0.8  # assumed: lognormal spread of how active accounts are
    weekend_factor: float = 1.10  # assumed: a little more shopping on Sat/Sun
    diurnal: tuple[float, ...] = _DIURNAL
    contacts_per_account: int = 8  # assumed: stable payees/callees (Dunbar-ish inner circle)

    p2p_amount_thb: tuple[float, float] = (500.0, 1.1)  # brief request: median ~500, heavy tail
    purchase_amount_thb: tuple[float, float] = (250.0, 1.0)
    bill_amount_thb: tuple[float, float] = (800.0, 0.7)
    atm_amount_thb: tuple[float, float] = (2_000.0, 0.7)
    counter_amount_thb: tuple[float, float] = (10_000.0, 0.9)
    large_purchase_amount_thb: tuple[float, float] = (30_000.0, 0.8)
    crypto_buy_amount_thb: tuple[float, float] = (3_000.0, 1.0)
    gold_buy_amount_thb: tuple[float, float] = (15_000.0, 0.7)
    # Big honest credits (a car or land sale, family support, a loan from a relative) and what
    # the receiver does with them: often pays a dealer/hospital/school within hours.
    big_credit_per_day: float = 0.012  # assumed, per account
    big_credit_amount_thb: tuple[float, float] = (25_000.0, 1.0)
    big_credit_passed_on: float = 0.5  # share of receivers who pay >=80% on the same day
    big_credit_cash_share: float = 0.25  # of those, drawn as cash at ATMs
    big_credit_pass_delay_min: tuple[float, float] = (60.0, 1.2)  # lognormal median, sigma
    # brief "small test transfers" are not mule-only: people send 1 THB to check a new payee.
    honest_test_transfer_share: float = 0.25  # of payments to a first-time payee >= 5,000 THB
    small_credit_per_day: float = 0.03  # assumed: 1-9 THB cashback, refunds, interest, checks
    salary_monthly_thb: tuple[float, float] = (15_000.0, 0.5)  # assumed: Thai median wage
    rent_monthly_thb: tuple[float, float] = (4_000.0, 0.4)  # assumed: room/condo rent
    group_share_thb: tuple[float, float] = (1_000.0, 0.6)  # assumed: trip/chit-fund share

    # --- legitimate pass-through actors (hard negatives) ----------------------------------
    employees_per_employer: tuple[float, float] = (15.0, 0.9)  # lognormal headcount
    pay_periods_days: tuple[tuple[int, float], ...] = ((7, 0.2), (15, 0.3), (30, 0.5))
    tenants_per_collector: tuple[int, int] = (5, 30)
    rent_periods_days: tuple[tuple[int, float], ...] = ((7, 0.3), (14, 0.3), (30, 0.4))
    rent_forward_share: tuple[float, float] = (0.85, 0.97)  # passed to the landlord in <48 h
    members_per_group: tuple[int, int] = (8, 40)
    group_periods_days: tuple[tuple[int, float], ...] = ((7, 0.5), (14, 0.5))
    group_pay_probability: float = 0.85
    merchant_settle_probability: float = 0.5  # merchant pays a supplier on a given day
    merchant_settle_share: tuple[float, float] = (0.3, 0.98)  # of the day's takings
    reseller_orders_per_day: float = 10.0  # assumed: buyers paying one reseller per day
    reseller_order_thb: tuple[float, float] = (700.0, 0.9)
    reseller_forward_share: tuple[float, float] = (0.80, 0.95)  # supplier's price / sale price
    reseller_per_order_share: float = 0.6  # forwards order by order, else one evening batch
    reseller_delay_min: tuple[float, float] = (15.0, 1.3)  # lognormal median minutes, sigma

    # --- legitimate telecom ------------------------------------------------------------------
    calls_per_person_day: float = 0.5  # assumed; only the contact structure matters
    sms_per_person_day: float = 0.15
    call_duration_s: tuple[float, float] = (90.0, 1.0)
    accounts_per_call_centre: int = 5_000  # assumed: one business call centre per 5k accounts
    call_centre_calls_per_day: tuple[int, int] = (300, 1_500)  # brief hard negative: >100/day
    call_centre_spam_report_per_day: float = 0.15  # telemarketers get reported too
    sales_call_before_large_purchase: float = 0.15  # legit "call, then large first-time payee"
    sim_swap_per_person_day: float = 0.0005  # assumed low base rate (lost/new phone)
    sim_register_per_person_day: float = 0.0003
    device_change_per_account_day: float = 0.0005  # new phone -> new bank-app device id

    # --- scams ---------------------------------------------------------------------------------
    # brief: 887,315 cases Mar 2022-Apr 2025 (~1,140 days) over 121 M accounts = ~6.4 cases per
    # day per million accounts. Boosted ~230x at the default size so a 3-day world holds ~90
    # cases to learn from; the calibration report prints the realised rate next to the real one.
    scam_cases_per_day: float = 30.0
    scam_diurnal: tuple[float, ...] = _SCAM_DIURNAL  # local-hour weights of case starts and scam dialling
    scam_type_mix: tuple[tuple[str, float], ...] = (
        ("call_centre", 0.45),
        ("investment", 0.25),
        ("romance", 0.15),
        ("loan_fee", 0.15),
    )
    # Loss per case, lognormal per type. brief: average transfer-scam loss 114,000 THB; with
    # this mix the mean is ~110-115 k THB (call-centre median 48 k, sigma 1.4 -> mean 128 k).
    loss_thb: tuple[tuple[str, float, float], ...] = (
        ("call_centre", 48_000.0, 1.4),
        ("investment", 60_000.0, 1.3),
        ("romance", 50_000.0, 1.3),
        ("loan_fee", 8_000.0, 1.0),
    )
    max_loss_thb: float = 20_000_000.0  # brief: one call-centre case lost 4 M THB
    # brief: "one or a burst of transfers"; "5 transfers in 2 hours".
    call_centre_burst_p: tuple[float, ...] = (0.45, 0.25, 0.15, 0.10, 0.05)
    call_centre_burst_max_ms: int = 2 * HOUR_MS
    call_to_first_transfer_min: tuple[float, float] = (4.0, 20.0)  # "within minutes"
    victim_test_transfer_share: float = 0.2  # gang asks for a 1-10 THB "verification" first
    # brief: other scams "pay in repeatedly over days or weeks": (min, max, median gap hours).
    repeat_payments: tuple[tuple[str, int, int, float], ...] = (
        ("investment", 2, 8, 24.0),
        ("romance", 2, 6, 48.0),
        ("loan_fee", 1, 4, 6.0),
    )
    # --- victim reports (brief: "usually realise 15-30 minutes after hanging up") -------------
    report_never_share: float = 0.10  # brief request: ~10% never report
    report_delay_call_centre: tuple[tuple[float, float, float], ...] = (
        (0.70, 15.0, 30.0),
        (0.20, 30.0, 1_440.0),
        (0.10, 1_440.0, 10_080.0),
    )  # (share, min minutes, max minutes); log-uniform inside each band
    report_delay_other: tuple[tuple[float, float, float], ...] = (
        (0.30, 15.0, 60.0),
        (0.40, 60.0, 2_880.0),
        (0.30, 2_880.0, 20_160.0),
    )
    report_channel_mix: tuple[tuple[str, float], ...] = (
        ("hotline_1441", 0.60),
        ("online", 0.25),
        ("bank", 0.15),
    )
    police_complaint_share: float = 0.3
    scam_number_report_share: float = 0.5  # victim also reports the number (*1185#)

    # --- mule network (brief: "How scam money moves") ---------------------------------------
    mule_kind_mix: tuple[tuple[str, float], ...] = (
        ("herder_mule", 0.30),  # brief: 30% of closed mule accounts were recently opened
        ("dormant_mule", 0.15),  # brief: "new or long-dormant account"
        ("scam_collector", 0.20),  # first-hop "safe accounts" (rented, established)
        ("mule", 0.35),  # recruited people's own established accounts
    )
    mules_per_ring: float = 40.0  # assumed: one herder/gang controls tens of accounts
    mule_active_before_start: float = 0.6  # the rest are recruited while the world runs
    mule_legit_stops: float = 0.5  # recruited owner stops using the account
    gang_operated_share: float = 0.35  # recruited account re-bound to the gang's phone (assumed);
    # the rest are solo recruits moving money from their own, old phone
    # brief: one phone/device behind many accounts. Careful herders keep 2-6 per handset.
    herder_accounts_per_device: tuple[float, float] = (2.0, 6.0)
    careless_ring_share: float = 0.2  # the whole ring on one or two handsets
    dormant_own_device_share: float = 0.5  # a woken dormant account on a fresh handset of its own
    herd_test_share: float = 0.6  # new mules tested with 1-10 THB before use
    mule_accounts_per_person_p: tuple[float, float, float] = (0.55, 0.30, 0.15)  # assumed
    first_hop_collector_share: float = 0.6  # hop 1 is a scam_collector, else any ring mule
    # brief: "through 1-5+ hops"; P(depth = 1..5).
    hop_depth_p: tuple[float, ...] = (0.15, 0.30, 0.25, 0.18, 0.12)
    # brief: "split across several mules (fan-out)"; P(fan-out = 1..5); brief: most mules make
    # >=5 outgoing transfers after the victim's credit (fan-out plus ATM bursts gets there).
    fan_out_p: tuple[float, ...] = (0.25, 0.30, 0.25, 0.12, 0.08)
    fan_in_merge_p: float = 0.25  # "sometimes merged again (fan-in)"
    # Forward delay: brief "within minutes to hours" and "within seconds". A share is scripted
    # (seconds), the rest lognormal; p10/p50/p90 land near 1 min / 15 min / 3 h.
    forward_scripted_share: float = 0.15
    forward_scripted_s: tuple[float, float] = (5.0, 90.0)
    forward_delay_min: tuple[float, float] = (20.0, 1.5)  # lognormal (median minutes, sigma)
    forward_delay_max_ms: int = 24 * HOUR_MS
    split_gap_s: tuple[float, float] = (2.0, 240.0)  # between the parts of one fan-out
    mule_cut_share: tuple[float, float] = (0.0, 0.03)  # "keeping a small cut"
    # brief: "cashed out at ATMs or counters, via crypto exchanges, or via shops".
    cashout_mix: tuple[tuple[str, float], ...] = (
        ("atm", 0.40),
        ("counter", 0.10),
        ("crypto", 0.30),
        ("shop", 0.20),
    )
    atm_max_thb: int = 20_000  # assumed per-withdrawal ATM limit (THB multiples of 100)
    atm_gap_s: tuple[float, float] = (40.0, 400.0)
    counter_hours_local: tuple[float, float] = (8.5, 15.5)  # bank branches
    test_transfer_thb: tuple[int, int] = (1, 10)  # brief: small test transfers
    test_transfer_back_share: float = 0.5

    # --- scam SIMs (brief: numbers making >100 calls/day get suspended; >5 SIMs per ID) ------
    cases_per_scam_sim: int = 2
    scam_sim_life_days: tuple[float, float] = (1.0, 3.0)
    scam_sim_calls_per_day: tuple[int, int] = (120, 400)
    scam_sim_registered_before_h: tuple[float, float] = (2.0, 72.0)  # "new SIMs"
    # One SIM box (one IMEI, one cell, one registered owner ID) holds this many SIMs: the
    # brief's ">5 SIMs per ID" shows on the wire as many new SIMs behind one IMEI, since
    # telecom records carry no national ID.
    sims_per_farm: int = 32
    scam_call_answered_share: float = 0.35

    def __post_init__(self) -> None:
        if self.accounts < 500:
            raise ValueError("accounts must be >= 500 (endpoints and rings need room)")
        if not self.days > 0:
            raise ValueError("days must be > 0")
        if self.scam_cases_per_day < 0:
            raise ValueError("scam_cases_per_day must be >= 0")
        for name in ("person_accounts_p", "hop_depth_p", "fan_out_p", "call_centre_burst_p"):
            total = sum(getattr(self, name))
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"{name} must sum to 1, got {total}")

    @property
    def end_ts_ms(self) -> int:
        """First millisecond after the world.

        Examples:
            >>> WorldConfig(days=1.0).end_ts_ms - WorldConfig().start_ts_ms
            86400000
        """
        return self.start_ts_ms + int(round(self.days * DAY_MS))

    @property
    def day_count(self) -> int:
        """Whole or partial days to generate.

        Examples:
            >>> WorldConfig(days=2.5).day_count
            3
        """
        return -(-(self.end_ts_ms - self.start_ts_ms) // DAY_MS)


def recent_start_ms(days: float, now_ms: int | None = None, age_days: int = 0, weekly: bool = False) -> int:
    """``start_ts_ms`` for a world of ``days`` days streamed as live traffic: the latest UTC
    midnight (07:00 in Bangkok) from which it ends at least ``age_days`` days before today
    (UTC, by ``now_ms`` or the wall clock), so none of its events is in the future.

    Ingest judges event times by the worker's clock (``streams.codec``: at most
    ``MAX_EVENT_AGE_MS``, 366 days, old): a world on the fixed ``DEFAULT_START_TS_MS`` would be
    dead-lettered as ``timestamp_too_old`` from 2027-11 on. Replay from files has no clock.

    ``weekly``: rather the latest start a whole number of weeks after ``DEFAULT_START_TS_MS``
    that still ends in time (up to 6 days earlier). Its days fall on the same weekdays, which
    is all the simulator reads from the date, so a seed gives the default world moved in
    time, whatever the day it runs on (only account-opening dates clamped to 2015 differ).

    Examples:
        >>> from datetime import UTC, datetime
        >>> def utc(ms: int) -> str:
        ...     return datetime.fromtimestamp(ms / 1000, UTC).strftime("%a %Y-%m-%d %H:%M")
        >>> now = DEFAULT_START_TS_MS + 30 * DAY_MS + 5 * HOUR_MS
        >>> utc(now)
        'Tue 2026-12-01 05:00'
        >>> utc(recent_start_ms(1.0, now)), utc(recent_start_ms(1.5, now, age_days=1))
        ('Mon 2026-11-30 00:00', 'Sat 2026-11-28 00:00')
        >>> utc(recent_start_ms(1.0, now, age_days=8, weekly=True))  # ends by Mon 11-23
        'Sun 2026-11-22 00:00'
        >>> utc(recent_start_ms(1.0, now, age_days=9, weekly=True))  # ends by Sun 11-22
        'Sun 2026-11-15 00:00'
    """
    if not days > 0 or age_days < 0:
        raise ValueError("days must be > 0 and age_days >= 0")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    ends_by = (now // DAY_MS - age_days) * DAY_MS  # today's UTC midnight, age_days earlier
    start = ends_by - -(-int(round(days * DAY_MS)) // DAY_MS) * DAY_MS  # back whole days (end_ts_ms rounds so)
    if weekly:
        start -= (start - DEFAULT_START_TS_MS) % WEEK_MS
    return start


def ending_now_start_ms(days: float, now_ms: int | None = None) -> int:
    """``start_ts_ms`` for a world of ``days`` days that ends within the last hour (whole
    hours: the same world for an hour; the simulator reads only local hours and weekdays).

    For the demo: streamed as live traffic, none of its events is in the future, and a world
    under 3 days long is young enough that every model hold on it (3 days from its transfer)
    is still running when it is requested. ``recent_start_ms`` ends a world before a UTC
    midnight, so its first day is up to 2 days older than that.

    Examples:
        >>> from datetime import UTC, datetime
        >>> now = DEFAULT_START_TS_MS + 30 * DAY_MS + 5 * HOUR_MS + 59 * MINUTE_MS
        >>> start = ending_now_start_ms(2.4, now)
        >>> datetime.fromtimestamp(start / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        '2026-11-28 20:00'
        >>> 0 <= now - WorldConfig(days=2.4, start_ts_ms=start).end_ts_ms < HOUR_MS
        True
    """
    if not days > 0:
        raise ValueError("days must be > 0")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return (now - int(round(days * DAY_MS))) // HOUR_MS * HOUR_MS


# A world streamed into workers by the tests and benches: over 7 days old, so past every
# hold's legal term and the worker clock releases holds at once on any run day alike
# (replay, having no clock, keeps them); whole weeks from DEFAULT_START_TS_MS, so the same
# world on any run day.
LIVE_WORLD_AGE_DAYS = 8


def live_start_ms(days: float, now_ms: int | None = None) -> int:
    """``start_ts_ms`` for a world of ``days`` days that tests and benches stream live."""
    return recent_start_ms(days, now_ms, age_days=LIVE_WORLD_AGE_DAYS, weekly=True)


# Real-world reference rate used by the calibration report (brief, see scam_cases_per_day).
REAL_CASES_PER_DAY_PER_MILLION_ACCOUNTS = 887_315 / 1_140 / 121.0
REAL_MEAN_LOSS_THB = 114_000.0
REAL_NEW_MULE_SHARE = 0.30
