"""The synthetic world: ``World(config).events()`` streams wire records in event-time order.

Generation goes day by day: each day's legitimate traffic is drawn as numpy columns, the
scam engine contributes what falls due that day, and the lot is sorted once and formatted
into wire JSON objects lazily, a chunk at a time. Memory is therefore bounded by one day,
whatever the world's length. ``World`` has no side effects: every call to ``events()``
replays the same world from the seed.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.simulator import legit, wire
from streams.simulator import scenarios as sc
from streams.simulator.calibration import DAY_MS, WorldConfig
from streams.simulator.columns import (
    NONE,
    OWN,
    TelecomCols,
    TransferCols,
    concat_telecom,
    concat_transfers,
    telecom_from_rows,
    transfers_from_rows,
)
from streams.simulator.layering import Layering, plan_scams
from streams.simulator.population import (
    CASHOUT,
    INF_MS,
    KIND_LABELS,
    MULE_KINDS,
    NEW_ACCOUNT_LABEL,
    NORMAL,
    Population,
    build_population,
)
from streams.simulator.wire import RegistryRows
from streams.topics import REGISTRY, TELECOM, TRANSFERS, VICTIM_REPORTS

CHUNK = 32_768
_REG, _TEL, _TX, _REP = range(4)  # tie order at one millisecond: who exists, who called, who paid
_TOPIC = (REGISTRY.name, TELECOM.name, TRANSFERS.name, VICTIM_REPORTS.name)
LabelRow = tuple[str, str, int, int | None, str]


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One record for one input topic: ``value`` is exactly the wire JSON object."""

    topic: str
    ts_ms: int
    key: str
    value: dict[str, Any]


@dataclass(slots=True)
class _Twin:
    """Same slots as ``SimEvent`` but mutable: built first, then relabelled as ``SimEvent``.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` per field and costs
    ~1.5 us, the largest single cost per event; a plain slotted init plus a ``__class__``
    switch (legal between identical slot layouts) costs half that and yields a real,
    immutable ``SimEvent``.
    """

    topic: str
    ts_ms: int
    key: str
    value: dict[str, Any]


def registry_schedule(pop: Population) -> RegistryRows:
    """Every KYC record the world will emit: opening (or start) plus device/phone changes."""
    cfg = pop.cfg
    n = pop.n
    acc = np.arange(n, dtype=np.int32)
    first_ts = np.maximum(pop.opened_ts, cfg.start_ts_ms)
    changed = np.flatnonzero(pop.change_ts < cfg.end_ts_ms)
    ts = np.concatenate([first_ts, pop.change_ts[changed]])
    accounts = np.concatenate([acc, changed.astype(np.int32)])
    device = np.concatenate([pop.dev_old, pop.dev_new[changed]])
    msisdn = np.concatenate([pop.msisdn_old, pop.msisdn_new[changed]])
    keep = np.flatnonzero(ts < cfg.end_ts_ms)
    keep = keep[np.argsort(ts[keep], kind="stable")]
    return RegistryRows(ts[keep], accounts[keep], device[keep], msisdn[keep])


