"""A traffic scenario whose decisions do not depend on how partitions interleave, and the
observables the fault tests compare: freeze requests, committed offsets, table changelogs.

Why the scenario looks like this: a fault test compares a run that crashed (or lost a worker,
or lost the broker) with one that did not. That comparison is only sound if the undisturbed
outcome is unique. Here every account receives money from at most one payer, so each
account's signals arrive in one order whatever the scheduling; and the phases (registry,
then transfers, then victim reports) are each fully processed before the next is sent. The
offline replay (``models.replay``) of the same records is then *the* uninterrupted run.

Concretely: a mule's credit reaches it in two hops (payer's agent -> mule) and its own debit in
one (ingest -> mule), so a debit sent right after the credit can overtake it live but never
offline; hence debits of money received in this scenario (the mules forwarding) are a phase of
their own. Transfers use the payer's registered phone and device, and every account makes at
most one payment, so identity feedback never lands between two of an account's scored events.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kafka_helpers import RunningWorker, messages_to_end, pace, read_to_end

from features.state import AccountState
from streams.contracts import BANKS
from streams.topics import CONTROL, REGISTRY, TRANSFERS, VICTIM_REPORTS
from topologies.broker import EmbeddedBroker, free_port
from topologies.worker import spawn_worker, stop_process, wait_ready

Message = tuple[str, bytes, bytes]  # topic, key, value
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass
class Scenario:
    """Three phases of input; each must be fully processed before the next is sent."""

    registry: list[Message] = field(default_factory=list)
    transfers: list[Message] = field(default_factory=list)  # victims and legit payers pay
    forwards: list[Message] = field(default_factory=list)  # mules pass the money on
    reports: list[Message] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)  # raw identifiers in the input, for privacy scans
    national_ids: list[str] = field(default_factory=list)

    @property
    def phases(self) -> tuple[list[Message], ...]:
        return self.registry, self.transfers, self.forwards, self.reports

    def write_dir(self, out: Path) -> Path:
        """The scenario as a data directory, for ``models.replay.replay_decisions``."""
        out.mkdir(parents=True, exist_ok=True)
        for topic in (REGISTRY.name, TRANSFERS.name, VICTIM_REPORTS.name):
            lines = [value for phase in self.phases for t, _, value in phase if t == topic]
            (out / f"{topic}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        return out


def build_scenario(seed: int, now_ms: int, cases: int = 30, legit_pairs: int = 800) -> Scenario:
    """Scam cases (victim -> fresh mule -> second mule, then a report) among legit payer->payee pairs."""
    rng = random.Random(seed)
    banks = sorted(BANKS)
    sc = Scenario()
    base = now_ms - 6 * HOUR_MS
    serial = iter(range(10**9))

    def account() -> tuple[str, str]:
        n = next(serial)
        return banks[n % len(banks)], f"{100 + n:03d}-{rng.randrange(10)}-{rng.randrange(10**5):05d}"

    phones: dict[tuple[str, str], str] = {}

    def register(bank: str, acct: str, opened_ms: int) -> None:
        phone = phones[bank, acct] = f"08{rng.randrange(10**8):08d}"
        nid = f"{rng.randrange(1, 9)}{rng.randrange(10**12):012d}"
        sc.phones.append(phone)
        sc.national_ids.append(nid)
        value = {"bank": bank, "account": acct, "opened_ts": opened_ms, "ts": base, "msisdn": phone,
                 "national_id": nid, "device_id": f"dev-{bank}-{acct}"}
        sc.registry.append((REGISTRY.name, f"{bank}:{acct}".encode(), json.dumps(value).encode()))

    transfers: list[tuple[int, dict]] = []
    forwards: list[tuple[int, dict]] = []

    def transfer(src: tuple[str, str], dst: tuple[str, str], ts: int, satang: int, tid: str,
                 into: list[tuple[int, dict]]) -> None:
        value = {"transfer_id": tid, "ts": ts, "src_bank": src[0], "src_account": src[1], "dst_bank": dst[0],
                 "dst_account": dst[1], "amount": f"{satang // 100}.{satang % 100:02d}", "channel": "mobile",
                 "src_device_id": f"dev-{src[0]}-{src[1]}", "src_msisdn": phones[src]}
        into.append((ts, value))

    window = 4 * HOUR_MS
    for i in range(cases):
        victim, mule, mule2 = account(), account(), account()
        register(*victim, base - rng.randrange(400, 3000) * DAY_MS)
        register(*mule, base - rng.randrange(1, 20) * DAY_MS)
        register(*mule2, base - rng.randrange(1, 60) * DAY_MS)
        at = base + HOUR_MS + rng.randrange(window - HOUR_MS)
        stolen = rng.randrange(20_000, 300_000) * 100
        transfer(victim, mule, at, stolen, f"case{i}-t1", transfers)
        transfer(mule, mule2, at + rng.randrange(2, 20) * 60_000, stolen * rng.randrange(90, 99) // 100,
                 f"case{i}-t2", forwards)
        report = {"report_id": f"case{i}-r", "ts": base + window + HOUR_MS + i * 1000, "victim_bank": victim[0],
                  "victim_account": victim[1], "transfer_ids": [f"case{i}-t1"], "channel": "hotline_1441"}
        sc.reports.append((VICTIM_REPORTS.name, f"{victim[0]}:{victim[1]}".encode(), json.dumps(report).encode()))
    for j in range(legit_pairs):
        payer, payee = account(), account()
        register(*payer, base - rng.randrange(100, 4000) * DAY_MS)
        transfer(payer, payee, base + HOUR_MS + rng.randrange(window), rng.randrange(50, 500_000) * 100,
                 f"legit{j}", transfers)
    sc.transfers, sc.forwards = (
        [(TRANSFERS.name, f"{v['src_bank']}:{v['src_account']}".encode(), json.dumps(v).encode())
         for _, v in sorted(group, key=lambda t: t[0])]
        for group in (transfers, forwards))
    return sc


class Producer:
    """Sends messages and remembers where each landed, so completion can be checked exactly
    (Tansu's ListOffsets answer is not the true end of a partition)."""

    def __init__(self, bootstrap: str, **config: object) -> None:
        from confluent_kafka import Producer as KafkaProducer

        self.producer = KafkaProducer({"bootstrap.servers": bootstrap, "linger.ms": 2,
                                       "partitioner": "murmur2_random", **config})
        self.ends: dict[tuple[str, int], int] = {}
        self.errors: list[str] = []

    def _delivered(self, err: object, msg: object) -> None:
        if err is not None:
            self.errors.append(str(err))
            return
        tp = (msg.topic(), msg.partition())  # type: ignore[attr-defined]
        self.ends[tp] = max(self.ends.get(tp, 0), msg.offset() + 1)  # type: ignore[attr-defined]

    def send(self, messages: list[Message], rate: float | None = None, on_sent: Callable[[int], None] | None = None,
             ) -> None:
        started = time.monotonic()
        for i, (topic, key, value) in enumerate(messages):
            pace(started, i, rate)
            self.producer.produce(topic, value, key=key, on_delivery=self._delivered)
            self.producer.poll(0)
            if on_sent is not None:
                on_sent(i + 1)
        remaining = self.producer.flush(120)
        assert remaining == 0 and not self.errors, f"{remaining} unsent, errors {self.errors[:3]}"

    def send_in_background(self, messages: list[Message], rate: float) -> threading.Thread:
        thread = threading.Thread(target=self.send, args=(messages, rate), daemon=True)
        thread.start()
        return thread


def committed(bootstrap: str, group: str, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The group's committed offsets (what a restarted worker would resume from)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=20)
        return {(tp.topic, tp.partition): tp.offset for tp in tps}
    finally:
        consumer.close()


def wait_committed(bootstrap: str, group: str, ends: dict[tuple[str, int], int], timeout_s: float,
                   alive: Callable[[], bool] = lambda: True) -> None:
    """Until the group has committed every message ``ends`` counts: all of it processed and acked."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = committed(bootstrap, group, list(ends))
        # Empty partitions need no commit; the control topic is read by each worker outside the group.
        behind = {tp: (got.get(tp), end) for tp, end in ends.items()
                  if end > 0 and tp[0] != CONTROL.name and (got.get(tp) or -1) < end}
        if not behind:
            return
        assert alive(), "worker died"
        assert time.monotonic() < deadline, f"group {group} has not committed: {behind}"
        time.sleep(0.5)


def wait_quiet(read: Callable[[], float], quiet_s: float, timeout_s: float) -> None:
    """Until ``read()`` (a counter) has not moved for ``quiet_s``."""
    deadline, last, since = time.monotonic() + timeout_s, None, time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, "did not go quiet"
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.25)


def topics_of(bootstrap: str) -> dict[str, int]:
    from confluent_kafka.admin import AdminClient

    meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=20)
    return {name: len(t.partitions) for name, t in meta.topics.items()}


def table_state(bootstrap: str, app_id: str, table_prefix: str = "accounts_v") -> dict[str, AccountState]:
    """The table as its changelog leaves it: the last record per key (what recovery rebuilds)."""
    topics = topics_of(bootstrap)
    names = [t for t in topics if t.startswith(f"{app_id}-{table_prefix}") and t.endswith("-changelog")]
    assert len(names) == 1, f"expected one changelog for {app_id}/{table_prefix}, found {names}"
    latest: dict[str, bytes | None] = {}
    for key, value in read_to_end(bootstrap, names[0], topics[names[0]]):
        latest[key.decode()] = value  # type: ignore[union-attr]
    return {k: AccountState.from_bytes(v) for k, v in latest.items() if v}


def dump_topics(bootstrap: str, out: Path) -> None:
    """Every topic's records as JSON lines in ``out`` (one file per topic): the evidence a
    failed fault test leaves, since the embedded broker keeps nothing once it stops. Changelog
    values are binary state: their length only."""
    out.mkdir(parents=True, exist_ok=True)
    for name, partitions in sorted(topics_of(bootstrap).items()):
        if name.startswith("__"):
            continue
        binary = name.endswith("-changelog")
        with open(out / f"{name}.jsonl", "w") as f:
            for m in messages_to_end(bootstrap, [(name, p) for p in range(partitions)], timeout_s=60):
                value = m.value() or b""
                row = {"partition": m.partition(), "offset": m.offset(), "ts": m.timestamp()[1],
                       "key": (m.key() or b"").decode(errors="replace"), "bytes": len(value),
                       "headers": [(k, (v or b"").decode(errors="replace")) for k, v in m.headers() or ()]}
                if not binary:
                    row["value"] = value.decode(errors="replace")
                f.write(json.dumps(row) + "\n")


def canonical(state: AccountState) -> dict[str, object]:
    """What an account's state means, independent of the encoding's incidental orders, of
    delivery bookkeeping (``applied``: which input offsets it has seen, features/origin.py) and
    of the hold lifecycle rows (live only, stamped with wall-clock times; the freeze requests
    they stand for are compared on their own)."""
    out: dict[str, object] = {}
    names = [n for n in AccountState.__slots__ if not n.startswith("_") and n != "applied"]  # type: ignore[attr-defined]
    for name in [*names, "recent_out", "taints", "reported"]:  # the trace memory, parsed
        value = getattr(state, name)
        if hasattr(value, "ts") and hasattr(value, "amount"):  # a Flow
            value = sorted(zip(value.ts, value.amount, value.cp, strict=True))
        elif hasattr(value, "tobytes") or isinstance(value, list):
            value = sorted(value)
        out[name] = value
    return out


def state_differences(live: dict[str, AccountState], expected: dict[str, AccountState], limit: int = 5) -> list:
    """Accounts whose live state differs from the expected one, with the differing fields."""
    diffs = []
    for key in sorted(set(live) | set(expected)):
        a = canonical(live[key]) if key in live else None
        b = canonical(expected[key]) if key in expected else None
        if a != b:
            fields = "not in the changelog" if a is None else "not in the uninterrupted run" if b is None else {
                f: (a[f], b[f]) for f in a if a[f] != b[f]}
            diffs.append((key, fields))
    return diffs[:limit] + ([f"... {len(diffs)} accounts differ"] if len(diffs) > limit else [])


def freeze_requests(bootstrap: str) -> list[dict]:
    return [json.loads(v) for _, v in read_to_end(bootstrap, "freeze.requests.v1") if v]


def request_problems(live: list[dict], expected: dict[str, dict]) -> list[str]:
    """Decisions lost or invented, and copies of one decision that differ (beyond emission time)."""
    by_id: dict[str, list[dict]] = {}
    for r in live:
        by_id.setdefault(r["request_id"], []).append(r)
    problems = []
    missing = sorted(set(expected) - set(by_id))
    extra = sorted(set(by_id) - set(expected))
    if missing:
        problems.append(f"{len(missing)} decisions lost, e.g. {[_brief(expected[m]) for m in missing[:3]]}")
    if extra:
        examples = [_brief(by_id[e][0]) for e in extra[:3]]
        problems.append(f"{len(extra)} decisions no uninterrupted run makes, e.g. {examples}")
    for request_id, copies in by_id.items():
        if request_id in expected:
            want = {k: v for k, v in expected[request_id].items() if k != "emitted_ts"}
            problems += [f"copy differs: {copy} vs {want}" for copy in copies
                         if {k: v for k, v in copy.items() if k != "emitted_ts"} != want][:3]
    return problems


def _brief(r: dict) -> tuple:
    return r["bank"], r["account"], r["reason"], r["trigger_event_id"], r["score"]


def check_outcome(bootstrap: str, app_id: str, expected: object) -> dict[str, int]:
    """Freeze requests and account state against the uninterrupted run; copies per request id."""
    live = freeze_requests(bootstrap)
    problems = request_problems(live, expected.requests)  # type: ignore[attr-defined]
    diffs = state_differences(table_state(bootstrap, app_id), expected.accounts)  # type: ignore[attr-defined]
    assert not problems and not diffs, "\n".join(problems + [f"state: {d}" for d in diffs])
    copies: dict[str, int] = {}
    for r in live:
        copies[r["request_id"]] = copies.get(r["request_id"], 0) + 1
    return copies


def partition_ends(bootstrap: str, topics: tuple[str, ...]) -> dict[tuple[str, int], int]:
    """The true end of each partition, found by reading to the end (``enable.partition.eof``)."""
    sizes = topics_of(bootstrap)
    ends = {(t, p): 0 for t in topics for p in range(sizes.get(t, 0))}
    for message in messages_to_end(bootstrap, list(ends), timeout_s=60):
        ends[(message.topic(), message.partition())] = message.offset() + 1
    return ends


def settle_group(bootstrap: str, group: str, input_ends: dict[tuple[str, int], int], timeout_s: float = 180.0,
                 alive: Callable[[], bool] = lambda: True) -> None:
    """Until the group has processed and committed all input and every signal it caused."""
    from streams.topics import INTERNAL_TOPICS

    internal = tuple(t.name for t in INTERNAL_TOPICS)
    deadline = time.monotonic() + timeout_s
    wait_committed(bootstrap, group, input_ends, deadline - time.monotonic(), alive)
    ends = partition_ends(bootstrap, internal)
    while True:
        wait_committed(bootstrap, group, ends, deadline - time.monotonic(), alive)
        again = partition_ends(bootstrap, internal)
        if again == ends:
            return
        ends = again


class Workers:
    """Starts `muleguard worker` processes; stops whatever is still running at the end."""

    def __init__(self, broker: EmbeddedBroker, model_dir: Path, root: Path) -> None:
        self.broker, self.model_dir, self.root = broker, model_dir, root
        self.running: list[RunningWorker] = []

    def start(self, name: str, app_id: str = "muleguard", ready_s: float = 120.0,
              extra_env: dict[str, str] | None = None) -> RunningWorker:
        """``name`` fixes the state directory: starting the same name again is a restart."""
        port = free_port()
        log = self.root / f"{name}.log"
        (self.root / name).mkdir(parents=True, exist_ok=True)
        env = {"MULEGUARD_COMMIT_INTERVAL_S": "0.5", **(extra_env or {})}  # tests wait for commits
        # Info: the runtime's rare recoveries (records read again, gaps believed) are in the
        # log of a failed fault test.
        process = spawn_worker(self.broker.url, self.model_dir, self.root / name / "state", port, log,
                               app_id=app_id, extra_env=env, loglevel="info")
        worker = RunningWorker(process, port, log)
        self.running.append(worker)
        try:
            wait_ready(port, ready_s, process)
        except (RuntimeError, TimeoutError) as exc:
            tail = log.read_bytes()[-3000:].decode(errors="replace")
            raise AssertionError(f"worker {name} did not start: {exc}\n{tail}") from None
        return worker

    def stop_all(self) -> None:
        for worker in self.running:
            stop_process(worker.process)
