"""Invariants of the synthetic world: wire validity, order, determinism, ground-truth consistency.

Expected values come from the codec, the topic table and the brief, never from running the
simulator and pasting its output.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from streams import codec
from streams.contracts import BANKS, CHANNELS, TELECOM_KINDS, Rejection
from streams.simulator import SimEvent, World, WorldConfig
from streams.simulator.calibration import DAY_MS, DEFAULT_START_TS_MS, HOUR_MS, MINUTE_MS, recent_start_ms
from streams.timefmt import parse_ts
from streams.topics import REGISTRY, TELECOM, TRANSFERS, VICTIM_REPORTS

DECODERS = {
    TRANSFERS.name: codec.decode_transfer,
    TELECOM.name: codec.decode_telecom,
    REGISTRY.name: codec.decode_registry,
    VICTIM_REPORTS.name: codec.decode_report,
}
KINDS = {
    "ordinary",
    "new_account",
    "pass_through",
    "merchant",
    "payroll",
    "shared_device",
    "cashout_endpoint",
    "mule",
    "herder_mule",
    "dormant_mule",
    "scam_collector",
}
MULE_KINDS = {"mule", "herder_mule", "dormant_mule", "scam_collector"}


def _small(**overrides: Any) -> WorldConfig:
    base = {"accounts": 2_500, "days": 1.5, "seed": 11, "scam_cases_per_day": 40.0}
    return WorldConfig(**{**base, **overrides})


@pytest.fixture(scope="module")
def world() -> World:
    return World(_small())


@pytest.fixture(scope="module")
def events(world: World) -> list[SimEvent]:
    return list(world.events())


@pytest.fixture(scope="module")
def transfers(events: list[SimEvent]) -> dict[str, dict[str, Any]]:
    return {e.value["transfer_id"]: e.value for e in events if e.topic == TRANSFERS.name}


def _satang(value: dict[str, Any]) -> int:
    return codec.parse_amount_satang(value["amount"])


def test_every_record_decodes_without_rejection(world: World) -> None:
    """Decoded from the exact bytes the sinks write (``records``, proven equal to ``events``),
    by a worker whose clock says the world just ended."""
    topics = set()
    for topic, ts, _, line in world.records():
        record = DECODERS[topic](line.encode(), world.config.end_ts_ms)
        assert not isinstance(record, Rejection), (topic, record, line)
        assert record.ts_ms == ts
        topics.add(topic)
    assert topics == set(DECODERS)


def _moved_back(world: World) -> tuple[list, list]:
    """Events and labels with times as offsets from the world's start (``opened_ts`` dropped:
    account-opening dates are clamped to 2015, so they do not move with the world)."""
    start = world.config.start_ts_ms
    events = []
    for topic, ts, key, line in world.records():
        value = json.loads(line)
        value.pop("opened_ts", None)
        value["ts"] = parse_ts(value["ts"]) - start
        events.append((topic, ts - start, key, value))
    return events, [(bank, account, mule, kind) for bank, account, mule, _, kind in world.labels()]


def test_a_world_dated_for_live_traffic_is_the_same_world_and_passes_a_later_clock() -> None:
    """Tests stream worlds into workers whose clock judges event times: started by
    ``recent_start_ms(weekly=True)`` they are the default world moved by whole weeks, on any
    run day, and pass ingest in 2028 when the default one is dead-lettered as too old."""
    now = DEFAULT_START_TS_MS + 578 * DAY_MS + 5 * HOUR_MS  # 2028-06-01 05:00 UTC
    start = recent_start_ms(0.35, now, age_days=8, weekly=True)
    size = {"accounts": 500, "days": 0.35, "seed": 13}
    recent, default = World(WorldConfig(**size, start_ts_ms=start)), World(WorldConfig(**size))
    assert start % DAY_MS == 0 and (start - DEFAULT_START_TS_MS) % (7 * DAY_MS) == 0
    assert now - 16 * DAY_MS < start and recent.config.end_ts_ms <= now - 8 * DAY_MS
    assert _moved_back(recent) == _moved_back(default)
    for topic, _, _, line in recent.records():
        assert not isinstance(DECODERS[topic](line.encode(), now), Rejection)
    _, _, _, line = next(r for r in default.records() if r[0] == TRANSFERS.name)
    assert DECODERS[TRANSFERS.name](line.encode(), now).reason == "timestamp_too_old"  # type: ignore[union-attr]


def test_wire_spellings_are_the_raw_forms_the_banks_send(events: list[SimEvent]) -> None:
    for e in events:
        v = e.value
        if e.topic == TRANSFERS.name:
            whole, frac = v["amount"].split(".")
            assert whole.isdigit() and len(frac) == 2
            assert v["src_bank"] in BANKS and v["dst_bank"] in BANKS and v["channel"] in CHANNELS
            if "src_msisdn" in v:
                assert v["src_msisdn"].startswith("0") and len(v["src_msisdn"]) == 10
        elif e.topic == REGISTRY.name:
            if "national_id" in v:
                assert len(v["national_id"]) == 13 and v["national_id"].isdigit()
            assert isinstance(v["opened_ts"], int) and v["opened_ts"] <= v["ts"]
        elif e.topic == TELECOM.name:
            assert v["kind"] in TELECOM_KINDS and v["msisdn_a"].isdigit()


def test_keys_follow_the_topic_table(events: list[SimEvent]) -> None:
    key_of = {
        TRANSFERS.name: lambda v: f"{v['src_bank']}:{v['src_account']}",
        TELECOM.name: lambda v: v["msisdn_a"],
        REGISTRY.name: lambda v: f"{v['bank']}:{v['account']}",
        VICTIM_REPORTS.name: lambda v: f"{v['victim_bank']}:{v['victim_account']}",
    }
    for e in events:
        assert e.key == key_of[e.topic](e.value)


def test_events_are_in_non_decreasing_time_inside_the_world(
    world: World, events: list[SimEvent]
) -> None:
    ts = [e.ts_ms for e in events]
    assert ts == sorted(ts)
    assert world.config.start_ts_ms <= ts[0] and ts[-1] < world.config.end_ts_ms


def test_ids_are_unique(events: list[SimEvent]) -> None:
    for topic, field in (
        (TRANSFERS.name, "transfer_id"),
        (TELECOM.name, "event_id"),
        (VICTIM_REPORTS.name, "report_id"),
    ):
        ids = [e.value[field] for e in events if e.topic == topic]
        assert len(ids) == len(set(ids))


def test_sim_events_are_frozen(events: list[SimEvent]) -> None:
    event = events[0]
    assert type(event) is SimEvent
    with pytest.raises(FrozenInstanceError):
        event.ts_ms = 0  # type: ignore[misc]


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    tiny = _small(accounts=1_000, days=0.5, scam_cases_per_day=20.0)
    first = [(e.topic, e.ts_ms, e.key, e.value) for e in World(tiny).events()]
    again = World(tiny)
    assert first == [(e.topic, e.ts_ms, e.key, e.value) for e in again.events()]
    assert first == [(e.topic, e.ts_ms, e.key, e.value) for e in again.events()]  # re-iterable
    other = [
        (e.topic, e.ts_ms, e.key, e.value)
        for e in World(_small(accounts=1_000, days=0.5, seed=12)).events()
    ]
    assert other != first


def test_records_are_the_events_encoded(world: World, events: list[SimEvent]) -> None:
    """The sinks' fast text path must be byte-identical to encoding ``events()``."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    records = list(world.records())
    assert len(records) == len(events)
    for (topic, ts, key, line), e in zip(records, events, strict=True):
        assert (topic, ts, key, line) == (e.topic, e.ts_ms, e.key, encode(e.value))