class World:
    """A seeded world of accounts, people, phones, scams and mules (see docs/simulator.md)."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = config or WorldConfig()
        self.population = build_population(self.config)
        self._plans, self._sims = plan_scams(self.population)
        self._registry = registry_schedule(self.population)
        pop = self.population
        self._senders = np.flatnonzero((pop.kind != CASHOUT) & (pop.legit_from < INF_MS)).astype(
            np.int32
        )
        self._cases: list[dict[str, Any]] | None = None

    # --- ground truth ------------------------------------------------------------------------
    def labels(self) -> Iterator[LabelRow]:
        """``(bank, account, is_mule, mule_since_ts_ms | None, kind)`` for every account."""
        pop = self.population
        since = pop.mule_since.tolist()
        new = (pop.kind == NORMAL) & (pop.opened_ts > self.config.start_ts_ms - 30 * DAY_MS)
        for i, (kind, is_new) in enumerate(zip(pop.kind.tolist(), new.tolist(), strict=True)):
            is_mule = int(kind in MULE_KINDS)
            yield (
                pop.bank_str[i],
                pop.acct_str[i],
                is_mule,
                since[i] if is_mule else None,
                NEW_ACCOUNT_LABEL if is_new else KIND_LABELS[kind],
            )

    def allow_list(self) -> Iterator[tuple[str, str, str]]:
        """``(bank, account, kind)`` the AOC keeps: cash-out endpoints, registered merchants, payroll.

        Street vendors on personal accounts and other honest pass-through accounts are not on
        it: tracing and the model must cope with them.
        """
        pop = self.population
        for i in np.flatnonzero(pop.registered).tolist():
            yield pop.bank_str[i], pop.acct_str[i], KIND_LABELS[int(pop.kind[i])]

    def cases(self) -> list[dict[str, Any]]:
        """Ground truth per scam case; runs the world once if ``events()`` was not exhausted."""
        if self._cases is None:
            for _ in self.records():  # the cheaper of the two spellings of the same run
                pass
        assert self._cases is not None
        return self._cases

    # --- events ------------------------------------------------------------------------------
    def events(self) -> Iterator[SimEvent]:
        """Every input-topic record, in non-decreasing ``ts_ms`` across all topics."""
        twin, relabel = _Twin, SimEvent  # see _Twin
        for day in self._days():
            for topics, items in self._chunks(day, _VALUE_FORMATS, _report_value):
                for topic, (key, ts, value) in zip(topics, items, strict=True):
                    event = twin(_TOPIC[topic], ts, key, value)
                    event.__class__ = relabel  # type: ignore[assignment]
                    yield event  # type: ignore[misc]

    def records(self) -> Iterator[tuple[str, int, str, str]]:
        """``(topic, ts_ms, key, json_line)`` in the order of ``events()``, formatted directly.

        ``json_line`` equals ``json.dumps(event.value, separators=(",", ":"), ensure_ascii=False)``
        for the matching event; the sinks use this path because it is ~5x cheaper.
        """
        for day in self._days():
            for topics, items in self._chunks(day, _LINE_FORMATS, _report_line):
                for topic, (key, ts, line) in zip(topics, items, strict=True):
                    yield _TOPIC[topic], ts, key, line

    def topic_texts(self, workers: int = 1) -> Iterator[tuple[str, int, str]]:
        """``(topic, lines, text)`` blocks: each topic's records in ``events()`` order, as JSONL.

        Restricted to one topic, ``events()`` is that topic's rows sorted stably by time, so a
        day's rows can be formatted a chunk at a time in ``workers`` forked processes (they
        inherit the population) and the blocks come back in order: the same bytes for any
        number of workers. Generation stays in this process; at most ``2 * workers + 2``
        chunks are in flight, so memory stays bounded.
        """
        tasks = self._format_tasks()
        if workers <= 1:
            for topic, payload in tasks:
                yield _TOPIC[topic], *_format_block(self.population, topic, payload)
            return
        global _FORK_POPULATION
        _FORK_POPULATION = self.population
        self.population.json_parts()  # built before the fork, so workers share it
        # Garbage the parent still holds (say a RocksDB handle left in a reference cycle by
        # a test) must be freed here, not in a forked worker: there a RocksDB close waits
        # for background threads the fork did not copy, forever. Workers freeze what they
        # inherit, so their collector never frees it either.
        gc.collect()
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers, initializer=gc.freeze) as pool:
            pending: deque[tuple[int, Any]] = deque()
            for topic, payload in tasks:
                if topic == _REP:
                    pending.append((topic, _format_block(self.population, topic, payload)))
                else:
                    pending.append((topic, pool.apply_async(_format_in_worker, (topic, payload))))
                while len(pending) > 2 * workers + 2 or (pending and _ready(pending[0][1])):
                    topic_done, result = pending.popleft()
                    yield _TOPIC[topic_done], *_result(result)
            while pending:
                topic_done, result = pending.popleft()
                yield _TOPIC[topic_done], *_result(result)
        _FORK_POPULATION = None

    def _format_tasks(self) -> Iterator[tuple[int, Any]]:
        for day in self._days():
            for topic, cols in ((_REG, day.registry), (_TEL, day.telecom), (_TX, day.transfers)):
                order = np.argsort(cols.ts, kind="stable")
                for lo in range(0, len(order), CHUNK):
                    yield topic, cols.take(order[lo : lo + CHUNK])
            if day.reports:
                yield _REP, sorted(day.reports, key=lambda r: r[0])

    def _days(self) -> Iterator[_Day]:
        """The one generator of content: each day's four topics as columns, plus reports."""
        cfg, pop = self.config, self.population
        engine = Layering(pop, self._plans)
        tx_seq = ev_seq = 0
        reg = self._registry
        for d in range(cfg.day_count):
            day = legit.day_window(cfg, d)
            rng = np.random.default_rng([cfg.seed, 1, d])
            honest, telecom = self._legit_day(day, rng)
            honest.seq = np.arange(tx_seq, tx_seq + len(honest), dtype=np.int64)
            rows, tel_rows, reports, tx_seq = engine.run_until(day.t1, tx_seq + len(honest))
            transfers = concat_transfers([honest, transfers_from_rows(rows)])
            self._resolve_identity(transfers)
            telecom = concat_telecom(
                [
                    telecom,
                    sc.scam_sim_dialling(pop, self._sims, day, rng),
                    telecom_from_rows(tel_rows),
                ]
            )
            telecom = telecom.take(np.flatnonzero((telecom.ts >= day.t0) & (telecom.ts < day.t1)))
            telecom.seq = np.arange(ev_seq, ev_seq + len(telecom), dtype=np.int64)
            ev_seq += len(telecom)
            lo, hi = np.searchsorted(reg.ts, [day.t0, day.t1])
            today = RegistryRows(
                reg.ts[lo:hi], reg.acc[lo:hi], reg.device[lo:hi], reg.msisdn[lo:hi]
            )
            yield _Day(today, telecom, transfers, reports)
        self._cases = engine.ground_truth()

    def _chunks(
        self, day: _Day, formats: tuple[Any, Any, Any], report: Any
    ) -> Iterator[tuple[list[int], list[Any]]]:
        """Sort the day once, format a chunk at a time per topic, then restore ts order."""
        sizes = (len(day.registry), len(day.telecom), len(day.transfers), len(day.reports))
        ts_all = np.concatenate(
            [
                day.registry.ts,
                day.telecom.ts,
                day.transfers.ts,
                np.array([r[0] for r in day.reports], dtype=np.int64),
            ]
        )
        topic_all = np.repeat(np.arange(4, dtype=np.int8), sizes)
        row_all = np.concatenate([np.arange(s, dtype=np.int64) for s in sizes])
        order = np.argsort(ts_all, kind="stable")
        columns = (day.registry, day.telecom, day.transfers)
        for lo in range(0, len(order), CHUNK):
            o = order[lo : lo + CHUNK]
            topics, rows = topic_all[o], row_all[o]
            grouped: list[Any] = []
            for k in (_REG, _TEL, _TX):
                grouped += formats[k](self.population, columns[k], rows[topics == k])
            grouped += [report(day.reports[i]) for i in rows[topics == _REP].tolist()]
            by_topic = np.argsort(topics, kind="stable")
            back = np.empty_like(by_topic)
            back[by_topic] = np.arange(len(by_topic))
            yield topics.tolist(), list(map(grouped.__getitem__, back.tolist()))

    def _legit_day(
        self, day: legit.Day, rng: np.random.Generator
    ) -> tuple[TransferCols, TelecomCols]:
        pop, senders = self.population, self._senders
        large, sales_calls = legit.large_first_time_purchases(pop, day, rng, senders)
        purchases = legit.merchant_purchases(pop, day, rng, senders)
        parts = [
            legit.p2p_among_contacts(pop, day, rng, senders),
            purchases,
            legit.bill_payments(pop, day, rng, senders),
            large,
            legit.cash_withdrawals(pop, day, rng, senders),
            legit.crypto_and_gold_buys(pop, day, rng, senders),
            legit.payroll_runs(pop, day, rng),
            legit.rent_collection(pop, day, rng),
            legit.group_collections(pop, day, rng),
            legit.big_credits(pop, day, rng, senders),
            legit.reseller_orders(pop, day, rng),
            legit.small_credits(pop, day, rng),
        ]
        parts.append(legit.merchant_settlements(pop, day, rng, self._keep_legit(purchases, day)))
        transfers = self._keep_legit(concat_transfers(parts), day)
        anonymous = (transfers.device == OWN) & (rng.random(len(transfers)) < 0.03)
        transfers.device[anonymous] = NONE  # "most of the time": some apps send no device
        transfers.msisdn[anonymous] = NONE
        telecom = concat_telecom(
            [
                legit.contact_calls(pop, day, rng),
                legit.business_call_centres(pop, day, rng),
                legit.sim_lifecycle(pop, day, rng),
                sales_calls,
            ]
        )
        return transfers, telecom

    def _keep_legit(self, t: TransferCols, day: legit.Day) -> TransferCols:
        """Drop legit transfers outside either party's legit life or outside the day window."""
        pop = self.population
        ok = (
            (t.ts >= day.t0)
            & (t.ts < day.t1)
            & (t.src != t.dst)
            & (t.ts >= pop.legit_from[t.src])
            & (t.ts < pop.legit_until[t.src])
            & (t.ts >= pop.legit_from[t.dst])
            & (t.ts < pop.legit_until[t.dst])
        )
        return t.take(np.flatnonzero(ok))

    def _resolve_identity(self, t: TransferCols) -> None:
        """``OWN`` device/phone -> the payer's registered ones at the transfer's time."""
        pop = self.population
        after = t.ts >= pop.change_ts[t.src]
        own_dev = t.device == OWN
        t.device[own_dev] = np.where(after, pop.dev_new[t.src], pop.dev_old[t.src])[own_dev]
        own_ms = t.msisdn == OWN
        t.msisdn[own_ms] = np.where(after, pop.msisdn_new[t.src], pop.msisdn_old[t.src])[own_ms]


