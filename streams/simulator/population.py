"""Who exists in the world: accounts, their owners, roles, rings and identities, fixed upfront.

Roles are drawn from the seed before any event, so ``World.labels()`` works at any time and
the event generators only ever read this table. Everything is numpy arrays indexed by
account (or person), so a million accounts cost tens of MB, not Python objects each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.simulator.calibration import DAY_MS, HOUR_MS, WorldConfig
from streams.simulator.naming import account_numbers

INF_MS = np.iinfo(np.int64).max // 4
MIN_OPENED_MS = 1_420_156_800_000  # 2015-01-02: the codec rejects anything before 2015

# Assumed relative size of Thai retail banks (deposit accounts); only used to spread accounts.
BANK_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("KTB", 0.18),
    ("GSB", 0.16),
    ("KBANK", 0.15),
    ("SCB", 0.13),
    ("BBL", 0.10),
    ("BAAC", 0.09),
    ("BAY", 0.07),
    ("TTB", 0.06),
    ("GHB", 0.02),
    ("UOBT", 0.01),
    ("CIMBT", 0.01),
    ("KKP", 0.005),
    ("LHB", 0.005),
    ("TISCO", 0.005),
    ("ICBCT", 0.005),
)
BANK_CODES: tuple[str, ...] = tuple(b for b, _ in BANK_WEIGHTS)

# Internal role codes. Several honest roles share one ground-truth label (``KIND_LABELS``):
# the evaluation splits innocents by ``merchant``, ``payroll``, ``shared_device`` and
# ``pass_through``, the brief's hard negatives.
KINDS: tuple[str, ...] = (
    "normal",
    "merchant",
    "payroll",
    "rent_collector",
    "group_organiser",
    "shared_device",
    "cashout_endpoint",
    "mule",
    "herder_mule",
    "dormant_mule",
    "scam_collector",
    "reseller",
)
(
    NORMAL,
    MERCHANT,
    PAYROLL,
    RENT_COLLECTOR,
    GROUP_ORGANISER,
    SHARED_DEVICE,
    CASHOUT,
    MULE,
    HERDER_MULE,
    DORMANT_MULE,
    SCAM_COLLECTOR,
    RESELLER,
) = range(len(KINDS))
KIND_LABELS: tuple[str, ...] = (
    "ordinary",
    "merchant",
    "payroll",
    "pass_through",  # rent collector
    "pass_through",  # group organiser
    "shared_device",
    "cashout_endpoint",
    "mule",
    "herder_mule",
    "dormant_mule",
    "scam_collector",
    "pass_through",  # reseller / dropshipper
)
NEW_ACCOUNT_LABEL = "new_account"  # an ordinary account opened <30 days before it shows up
MULE_KINDS = frozenset({MULE, HERDER_MULE, DORMANT_MULE, SCAM_COLLECTOR})
CASHOUT_METHODS: tuple[str, ...] = ("atm", "counter", "crypto", "shop")


@dataclass(slots=True)
class Groups:
    """Legit pass-through actors (employer, rent collector, organiser) and their members (CSR)."""

    owner: np.ndarray  # account index of the employer/collector/organiser
    period: np.ndarray  # cycle in days
    phase: np.ndarray  # cycle starts on days where (day + phase) % period == 0
    ptr: np.ndarray  # members of group g are members[ptr[g]:ptr[g+1]]
    members: np.ndarray
    amount: np.ndarray  # per member, satang per cycle
    offset: np.ndarray  # per member: day within the cycle they pay (rent) / are paid
    other: np.ndarray  # per group: landlord / client / payee account
    share: np.ndarray  # per group: share passed on


@dataclass(slots=True)
class Ring:
    """One gang: its mule accounts, the phones/devices its herder uses, how it cashes out."""

    members: np.ndarray
    devices: list[int]
    phones: list[int]
    cashout_p: np.ndarray
    cut_share: float


@dataclass(slots=True)
class Population:
    """Every account and person, as arrays; see the module docstring."""

    cfg: WorldConfig
    bank: np.ndarray  # int8 index into BANK_CODES
    kind: np.ndarray  # int8 index into KINDS
    person: np.ndarray  # int32 owner person (-1 for bank cash pseudo-accounts)
    opened_ts: np.ndarray
    activity: np.ndarray  # float32 mean-1 multiplier on legit rates
    legit_from: np.ndarray
    legit_until: np.ndarray
    mule_since: np.ndarray  # -1 when not a mule
    ring: np.ndarray  # -1 when not in a ring
    dev_old: np.ndarray
    dev_new: np.ndarray
    msisdn_old: np.ndarray
    msisdn_new: np.ndarray
    change_ts: np.ndarray  # when dev/msisdn switch from old to new (INF_MS: never)
    contacts: np.ndarray  # (accounts, K) account indices
    has_identity: np.ndarray  # bool: False for bank cash pseudo-accounts
    p_msisdn: np.ndarray
    p_device: np.ndarray
    p_cell: np.ndarray
    p_primary: np.ndarray  # one account per person, for telecom contacts
    people: np.ndarray  # accounts that behave as private persons (victims, P2P senders)
    merchants: np.ndarray
    merchant_p: np.ndarray
    billers: np.ndarray
    cash_atm: np.ndarray  # per bank
    cash_counter: np.ndarray
    exchanges: np.ndarray
    shops: np.ndarray
    payroll: Groups
    rent: Groups
    groups: Groups
    call_centres: np.ndarray  # msisdn indices of business call centres
    call_centre_rate: np.ndarray
    rings: list[Ring]
    registered: np.ndarray  # bool: on the AOC allow-list (registered merchants, payroll, cash)
    resellers: np.ndarray  # dropshippers: pass each order on to a supplier within the hour
    suppliers: np.ndarray  # (resellers, 2) account indices
    acct_str: list[str]
    bank_str: list[str]
    n_persons: int
    n_devices: int
    n_msisdn: int
    n_cells: int
    salt: int
    _json_parts: tuple[list[str], list[str]] | None = None

    @property
    def n(self) -> int:
        return len(self.kind)

    def json_parts(self) -> tuple[list[str], list[str]]:
        """Per account, the wire JSON ``"src_bank":"..","src_account":".."`` and the dst twin.

        Built once, on first use (a few hundred MB at a million accounts would be too much to
        hold twice, so only the file formatter asks for it).
        """
        if self._json_parts is None:
            src = [
                f'"src_bank":"{b}","src_account":"{a}"'
                for b, a in zip(self.bank_str, self.acct_str, strict=True)
            ]
            dst = [s.replace('"src_', '"dst_') for s in src]
            self._json_parts = (src, dst)
        return self._json_parts

    def alloc_msisdn(self, count: int) -> np.ndarray:
        """Fresh phone-number indices (scam SIMs are allocated after the population)."""
        out = np.arange(self.n_msisdn, self.n_msisdn + count, dtype=np.int32)
        self.n_msisdn += count
        return out

    def alloc_device(self, count: int) -> np.ndarray:
        out = np.arange(self.n_devices, self.n_devices + count, dtype=np.int32)
        self.n_devices += count
        return out


def _count(share: float, n: int, minimum: int) -> int:
    return max(minimum, int(round(share * n)))


def _pick_period(
    rng: np.random.Generator, table: tuple[tuple[int, float], ...], n: int
) -> np.ndarray:
    periods = np.array([p for p, _ in table], dtype=np.int64)
    probs = np.array([w for _, w in table], dtype=np.float64)
    return periods[rng.choice(len(periods), size=n, p=probs / probs.sum())]


def _lognormal_satang(
    rng: np.random.Generator, median_sigma: tuple[float, float], n: int
) -> np.ndarray:
    median, sigma = median_sigma
    return np.maximum(100, (rng.lognormal(np.log(median), sigma, n) * 100).astype(np.int64))


def _groups(
    rng: np.random.Generator,
    owners: np.ndarray,
    pool: np.ndarray,
    sizes: np.ndarray,
    periods: np.ndarray,
    amount_per_member: np.ndarray,
    other: np.ndarray,
    share: np.ndarray,
    max_offset: int,
) -> Groups:
    ptr = np.zeros(len(owners) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(sizes)
    members = np.empty(int(ptr[-1]), dtype=np.int32)
    amount = np.empty(int(ptr[-1]), dtype=np.int64)
    for g, owner in enumerate(owners.tolist()):
        chosen = rng.choice(pool, size=int(sizes[g]) + 1, replace=False)
        chosen = chosen[chosen != owner][: sizes[g]]
        members[ptr[g] : ptr[g + 1]] = chosen
        amount[ptr[g] : ptr[g + 1]] = amount_per_member[g]
    return Groups(
        owner=owners.astype(np.int32),
        period=periods,
        phase=rng.integers(0, periods),
        ptr=ptr,
        members=members,
        amount=amount,
        offset=rng.integers(0, max_offset + 1, size=len(members)),
        other=other.astype(np.int32),
        share=share,
    )


def build_population(cfg: WorldConfig) -> Population:  # noqa: PLR0915 - one recipe, in order
    """Draw every account, person, role, ring and legit group from ``cfg.seed``."""
    rng = np.random.default_rng([cfg.seed, 0])
    salt = int(rng.integers(1, 2**40))
    n = cfg.accounts
    start, end = cfg.start_ts_ms, cfg.end_ts_ms
    nb = len(BANK_CODES)

    # --- cash-out endpoints first: ATM and counter cash per bank, exchanges, gold shops ---------
    kind = np.full(n, NORMAL, dtype=np.int8)
    bank_w = np.array([w for _, w in BANK_WEIGHTS])
    bank = rng.choice(nb, size=n, p=bank_w / bank_w.sum()).astype(np.int8)
    cash_atm = np.arange(0, nb, dtype=np.int32)
    cash_counter = np.arange(nb, 2 * nb, dtype=np.int32)
    bank[cash_atm] = np.arange(nb)
    bank[cash_counter] = np.arange(nb)
    exchanges = np.arange(2 * nb, 2 * nb + cfg.crypto_exchange_count, dtype=np.int32)
    shops = np.arange(exchanges[-1] + 1, exchanges[-1] + 1 + cfg.gold_shop_count, dtype=np.int32)
    n_endpoints = int(shops[-1]) + 1
    kind[:n_endpoints] = CASHOUT

    # --- roles over the remaining accounts, by a seeded permutation --------------------------
    order = rng.permutation(np.arange(n_endpoints, n, dtype=np.int32))
    cursor = 0

    def take(count: int, role: int) -> np.ndarray:
        nonlocal cursor
        chosen = order[cursor : cursor + count]
        cursor += count
        kind[chosen] = role
        return chosen

    merchants = take(_count(cfg.merchant_share, n, 10), MERCHANT)
    employers = take(_count(cfg.payroll_share, n, 2), PAYROLL)
    collectors = take(_count(cfg.rent_collector_share, n, 2), RENT_COLLECTOR)
    organisers = take(_count(cfg.group_organiser_share, n, 2), GROUP_ORGANISER)
    resellers = take(_count(cfg.reseller_share, n, 2), RESELLER)
    n_mules = _count(cfg.mule_share, n, 8)
    mules = take(n_mules, MULE)
    shared = take(_count(cfg.shared_device_share, n, 3), SHARED_DEVICE)
    normal = order[cursor:]
    billers = merchants[: min(cfg.biller_count, len(merchants) // 3)]

    # --- mule kinds and rings: every ring gets a collector and a plain mule first --------------
    ring_count = max(1, int(round(n_mules / cfg.mules_per_ring)))
    kinds_list = [SCAM_COLLECTOR] * ring_count + [MULE] * ring_count
    name_code = {
        "herder_mule": HERDER_MULE,
        "dormant_mule": DORMANT_MULE,
        "scam_collector": SCAM_COLLECTOR,
        "mule": MULE,
    }
    for name, share in cfg.mule_kind_mix:
        want = int(round(share * n_mules)) - kinds_list.count(name_code[name])
        kinds_list += [name_code[name]] * max(0, want)
    kinds_list = kinds_list[:n_mules] + [MULE] * max(0, n_mules - len(kinds_list))
    tail = np.array(kinds_list[2 * ring_count :], dtype=np.int8)
    rng.shuffle(tail)
    kind[mules] = np.concatenate([np.array(kinds_list[: 2 * ring_count], dtype=np.int8), tail])
    ring = np.full(n, -1, dtype=np.int32)
    ring[mules] = np.arange(n_mules) % ring_count

    # --- persons: normal accounts grouped 1-3 per owner; everyone else owns one ----------------
    per_person = rng.choice(3, size=len(normal), p=np.array(cfg.person_accounts_p)) + 1
    owner_of_normal = np.repeat(np.arange(len(normal)), per_person)[: len(normal)]
    person = np.full(n, -1, dtype=np.int32)
    person[normal] = owner_of_normal
    next_person = int(owner_of_normal[-1]) + 1 if len(normal) else 0
    singles = np.setdiff1d(np.arange(2 * nb, n, dtype=np.int32), normal)
    person[singles] = np.arange(next_person, next_person + len(singles))
    n_persons = next_person + len(singles)
    # Mules come in people too: a nominee opens accounts at two or three banks, a recruit
    # rents out all of his. One ID behind several accounts is then not an honest-only trait.
    by_ring = mules[np.argsort(ring[mules], kind="stable")]
    m_sizes = rng.choice(3, size=len(by_ring), p=np.array(cfg.mule_accounts_per_person_p)) + 1
    m_group = np.repeat(np.arange(len(m_sizes)), m_sizes)[: len(by_ring)]
    m_first = np.unique(m_group, return_index=True)[1]
    person[by_ring] = person[by_ring[m_first]][m_group]
    p_msisdn = np.arange(n_persons, dtype=np.int32)
    p_device = np.arange(n_persons, dtype=np.int32)
    n_cells = max(50, n // 40)
    p_cell = rng.integers(0, n_cells, size=n_persons).astype(np.int32)
    # families share one device (and some of them one phone): brief hard negative. Sizes
    # overlap the herders' 2-6 accounts per phone, so the count alone cannot tell them apart.
    fam_w = np.array([w for _, w in cfg.family_size_p])
    fam_sizes = np.array([k for k, _ in cfg.family_size_p])[
        rng.choice(len(fam_w), size=len(shared), p=fam_w / fam_w.sum())
    ]
    fam_id = np.repeat(np.arange(len(shared)), fam_sizes)[: len(shared)]
    firsts = np.unique(fam_id, return_index=True)[1]
    head_person = person[shared[firsts]][fam_id]
    p_device[person[shared]] = p_device[head_person]
    p_cell[person[shared]] = p_cell[head_person]
    share_phone = rng.random(len(firsts)) < cfg.family_shares_phone
    same_phone = share_phone[fam_id]
    p_msisdn[person[shared[same_phone]]] = p_msisdn[head_person[same_phone]]
    n_devices = n_persons
    n_msisdn = n_persons
    p_primary = np.full(n_persons, -1, dtype=np.int32)
    has_person = person >= 0
    p_primary[person[has_person][::-1]] = np.flatnonzero(has_person)[::-1].astype(np.int32)

    # --- opening dates -------------------------------------------------------------------------
    age = 30 * DAY_MS + rng.exponential(cfg.account_age_mean_days * DAY_MS, size=n)
    opened = (start - age).astype(np.int64)
    candidates = np.concatenate([normal, shared, employers, collectors, organisers, resellers])
    is_new = candidates[rng.random(len(candidates)) < cfg.new_account_share]
    opened[is_new] = start - rng.integers(HOUR_MS, 30 * DAY_MS, size=len(is_new))
    in_world_p = min(0.5, cfg.opened_in_world_share_per_day * cfg.days)
    late = normal[rng.random(len(normal)) < in_world_p]
    opened[late] = start + rng.integers(0, end - start, size=len(late))
    new_merch = merchants[rng.random(len(merchants)) < cfg.merchant_new_share]
    opened[new_merch] = start - rng.integers(HOUR_MS, 30 * DAY_MS, size=len(new_merch))
    opened[:n_endpoints] = start - 8 * 365 * DAY_MS

    # --- mule timelines: mule_since decided now, so labels never depend on generation order --
    mule_since = np.full(n, -1, dtype=np.int64)
    span = end - start
    before = rng.random(n_mules) < cfg.mule_active_before_start
    before[: 2 * ring_count] = True  # each ring's first collector and mule are ready at start
    mk = kind[mules]
    before &= mk != DORMANT_MULE  # waking up is the signal: wake inside the world
    if_before = start - rng.integers(DAY_MS, 60 * DAY_MS, size=n_mules)
    if_during = start + rng.integers(0, max(1, int(0.8 * span)), size=n_mules)
    mule_since[mules] = np.where(before, if_before, if_during)
    old_age = 180 * DAY_MS + rng.exponential(cfg.account_age_mean_days * DAY_MS, size=n_mules)
    opened[mules] = np.where(
        mk == HERDER_MULE,
        mule_since[mules] - rng.integers(HOUR_MS, 30 * DAY_MS, size=n_mules),
        start - old_age.astype(np.int64),
    )
    opened = np.maximum(opened, MIN_OPENED_MS)

    # --- legit activity windows --------------------------------------------------------------
    legit_from = opened + 60_000
    legit_until = np.full(n, INF_MS, dtype=np.int64)
    stops = rng.random(n_mules) < cfg.mule_legit_stops
    recruited = (mk == MULE) | (mk == SCAM_COLLECTOR)
    legit_until[mules[recruited & stops]] = mule_since[mules[recruited & stops]]
    legit_from[mules[~recruited]] = INF_MS  # herder and dormant accounts have no legit life here
    sigma = cfg.activity_sigma
    activity = rng.lognormal(-sigma * sigma / 2, sigma, size=n).astype(np.float32)

    # --- identities over time ----------------------------------------------------------------
    dev_old = np.where(person >= 0, p_device[np.maximum(person, 0)], -1).astype(np.int32)
    msisdn_old = np.where(person >= 0, p_msisdn[np.maximum(person, 0)], -1).astype(np.int32)
    dev_new, msisdn_new = dev_old.copy(), msisdn_old.copy()
    change_ts = np.full(n, INF_MS, dtype=np.int64)
    changing = np.flatnonzero(
        (rng.random(n) < cfg.device_change_per_account_day * cfg.days)
        & (person >= 0)
        & ~np.isin(kind, list(MULE_KINDS))
        & (kind != CASHOUT)
    )
    change_ts[changing] = start + rng.integers(0, span, size=len(changing))
    change_ts[changing] = np.maximum(change_ts[changing], opened[changing] + HOUR_MS)
    dev_new[changing] = np.arange(n_devices, n_devices + len(changing))
    n_devices += len(changing)

    rings: list[Ring] = []
    methods_p = np.array([p for _, p in cfg.cashout_mix])
    for r in range(ring_count):
        members = mules[ring[mules] == r]
        # A careful herder keeps a few accounts per handset (like a family); a careless one
        # runs the whole ring from one or two phones.
        if rng.random() < cfg.careless_ring_share:
            k_dev = int(rng.integers(1, 3))
        else:
            per = rng.uniform(*cfg.herder_accounts_per_device)
            k_dev = max(1, int(np.ceil(len(members) * 0.6 / per)))
        devices = list(range(n_devices, n_devices + k_dev))
        n_devices += k_dev
        phones = list(range(n_msisdn, n_msisdn + k_dev))
        n_msisdn += k_dev
        rings.append(
            Ring(
                members=members,
                devices=devices,
                phones=phones,
                cashout_p=rng.dirichlet(methods_p * 8.0),
                cut_share=float(rng.uniform(*cfg.mule_cut_share)),
            )
        )
        for acc in members.tolist():
            if kind[acc] == HERDER_MULE:  # opened by the herder: his phone and device from day one
                dev_old[acc] = dev_new[acc] = devices[int(rng.integers(k_dev))]
                msisdn_old[acc] = msisdn_new[acc] = phones[int(rng.integers(k_dev))]
            elif kind[acc] == DORMANT_MULE:  # sold: wakes up on the buyer's phone
                change_ts[acc] = mule_since[acc]
                if rng.random() < cfg.dormant_own_device_share:  # a fresh handset of its own
                    dev_new[acc] = n_devices
                    n_devices += 1
                else:
                    dev_new[acc] = devices[int(rng.integers(k_dev))]
                if rng.random() < 0.5:
                    msisdn_new[acc] = phones[int(rng.integers(k_dev))]
            elif (
                rng.random() < cfg.gang_operated_share
            ):  # rented out: app re-bound to the gang's phone
                legit_until[acc] = min(legit_until[acc], mule_since[acc])
                dev_new[acc] = devices[int(rng.integers(k_dev))]
                if mule_since[acc] < start:
                    dev_old[acc] = dev_new[acc]
                else:
                    change_ts[acc] = mule_since[acc]

    # --- contacts: a seeded ring of acquaintances plus two far ones, stable over time --------
    pool = np.arange(2 * nb, n, dtype=np.int32)
    pos_perm = rng.permutation(pool)
    pos = np.empty(n, dtype=np.int64)
    pos[pos_perm] = np.arange(len(pool))
    k = cfg.contacts_per_account
    near = [o for o in (-3, -2, -1, 1, 2, 3, -4, 4)][: max(0, k - 2)]
    contacts = np.empty((n, k), dtype=np.int32)
    for j, off in enumerate(near):
        contacts[pool, j] = pos_perm[(pos[pool] + off) % len(pool)]
    contacts[pool, len(near) :] = rng.choice(pool, size=(len(pool), k - len(near)))
    contacts[: 2 * nb] = 0

    # --- legit groups (hard negatives for fan-out, fan-in and pass-through) ------------------
    people = np.concatenate([normal, shared]).astype(np.int32)
    people.sort()
    pp = _pick_period(rng, cfg.pay_periods_days, len(employers))
    med, sig = cfg.employees_per_employer
    heads = np.clip(rng.lognormal(np.log(med), sig, len(employers)), 3, 300).astype(np.int64)
    salary = _lognormal_satang(rng, cfg.salary_monthly_thb, len(employers)) * pp // 30
    payroll = _groups(
        rng,
        employers,
        people,
        heads,
        pp,
        salary,
        rng.choice(merchants, size=len(employers)),
        np.ones(len(employers)),
        0,
    )
    rp = _pick_period(rng, cfg.rent_periods_days, len(collectors))
    tenants = rng.integers(
        cfg.tenants_per_collector[0], cfg.tenants_per_collector[1] + 1, len(collectors)
    )
    rent_amt = _lognormal_satang(rng, cfg.rent_monthly_thb, len(collectors)) * rp // 30
    rent = _groups(
        rng,
        collectors,
        people,
        tenants,
        rp,
        rent_amt,
        rng.choice(people, size=len(collectors)),
        rng.uniform(*cfg.rent_forward_share, size=len(collectors)),
        1,
    )
    gp = _pick_period(rng, cfg.group_periods_days, len(organisers))
    gsize = rng.integers(cfg.members_per_group[0], cfg.members_per_group[1] + 1, len(organisers))
    gamt = _lognormal_satang(rng, cfg.group_share_thb, len(organisers))
    groups = _groups(
        rng,
        organisers,
        people,
        gsize,
        gp,
        gamt,
        rng.choice(merchants, size=len(organisers)),
        rng.uniform(0.9, 1.0, size=len(organisers)),
        0,
    )

    # --- merchant popularity (Zipf) and business call centres --------------------------------
    shop_merchants = merchants[len(billers) :]
    ranks = rng.permutation(len(shop_merchants)) + 1
    merchant_p = 1.0 / ranks.astype(np.float64)
    merchant_p /= merchant_p.sum()
    n_cc = max(2, n // cfg.accounts_per_call_centre)
    call_centres = np.arange(n_msisdn, n_msisdn + n_cc, dtype=np.int32)
    n_msisdn += n_cc
    lo, hi = cfg.call_centre_calls_per_day
    call_centre_rate = rng.integers(lo, hi + 1, size=n_cc).astype(np.float64)
    linked = rng.choice(merchants, size=n_cc // 2, replace=False)
    msisdn_old[linked] = msisdn_new[linked] = call_centres[: len(linked)]

    registered = np.zeros(n, dtype=bool)
    registered[:n_endpoints] = True
    registered[employers] = True
    registered[billers] = True
    registered[shop_merchants[rng.random(len(shop_merchants)) < cfg.merchant_registered_share]] = True
    suppliers = np.stack(
        [rng.choice(merchants, size=len(resellers)), rng.choice(people, size=len(resellers))], axis=1
    ).astype(np.int32)

    has_identity = person >= 0
    pop = Population(
        cfg=cfg,
        bank=bank,
        kind=kind,
        person=person,
        opened_ts=opened,
        activity=activity,
        legit_from=legit_from,
        legit_until=legit_until,
        mule_since=mule_since,
        ring=ring,
        dev_old=dev_old,
        dev_new=dev_new,
        msisdn_old=msisdn_old,
        msisdn_new=msisdn_new,
        change_ts=change_ts,
        contacts=contacts,
        has_identity=has_identity,
        p_msisdn=p_msisdn,
        p_device=p_device,
        p_cell=p_cell,
        p_primary=p_primary,
        people=people,
        merchants=shop_merchants,
        merchant_p=merchant_p,
        billers=billers,
        cash_atm=cash_atm,
        cash_counter=cash_counter,
        exchanges=exchanges,
        shops=shops,
        payroll=payroll,
        rent=rent,
        groups=groups,
        call_centres=call_centres,
        call_centre_rate=call_centre_rate,
        rings=rings,
        registered=registered,
        resellers=resellers.astype(np.int32),
        suppliers=suppliers,
        acct_str=account_numbers(n, salt),
        bank_str=[BANK_CODES[b] for b in bank.tolist()],
        n_persons=n_persons,
        n_devices=n_devices,
        n_msisdn=n_msisdn,
        n_cells=n_cells,
        salt=salt,
    )
    for a in cash_atm.tolist():
        pop.acct_str[a] = "CASH-ATM"
    for a in cash_counter.tolist():
        pop.acct_str[a] = "CASH-COUNTER"
    return pop