def test_labels_cover_every_account_and_agree_with_kinds(
    world: World, events: list[SimEvent]
) -> None:
    labels = {f"{b}:{a}": (m, s, k) for b, a, m, s, k in world.labels()}
    assert len(labels) == world.config.accounts
    for e in events:
        if e.topic == TRANSFERS.name:
            assert f"{e.value['src_bank']}:{e.value['src_account']}" in labels
            assert f"{e.value['dst_bank']}:{e.value['dst_account']}" in labels
        elif e.topic == REGISTRY.name:
            assert e.key in labels
    for is_mule, since, kind in labels.values():
        assert kind in KINDS
        assert is_mule == int(kind in MULE_KINDS)
        assert (since is not None) == bool(is_mule)
    registered = {e.key for e in events if e.topic == REGISTRY.name}
    assert registered == set(labels)  # every account gets a KYC record


def test_some_mules_are_old_and_some_merchants_new(world: World) -> None:
    """Brief: 30% of closed mules were recently opened, so 'new' cannot be the whole story."""
    pop = world.population
    start = world.config.start_ts_ms
    labels = list(world.labels())
    ages = {f"{b}:{a}": start - int(pop.opened_ts[i]) for i, (b, a, *_rest) in enumerate(labels)}
    mule_ages = [ages[f"{b}:{a}"] for b, a, m, _, _ in labels if m]
    merchant_ages = [ages[f"{b}:{a}"] for b, a, _, _, k in labels if k == "merchant"]
    assert any(age > 365 * DAY_MS for age in mule_ages)
    assert any(age < 30 * DAY_MS for age in merchant_ages)


