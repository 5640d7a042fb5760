"""How the generated world compares with the brief, and how badly single mule rules do on it.

The report is computed from the emitted records and the ground truth only (never from the
generator's internals), so it can be run on a data directory written long ago. The single
rules are the brief's mule signals taken one at a time; the point of the world is that each
fires on a real share of honest accounts, so only a model combining them can do well.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from streams.simulator.calibration import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    REAL_CASES_PER_DAY_PER_MILLION_ACCOUNTS,
    REAL_MEAN_LOSS_THB,
    REAL_NEW_MULE_SHARE,
)
from streams.simulator.world import World
from streams.topics import REGISTRY, TELECOM, TRANSFERS

PASS_THROUGH_SHARE = 0.8
PASS_THROUGH_WINDOW_MS = 48 * HOUR_MS
PASS_THROUGH_MIN_CREDIT_SATANG = 100_000  # 1,000 THB: ignore pocket money and test transfers
FAN_IN_PAYERS = 10
FAN_IN_WINDOW_MS = 24 * HOUR_MS
NEW_ACCOUNT_MS = 30 * DAY_MS
SHARED_DEVICE_ACCOUNTS = 3
HARD_NEGATIVE_KINDS = ("merchant", "payroll", "shared_device", "pass_through", "new_account")


class Row(NamedTuple):
    metric: str
    realised: float | str
    target: str
    note: str


@dataclass
class _Facts:
    index: dict[str, int]
    is_mule: np.ndarray
    mule_since: np.ndarray
    kinds: list[str]
    cases: list[dict[str, Any]]
    days: float
    src: list[int] = field(default_factory=list)
    dst: list[int] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    amount: list[int] = field(default_factory=list)
    opened: dict[int, int] = field(default_factory=dict)
    device_accounts: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    scam_calls: Counter[tuple[str, int]] = field(default_factory=Counter)


def _satang(text: str) -> int:
    """Examples:
    >>> _satang("1500.00"), _satang("0.5"), _satang("7")
    (150000, 50, 700)
    """
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def _labels_facts(
    rows: Iterable[tuple[str, str, int, int | None, str]], cases: list[dict[str, Any]], days: float
) -> _Facts:
    index: dict[str, int] = {}
    mule, since, kinds = [], [], []
    for bank, account, is_mule, mule_since, kind in rows:
        index[f"{bank}:{account}"] = len(index)
        mule.append(int(is_mule))
        since.append(-1 if mule_since is None else int(mule_since))
        kinds.append(kind)
    return _Facts(
        index, np.array(mule, dtype=bool), np.array(since, dtype=np.int64), kinds, cases, days
    )


def _collect(facts: _Facts, pairs: Iterable[tuple[str, dict[str, Any]]]) -> None:
    index = facts.index
    scam_numbers = {n for case in facts.cases for n in case.get("scam_msisdns", [])}
    for topic, v in pairs:
        if topic == TRANSFERS.name:
            s = index[f"{v['src_bank']}:{v['src_account']}"]
            facts.src.append(s)
            facts.dst.append(index[f"{v['dst_bank']}:{v['dst_account']}"])
            facts.ts.append(v["ts"])
            facts.amount.append(_satang(v["amount"]))
            if "src_device_id" in v:
                facts.device_accounts[v["src_device_id"]].add(s)
        elif topic == REGISTRY.name:
            a = index[f"{v['bank']}:{v['account']}"]
            facts.opened[a] = v["opened_ts"]
            if "device_id" in v:
                facts.device_accounts[v["device_id"]].add(a)
        elif topic == TELECOM.name and v["kind"] == "call" and v["msisdn_a"] in scam_numbers:
            facts.scam_calls[(v["msisdn_a"], v["ts"] // DAY_MS)] += 1


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _facts_from_dir(path: Path) -> _Facts:
    cases = list(_read_jsonl(path / "cases.jsonl"))
    with (path / "labels.csv").open(newline="") as fh:
        rows = [
            (
                r["bank"],
                r["account"],
                int(r["is_mule"]),
                int(r["mule_since"]) if r["mule_since"] else None,
                r["kind"],
            )
            for r in csv.DictReader(fh)
        ]
    config_path = path / "config.json"
    days = json.loads(config_path.read_text())["days"] if config_path.exists() else 0.0
    facts = _labels_facts(rows, cases, days)
    for topic in (REGISTRY.name, TELECOM.name, TRANSFERS.name):
        _collect(facts, ((topic, v) for v in _read_jsonl(path / f"{topic}.jsonl")))
    if not facts.days and facts.ts:
        facts.days = (max(facts.ts) - min(facts.ts)) / DAY_MS
    return facts


def _facts_from_world(world: World) -> _Facts:
    # cases() first (it runs the world once if needed) so scam numbers are known while the
    # replayed stream goes by: two passes over the same seeded world, constant memory.
    facts = _labels_facts(world.labels(), world.cases(), world.config.days)
    _collect(facts, ((e.topic, e.value) for e in world.events()))
    return facts


# --- single mule rules ----------------------------------------------------------------------


def _pass_through(
    f: _Facts, src: np.ndarray, dst: np.ndarray, ts: np.ndarray, amount: np.ndarray
) -> np.ndarray:
    """Accounts with a credit >=1,000 THB of which >=80% left within 48 h."""
    n = len(f.kinds)
    t0 = int(ts.min())
    key_out = (src.astype(np.int64) << 40) + (ts - t0)
    order = np.argsort(key_out, kind="stable")
    key_sorted = key_out[order]
    cum = np.concatenate([[0], np.cumsum(amount[order])])
    credits = np.flatnonzero(amount >= PASS_THROUGH_MIN_CREDIT_SATANG)
    base = (dst[credits].astype(np.int64) << 40) + (ts[credits] - t0)
    lo = np.searchsorted(key_sorted, base, side="right")
    hi = np.searchsorted(key_sorted, base + PASS_THROUGH_WINDOW_MS, side="right")
    out_sum = cum[hi] - cum[lo]
    hit = out_sum >= PASS_THROUGH_SHARE * amount[credits]
    flags = np.zeros(n, dtype=bool)
    flags[dst[credits][hit]] = True
    return flags


def _fan_in(f: _Facts, src: np.ndarray, dst: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Accounts paid by >=10 distinct payers inside some 24 h window (exact sliding window)."""
    flags = np.zeros(len(f.kinds), dtype=bool)
    counts = np.bincount(dst, minlength=len(f.kinds))
    busy = counts >= FAN_IN_PAYERS
    keep = busy[dst]
    d, s, t = dst[keep], src[keep], ts[keep]
    order = np.lexsort((t, d))
    d, s, t = d[order].tolist(), s[order].tolist(), t[order].tolist()
    i = 0
    while i < len(d):
        j = i
        account = d[i]
        window: deque[tuple[int, int]] = deque()
        payers: Counter[int] = Counter()
        while j < len(d) and d[j] == account:
            window.append((t[j], s[j]))
            payers[s[j]] += 1
            while window[0][0] < t[j] - FAN_IN_WINDOW_MS:
                _, old = window.popleft()
                payers[old] -= 1
                if not payers[old]:
                    del payers[old]
            if len(payers) >= FAN_IN_PAYERS:
                flags[account] = True
            j += 1
        i = j
    return flags