@dataclass(slots=True)
class _Day:
    registry: RegistryRows
    telecom: TelecomCols
    transfers: TransferCols
    reports: list[tuple[int, str, dict[str, Any]]]


_VALUE_FORMATS = (wire.registry_values, wire.telecom_values, wire.transfer_values)
_LINE_FORMATS = (wire.registry_lines, wire.telecom_lines, wire.transfer_lines)
_report_json = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False
).encode


_FORK_POPULATION: Population | None = None  # set just before forking a formatting pool


def _format_block(pop: Population, topic: int, payload: Any) -> tuple[int, str]:
    if topic == _REP:
        lines = [_report_line(r)[2] for r in payload]
    elif topic == _TX:
        lines = wire.transfer_text(pop, payload)
    elif topic == _TEL:
        lines = wire.telecom_text(pop, payload)
    else:
        lines = [line for _, _, line in _LINE_FORMATS[topic](pop, payload, np.arange(len(payload)))]
    return len(lines), "\n".join(lines) + "\n"


def _format_in_worker(topic: int, payload: Any) -> tuple[int, str]:
    assert _FORK_POPULATION is not None, "formatting workers must be forked by topic_texts"
    return _format_block(_FORK_POPULATION, topic, payload)


def _ready(result: Any) -> bool:
    return isinstance(result, tuple) or result.ready()


def _result(result: Any) -> tuple[int, str]:
    return result if isinstance(result, tuple) else result.get()


def _report_value(report: tuple[int, str, dict[str, Any]]) -> tuple[str, int, dict[str, Any]]:
    ts, key, value = report
    return key, ts, value


def _report_line(report: tuple[int, str, dict[str, Any]]) -> tuple[str, int, str]:
    ts, key, value = report
    return key, ts, _report_json(value)