def test_cases_match_the_emitted_stream(
    world: World, events: list[SimEvent], transfers: dict[str, dict[str, Any]]
) -> None:
    cases = world.cases()
    assert len(cases) >= 40
    reports = {e.value["report_id"]: e.value for e in events if e.topic == VICTIM_REPORTS.name}
    labels = {f"{b}:{a}": k for b, a, _, _, k in world.labels()}
    for case in cases:
        victim = case["victim"]
        victim_sum = 0
        for tid in case["victim_transfer_ids"]:
            t = transfers[tid]
            assert (t["src_bank"], t["src_account"]) == (victim["bank"], victim["account"])
            victim_sum += _satang(t)
        assert victim_sum == case["loss_satang"]
        assert case["first_ts_ms"] == min(transfers[t]["ts"] for t in case["victim_transfer_ids"])
        for hop in case["chain"]:
            t = transfers[hop["transfer_id"]]
            assert (t["src_bank"], t["src_account"], t["dst_bank"], t["dst_account"], t["ts"]) == (
                hop["src_bank"],
                hop["src_account"],
                hop["dst_bank"],
                hop["dst_account"],
                hop["ts_ms"],
            )
            assert _satang(t) == hop["amount_satang"]
            assert 1 <= hop["hop"] <= 6
            dst_kind = labels[f"{hop['dst_bank']}:{hop['dst_account']}"]
            assert dst_kind in MULE_KINDS | {"cashout_endpoint"}
        assert set(case["victim_transfer_ids"]) <= {h["transfer_id"] for h in case["chain"]}
        assert all(labels[m] in MULE_KINDS for m in case["mules"])
        if case["report"] is not None:
            report = reports[case["report"]["report_id"]]
            assert report["transfer_ids"] == case["victim_transfer_ids"]
            assert (
                report["ts"] == case["report"]["ts_ms"]
                and report["channel"] == case["report"]["channel"]
            )
            assert (report["victim_bank"], report["victim_account"]) == (
                victim["bank"],
                victim["account"],
            )
            assert report["ts"] > max(transfers[t]["ts"] for t in case["victim_transfer_ids"])
    assert {c["scam_type"] for c in cases} == {"call_centre", "investment", "romance", "loan_fee"}
    assert len(reports) == sum(c["report"] is not None for c in cases)