def _new_account(f: _Facts, src: np.ndarray, dst: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Accounts younger than 30 days at their first transfer in the data."""
    n = len(f.kinds)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, src, ts)
    np.minimum.at(first, dst, ts)
    opened = np.full(n, np.iinfo(np.int64).min // 2, dtype=np.int64)
    for a, o in f.opened.items():
        opened[a] = o
    return (first - opened) < NEW_ACCOUNT_MS


def _shared_device(f: _Facts) -> np.ndarray:
    """Accounts on a device that >=3 accounts use (registry links or transfer devices)."""
    flags = np.zeros(len(f.kinds), dtype=bool)
    for accounts in f.device_accounts.values():
        if len(accounts) >= SHARED_DEVICE_ACCOUNTS:
            flags[list(accounts)] = True
    return flags


# --- calibration metrics --------------------------------------------------------------------


def _quantiles(values: list[float], qs: tuple[float, ...]) -> list[float]:
    return [float(np.quantile(values, q)) for q in qs] if values else [float("nan")] * len(qs)


def _case_rows(f: _Facts) -> list[Row]:
    n_accounts = len(f.kinds)
    rows: list[Row] = []
    per_million = len(f.cases) / max(f.days, 1e-9) / (n_accounts / 1e6)
    rows.append(
        Row(
            "scam cases per day per million accounts",
            round(per_million, 2),
            f"{REAL_CASES_PER_DAY_PER_MILLION_ACCOUNTS:.1f} (real)",
            f"boosted x{per_million / REAL_CASES_PER_DAY_PER_MILLION_ACCOUNTS:.0f} for training "
            "(knob scam_cases_per_day)",
        )
    )
    losses = [c["loss_satang"] / 100 for c in f.cases]
    rows.append(
        Row(
            "mean loss per case (THB)",
            round(statistics.fmean(losses)) if losses else float("nan"),
            f"{REAL_MEAN_LOSS_THB:,.0f}",
            f"{len(losses)} cases; heavy tailed and cut at the world's end (payments due later are "
            "never made), so short worlds fall below the planned mean",
        )
    )
    rows.append(
        Row(
            "median loss per case (THB)",
            round(statistics.median(losses)) if losses else float("nan"),
            "well below the mean",
            "lognormal per scam type",
        )
    )
    depth = Counter()
    delays: list[float] = []
    for case in f.cases:
        mules = set(case["mules"])
        first_in: dict[str, int] = {}
        first_out: dict[str, int] = {}
        max_hop = 0
        for hop in case["chain"]:
            s, d = (
                f"{hop['src_bank']}:{hop['src_account']}",
                f"{hop['dst_bank']}:{hop['dst_account']}",
            )
            if d in mules:
                max_hop = max(max_hop, hop["hop"])
                first_in[d] = min(first_in.get(d, hop["ts_ms"]), hop["ts_ms"])
            if s in mules:
                first_out[s] = min(first_out.get(s, hop["ts_ms"]), hop["ts_ms"])
        depth[max_hop] += 1
        delays += [(first_out[m] - first_in[m]) / MINUTE_MS for m in first_out if m in first_in]
    total = sum(depth.values()) or 1
    rows.append(
        Row(
            "mule hops per case (share by depth)",
            " ".join(f"{k}:{v / total:.0%}" for k, v in sorted(depth.items())),
            "1-5+ hops (brief)",
            "depth = deepest mule reached inside the world",
        )
    )
    p10, p50, p90 = _quantiles(delays, (0.1, 0.5, 0.9))
    rows.append(
        Row(
            "forwarding delay p10/p50/p90 (minutes)",
            f"{p10:.1f}/{p50:.1f}/{p90:.1f}",
            "seconds to hours (brief)",
            f"{len(delays)} mule-case pairs",
        )
    )
    return rows


def _account_rows(f: _Facts) -> list[Row]:
    rows: list[Row] = []
    mule_idx = np.flatnonzero(f.is_mule & (f.mule_since >= 0))
    ages = [
        (f.mule_since[a] - f.opened[a]) < NEW_ACCOUNT_MS for a in mule_idx.tolist() if a in f.opened
    ]
    rows.append(
        Row(
            "share of mules that are new accounts (<30 days at mule_since)",
            round(float(np.mean(ages)), 3) if ages else float("nan"),
            f"{REAL_NEW_MULE_SHARE:.2f}",
            "brief: 30% of closed mule accounts were recently opened",
        )
    )
    per_day: dict[str, list[int]] = defaultdict(list)
    for (number, _), count in f.scam_calls.items():
        per_day[number].append(count)
    daily = [statistics.fmean(v) for v in per_day.values()]
    rows.append(
        Row(
            "calls per scam SIM per active day (median)",
            round(statistics.median(daily)) if daily else float("nan"),
            ">100",
            "brief: numbers making >100 calls/day get suspended",
        )
    )
    if not f.ts:
        return rows
    src, dst = np.array(f.src, dtype=np.int64), np.array(f.dst, dtype=np.int64)
    ts, amount = np.array(f.ts, dtype=np.int64), np.array(f.amount, dtype=np.int64)
    active = np.zeros(len(f.kinds), dtype=bool)
    active[src] = True
    active[dst] = True
    legit, mules = active & ~f.is_mule, active & f.is_mule
    rules = {
        "pass-through (>=80% out within 48 h)": _pass_through(f, src, dst, ts, amount),
        "fan-in (>=10 distinct payers in 24 h)": _fan_in(f, src, dst, ts),
        "new account (<30 days)": _new_account(f, src, dst, ts),
        "shared device (>=3 accounts)": _shared_device(f),
    }
    rows.append(_outgoing_row(f, src, ts))
    shared = rules["shared device (>=3 accounts)"]
    rows.append(
        Row(
            "active mules on a device no other account uses",
            round(float((~shared[mules]).mean()), 3) if mules.any() else float("nan"),
            "a real share (solo recruits, woken accounts on a new phone)",
            "the shared-device rule cannot see these",
        )
    )
    kinds = np.array(f.kinds)
    for name, flags in rules.items():
        legit_rate = float(flags[legit].mean()) if legit.any() else float("nan")
        mule_rate = float(flags[mules].mean()) if mules.any() else float("nan")
        matched = int(flags[legit].sum()) + int(flags[mules].sum())
        by_kind = ", ".join(
            f"{k} {float(flags[legit & (kinds == k)].mean()):.0%}"
            for k in HARD_NEGATIVE_KINDS
            if (legit & (kinds == k)).any()
        )
        rows.append(
            Row(
                f"rule {name}: legit accounts matching",
                round(legit_rate, 4),
                "substantial (hard negatives)",
                f"{int(flags[legit].sum())} of {int(legit.sum())} active legit accounts; "
                f"by kind: {by_kind}",
            )
        )
        rows.append(
            Row(
                f"rule {name}: mules matching",
                round(mule_rate, 4),
                "well below 1 alone",
                f"{int(flags[mules].sum())} of {int(mules.sum())} active mules",
            )
        )
        rows.append(
            Row(
                f"rule {name}: matched accounts that are mules",
                round(int(flags[mules].sum()) / matched, 4) if matched else float("nan"),
                "< 0.5 (most hits innocent)",
                "what freezing on this rule alone would do",
            )
        )
    return rows


def _outgoing_row(f: _Facts, src: np.ndarray, ts: np.ndarray) -> Row:
    """Brief: most mules made >=5 outgoing transfers after the victim's credit (here: 48 h)."""
    first_credit: dict[int, int] = {}
    for case in f.cases:
        mules = set(case["mules"])
        for hop in case["chain"]:
            key = f"{hop['dst_bank']}:{hop['dst_account']}"
            if key in mules:
                a = f.index[key]
                first_credit[a] = min(first_credit.get(a, hop["ts_ms"]), hop["ts_ms"])
    if not first_credit:
        return Row(
            "mules with >=5 outgoing transfers within 48 h of first scam credit",
            float("nan"),
            "most",
            "",
        )
    t0 = int(ts.min())
    keys = np.sort((src << 40) + (ts - t0))
    acc = np.array(list(first_credit), dtype=np.int64)
    start = (acc << 40) + (np.array(list(first_credit.values()), dtype=np.int64) - t0)
    count = np.searchsorted(keys, start + PASS_THROUGH_WINDOW_MS, "right") - np.searchsorted(
        keys, start, "right"
    )
    return Row(
        "mules with >=5 outgoing transfers within 48 h of first scam credit",
        round(float(np.mean(count >= 5)), 3),
        "most (brief)",
        f"{len(acc)} mules that received scam money",
    )


def calibration_report(world_or_dir: World | str | Path) -> list[Row]:
    """Rows ``(metric, realised, target, note)`` for a world or a data directory."""
    facts = (
        _facts_from_world(world_or_dir)
        if isinstance(world_or_dir, World)
        else _facts_from_dir(Path(world_or_dir))
    )
    return _case_rows(facts) + _account_rows(facts)