def _flows(case: dict[str, Any]) -> dict[str, list[tuple[int, int]]]:
    """Per mule: (ts, +amount in / -amount out) of this case's money."""
    flows: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for hop in case["chain"]:
        flows[f"{hop['dst_bank']}:{hop['dst_account']}"].append(
            (hop["ts_ms"], hop["amount_satang"])
        )
        flows[f"{hop['src_bank']}:{hop['src_account']}"].append(
            (hop["ts_ms"], -hop["amount_satang"])
        )
    return {m: sorted(flows[m], key=lambda f: (f[0], -f[1])) for m in case["mules"]}


def test_no_mule_forwards_money_it_has_not_received(world: World) -> None:
    for case in world.cases():
        for mule, flow in _flows(case).items():
            balance, received_at = 0, []
            for ts, amount in flow:
                if amount > 0:
                    received_at.append(ts)
                else:
                    assert received_at and ts > received_at[0], (case["case_id"], mule)
                balance += amount
                assert balance >= 0, (case["case_id"], mule)


def test_mules_keep_only_a_small_cut() -> None:
    """Once a mule has had time to forward (delay <= 24 h, branch waits, ATM bursts), little stays.

    Bound from the config: cut <= 3% plus, per forward, < 100 THB left by cash in hundreds.
    """
    cfg = _small(accounts=2_000, days=4.0, scam_cases_per_day=20.0)
    w = World(cfg)
    checked = 0
    for case in w.cases():
        for mule, flow in _flows(case).items():
            inflows = [a for _, a in flow if a > 0]
            if max(ts for ts, a in flow if a > 0) > cfg.end_ts_ms - int(2.5 * DAY_MS):
                continue
            kept = sum(a for _, a in flow)
            assert kept <= 0.05 * sum(inflows) + 10_000 * len(inflows), (case["case_id"], mule)
            checked += 1
    assert checked > 50


def test_call_centre_victims_mostly_report_within_half_an_hour(
    world: World, transfers: dict[str, dict[str, Any]]
) -> None:
    """Brief: victims usually realise 15-30 minutes after hanging up."""
    delays = [
        (c["report"]["ts_ms"] - max(transfers[t]["ts"] for t in c["victim_transfer_ids"]))
        / MINUTE_MS
        for c in world.cases()
        if c["scam_type"] == "call_centre" and c["report"] is not None
    ]
    assert len(delays) >= 10
    assert sum(15 <= d <= 30 for d in delays) / len(delays) > 0.4


def test_scam_numbers_dial_over_a_hundred_a_day(world: World, events: list[SimEvent]) -> None:
    """Brief: numbers making >100 calls/day get suspended; farm SIMs dial like that."""
    numbers = {n for c in world.cases() for n in c["scam_msisdns"]}
    assert numbers
    calls = defaultdict(int)
    for e in events:
        if e.topic == TELECOM.name and e.value["kind"] == "call" and e.value["msisdn_a"] in numbers:
            calls[e.value["msisdn_a"]] += 1
    days = world.config.days
    assert max(calls.values()) / days > 100


def test_legit_business_call_centres_also_dial_over_a_hundred_a_day(
    world: World, events: list[SimEvent]
) -> None:
    scam = {n for c in world.cases() for n in c["scam_msisdns"]}
    calls = defaultdict(int)
    for e in events:
        if (
            e.topic == TELECOM.name
            and e.value["kind"] == "call"
            and e.value["msisdn_a"] not in scam
        ):
            calls[e.value["msisdn_a"]] += 1
    assert sum(c / world.config.days > 100 for c in calls.values()) >= 2


def test_small_test_transfers_reach_new_mules(world: World, events: list[SimEvent]) -> None:
    mules = {f"{b}:{a}" for b, a, m, _, _ in world.labels() if m}
    tests = [
        e
        for e in events
        if e.topic == TRANSFERS.name
        and e.key in mules
        and f"{e.value['dst_bank']}:{e.value['dst_account']}" in mules
        and _satang(e.value) <= 1_000
    ]
    assert tests


def test_labels_name_every_hard_negative_kind_and_the_allow_list_leaves_some_out(world: World) -> None:
    """The evaluation splits innocents by these kinds; street vendors are not allow-listed."""
    kinds = [k for *_, k in world.labels()]
    assert {"merchant", "payroll", "shared_device", "pass_through", "new_account", "ordinary"} <= set(kinds)
    allowed = {(b, a) for b, a, _ in world.allow_list()}
    merchants = {(b, a) for b, a, _, _, k in world.labels() if k == "merchant"}
    assert merchants & allowed and merchants - allowed
    assert all(k in {"merchant", "payroll", "cashout_endpoint"} for *_, k in world.allow_list())


def test_honest_accounts_pass_big_credits_on_within_hours(
    world: World, events: list[SimEvent]
) -> None:
    """Brief hard negative: honest people who receive a large sum and pay >=80% on quickly."""
    kinds = {f"{b}:{a}": (m, k) for b, a, m, _, k in world.labels()}
    credits: dict[str, list[tuple[int, int]]] = defaultdict(list)
    debits: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for e in events:
        if e.topic == TRANSFERS.name:
            credits[f"{e.value['dst_bank']}:{e.value['dst_account']}"].append((e.ts_ms, _satang(e.value)))
            debits[e.key].append((e.ts_ms, _satang(e.value)))
    passers = set()
    for account, ins in credits.items():
        is_mule, kind = kinds[account]
        if is_mule or kind == "cashout_endpoint":
            continue
        for ts, amount in ins:
            if amount >= 2_000_000:  # 20,000 THB
                out = sum(a for t, a in debits.get(account, []) if ts < t <= ts + 6 * 3_600_000)
                if out >= 0.8 * amount:
                    passers.add(kinds[account][1])
    assert {"ordinary", "shared_device"} & passers or "new_account" in passers


def _is_night(ts_ms: int) -> bool:
    """00:00-05:59 Bangkok, as the `night` feature reads it."""
    return (ts_ms + 7 * HOUR_MS) // HOUR_MS % 24 < 6


@pytest.fixture(scope="module")
def busy_world() -> World:
    """Five days, 150 cases: enough victim payments to tell the hours apart."""
    return World(_small(accounts=2_000, days=5.0, seed=9, scam_cases_per_day=30.0))


def test_victims_pay_in_the_scammers_hours_not_evenly_round_the_clock(busy_world: World) -> None:
    """Spread evenly over the day over a quarter of victim payments fell at night (6 of 24
    hours; 27% in this world), against a few percent of honest transfers: `night` gave mules away."""
    paid = {tid for c in busy_world.cases() for tid in c["victim_transfer_ids"]}
    scam = paid | {hop["transfer_id"] for c in busy_world.cases() for hop in c["chain"]}
    times = {e.value["transfer_id"]: e.value["ts"] for e in busy_world.events() if e.topic == TRANSFERS.name}
    honest = [ts for tid, ts in times.items() if tid not in scam]
    assert len(paid) >= 200
    night_paid = sum(_is_night(times[tid]) for tid in paid) / len(paid)
    assert night_paid < 0.15 and night_paid < 5 * sum(map(_is_night, honest)) / len(honest)


def test_no_case_credits_one_mule_at_two_hops(busy_world: World) -> None:
    """A mule chosen for a forward is at that hop from then on, even before its credit is sent,
    and a victim's payee is hop 1 from the start (a dozen collisions in this world before)."""
    for case in busy_world.cases():
        hops: dict[str, set[int]] = defaultdict(set)
        for hop in case["chain"]:
            if f"{hop['dst_bank']}:{hop['dst_account']}" in case["mules"]:
                hops[f"{hop['dst_bank']}:{hop['dst_account']}"].add(hop["hop"])
        assert all(len(at) == 1 for at in hops.values()), (case["case_id"], dict(hops))
