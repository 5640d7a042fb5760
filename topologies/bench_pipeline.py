"""The full-pipeline benchmark of `make bench`: real broker, real workers, simulated traffic.

Three measurements, each on a fresh embedded broker and fresh workers (so one run's backlog
never leaks into the next); with ``broker_url`` (`muleguard bench pipeline --broker`), on a
Kafka cluster kept for benchmarks instead, whose muleguard topics are deleted and created
again before each measurement (``BenchCluster``):

* **capacity**: the workers are ready and idle, then a pre-serialised burst of simulated
  events is produced as fast as librdkafka can; capacity is the burst size divided by the
  time from the first event sent to the workers having consumed it all, every internal signal
  included. Once with one worker, once with two (the scaling ratio).
* **offered loads**: events paced at a fixed rate for a fixed time; latency from handing a
  trigger to the producer to the freeze request's ``emitted_ts`` (as `muleguard demo` measures
  it), p50/p99/p99.9, and whether the load was sustained (drained within a grace period).
* **resources**: CPU seconds and peak resident memory of each worker, state bytes on disk per
  account in state.

Figures only: nothing here asserts a speed (see docs/runtime.md for how to read them).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.topics import ALL_TOPICS, REGISTRY, TRANSFERS, VICTIM_REPORTS
from topologies.bench_defaults import (
    BENCH_ACCOUNTS,
    BENCH_SEED,
    CAPACITY_EVENTS,
    CAPACITY_WORKERS,
    LOAD_SECONDS,
    OFFERED_LOADS,
)
from topologies.broker import EmbeddedBroker, bootstrap_of, create_topics, free_port
from topologies.demo import Tally, _consume_freezes, _percentile, drain_progress, ensure_model
from topologies.proc import cores_used, cpu_seconds
from topologies.worker import spawn_worker, stop_process, wait_ready

DRAIN_GRACE_S = 20.0  # a load counts as sustained if the backlog is gone this soon after sending stops
BENCH_APP_PREFIX = "muleguard-bench-"  # app id of the workers on a cluster: one per measurement


@dataclass(frozen=True, slots=True)
class Event:
    topic: str
    key: bytes
    value: bytes
    trigger_id: str | None  # transfer or report id: what a freeze request names as its trigger


def simulated_events(count: int, accounts: int = BENCH_ACCOUNTS, seed: int = BENCH_SEED,
                     ) -> tuple[list[Event], list[Event]]:
    """The world's opening registry snapshot, then ``count`` events of live traffic, all
    serialised up front so producing costs little. The snapshot (every account's links, sent
    before the first transfer) is loaded before timing starts: it is a one-off, not traffic."""
    from streams.simulator.calibration import WorldConfig, live_start_ms
    from streams.simulator.world import World

    days = max(1.0, round(count / (accounts * 2.4) + 0.5, 1))
    opening: list[Event] = []
    live: list[Event] = []
    # Dated relative to today: the workers' ingest dead-letters events over a year old.
    start_ms = live_start_ms(days)
    for e in World(WorldConfig(accounts=accounts, days=days, seed=seed, start_ts_ms=start_ms)).events():
        if len(live) >= count:
            break
        trigger = e.value.get("transfer_id") if e.topic == TRANSFERS.name else \
            e.value.get("report_id") if e.topic == VICTIM_REPORTS.name else None
        event = Event(e.topic, e.key.encode(), json.dumps(e.value).encode(), trigger)
        (live if live or e.topic != REGISTRY.name else opening).append(event)
    return opening, live


class BenchCluster:
    """A Kafka cluster the benchmark may wipe: before a measurement, every muleguard topic and
    every topic of an earlier measurement's workers (changelogs, Faust's own) is deleted and
    the muleguard topics are created again, so no backlog or state leaks in. Clients use the
    ``MULEGUARD_KAFKA_*`` security settings, as the workers do. Never point it at a cluster
    that carries real traffic."""

    def __init__(self, url: str, timeout_s: float = 60.0) -> None:
        from topologies.settings import KafkaSecurity

        self.url, self.bootstrap, self.timeout_s = url, bootstrap_of(url), timeout_s
        self.client_config = KafkaSecurity.from_env().librdkafka()

    def cpu_seconds(self) -> None:
        """Unknown: the broker is another machine's process (the reports say ``-``)."""
        return None

    def reset(self) -> BenchCluster:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, **self.client_config})
        ours = {t.name for t in ALL_TOPICS}
        doomed = [name for name in admin.list_topics(timeout=self.timeout_s).topics
                  if name in ours or name.startswith(BENCH_APP_PREFIX)]
        if doomed:
            for name, future in admin.delete_topics(doomed, operation_timeout=self.timeout_s).items():
                try:
                    future.result()
                except Exception as exc:  # noqa: BLE001 - gone already is fine, anything else is not
                    if "UNKNOWN_TOPIC" not in str(exc):
                        raise RuntimeError(f"could not delete topic {name}: {exc}") from exc
            # Kafka deletes asynchronously; creating a topic still being deleted fails.
            self._wait(admin, lambda listed: not listed & set(doomed), "deleted")
        create_topics(self.bootstrap, ALL_TOPICS, self.timeout_s, security=self.client_config)
        self._wait(admin, lambda listed: ours <= listed, "created")
        return self

    def _wait(self, admin: Any, done: Callable[[set[str]], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if done(set(admin.list_topics(timeout=self.timeout_s).topics)):
                return
            time.sleep(0.5)
        raise RuntimeError(f"muleguard's topics not {what} on {self.bootstrap} after {self.timeout_s:.0f} s")


class Workers:
    """``n`` worker processes of one app on a fresh embedded broker (or a freshly reset
    ``BenchCluster`` when ``broker_url`` is given), torn down on exit."""

    def __init__(self, n: int, model_dir: Path, work_dir: Path, opening: list[Event],
                 broker_url: str | None = None) -> None:
        self.n, self.model_dir, self.work_dir, self.opening = n, model_dir, work_dir, opening
        self.broker_url = broker_url
        self.ports: list[int] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Workers:
        shutil.rmtree(self.work_dir, ignore_errors=True)
        self.work_dir.mkdir(parents=True)
        if self.broker_url is None:
            self.broker: EmbeddedBroker | BenchCluster = EmbeddedBroker(
                log_path=self.work_dir / "broker.log").__enter__()
            app_id = "muleguard"
        else:
            self.broker = BenchCluster(self.broker_url).reset()
            app_id = f"{BENCH_APP_PREFIX}{time.time_ns()}"
        try:
            for i in range(self.n):
                port = free_port()
                self.ports.append(port)
                self.processes.append(spawn_worker(
                    self.broker.url, self.model_dir, self.work_dir / f"state-{i}", port,
                    self.work_dir / f"worker-{i}.log", app_id=app_id))
            for port, process in zip(self.ports, self.processes, strict=True):
                wait_ready(port, 120, process)
            self._wait_settled()
            _produce_all(self.bootstrap, self.opening, self.client_config)
            if self.wait_drained(len(self.opening), timeout_s=900) is None:
                raise RuntimeError("the workers did not load the opening registry snapshot")
            self.baseline_inputs = len(self.opening)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_settled(self, timeout_s: float = 120.0) -> None:
        """Every worker ready at once (group joins on Tansu are slow; rebalances come in waves)."""
        deadline = time.monotonic() + timeout_s
        stable_since = None
        while time.monotonic() < deadline:
            ready = all(wait_ready(port, 5).get("ready") for port in self.ports)
            if ready:
                stable_since = stable_since or time.monotonic()
                if time.monotonic() - stable_since >= 3:
                    return
            else:
                stable_since = None
            time.sleep(0.5)

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            stop_process(process)
        if isinstance(self.broker, EmbeddedBroker):
            self.broker.__exit__(None, None, None)

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    @property
    def client_config(self) -> dict[str, str]:
        """librdkafka settings beyond the bootstrap servers (security, on a cluster)."""
        return getattr(self.broker, "client_config", {})

    def wait_drained(self, inputs: int, timeout_s: float) -> float | None:
        """Monotonic time when all ``inputs`` (after the opening snapshot) and every internal
        signal are consumed, or None if not within ``timeout_s``.

        Polls ``/progress`` every 0.2 s once 90% of the inputs are consumed, every second
        before: a poll runs on the worker's event loop (five ``/metrics`` scrapes a second,
        as this once polled, were 3% of a busy worker's main thread: the benchmark measuring
        itself)."""
        target = inputs + getattr(self, "baseline_inputs", 0)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done, share = drain_progress(self.ports, target)
            if done:
                return time.monotonic()
            time.sleep(0.2 if share >= 0.9 else 1.0)
        return None

    def resources(self) -> dict:
        cpu = peak = 0.0
        for process in self.processes:
            cpu += cpu_seconds(process.pid) or 0.0
            status = Path(f"/proc/{process.pid}/status").read_text()
            peak = max(peak, next(int(line.split()[1]) for line in status.splitlines()
                                  if line.startswith("VmHWM:")) / 1024)
        state_bytes = sum(f.stat().st_size for f in self.work_dir.rglob("*") if f.is_file() and "state-" in str(f))
        accounts = sum(_metric_sum(port, "muleguard_feature_state_accounts") for port in self.ports)
        return {"cpu_seconds": round(cpu, 1), "peak_rss_mib_per_worker": round(peak),
                "state_bytes_on_disk": state_bytes, "accounts_in_state": int(accounts),
                "state_bytes_per_account": round(state_bytes / accounts) if accounts else None,
                "late_money_signals": self.late_money_signals()}

    def late_money_signals(self) -> int:
        """Transfers an account dead-lettered as later than the allowed lateness. The simulated
        world's clock runs thousands of times faster than the benchmark's, so a second of backlog
        is hours of event time (docs/benchmarks.md, "Event time in the benchmark")."""
        return int(sum(_metric_sum(port, "muleguard_events_rejected_total", 'reason="late_event"')
                       for port in self.ports))


def _metric_sum(port: int, name: str, having: str = "") -> float:
    """The sum of the ``name`` series whose labels contain ``having``."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        lines = resp.read().decode().splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines
               if line.startswith(name + "{") and having in line.split("}", 1)[0])


def _producer(bootstrap: str, client_config: dict[str, str] | None = None):  # noqa: ANN202
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "partitioner": "murmur2_random",
                     "queue.buffering.max.messages": 2_000_000, **(client_config or {})})


def _produce_all(bootstrap: str, events: list[Event], client_config: dict[str, str] | None = None) -> None:
    producer = _producer(bootstrap, client_config)
    for i, e in enumerate(events):
        producer.produce(e.topic, e.value, key=e.key)
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush()


def capacity(opening: list[Event], events: list[Event], workers: int, model_dir: Path, work_dir: Path,
             broker_url: str | None = None) -> dict:
    """Events per second the workers sustain flat out (burst produced into idle, ready workers)."""
    with Workers(workers, model_dir, work_dir, opening, broker_url) as running:
        broker_before = running.broker.cpu_seconds()
        started = time.monotonic()
        _produce_all(running.bootstrap, events, running.client_config)
        produced_s = time.monotonic() - started
        done = running.wait_drained(len(events), timeout_s=900)
        result = {"workers": workers, "events": len(events), "produce_seconds": round(produced_s, 1)}
        if done is None:
            return {**result, "drained": False}
        elapsed = done - started
        return {**result, "drained": True, "seconds": round(elapsed, 1),
                "events_per_s": round(len(events) / elapsed),
                "events_per_s_per_worker": round(len(events) / elapsed / workers),
                "broker_cpu_cores": cores_used(broker_before, running.broker.cpu_seconds(), elapsed),
                **running.resources()}


def offered_load(opening: list[Event], events: list[Event], rate: float, model_dir: Path, work_dir: Path,
                 workers: int = 1, broker_url: str | None = None) -> dict:
    """Latency of freeze requests while events arrive at ``rate`` per second."""
    with Workers(workers, model_dir, work_dir, opening, broker_url) as running:
        tally, stop = Tally(), threading.Event()
        consumer = threading.Thread(target=_consume_freezes, daemon=True,
                                    args=(running.bootstrap, tally, stop, running.client_config))
        consumer.start()
        producer = _producer(running.bootstrap, running.client_config)
        broker_before = running.broker.cpu_seconds()
        started = time.monotonic()
        for i, e in enumerate(events):
            due = started + i / rate
            while (now := time.monotonic()) < due:
                time.sleep(min(due - now, 0.002))
            if e.trigger_id is not None:
                with tally.lock:
                    tally.sent_ms[e.trigger_id] = time.time() * 1000
            producer.produce(e.topic, e.value, key=e.key)
            if i % 100 == 0:
                producer.poll(0)
        producer.flush()
        del producer  # before the broker stops, so librdkafka does not log the disconnect
        sent_s = time.monotonic() - started
        done = running.wait_drained(len(events), timeout_s=DRAIN_GRACE_S)
        # Near 1.0 the broker, not the worker, sets the pace (docs/benchmarks.md, "Fifth round").
        broker_cores = cores_used(broker_before, running.broker.cpu_seconds(), time.monotonic() - started)
        if done is None:  # not sustained: still let it finish, so the latencies are complete
            running.wait_drained(len(events), timeout_s=600)
        time.sleep(1.0)
        stop.set()
        consumer.join(5)
        values = tally.latencies_ms
        return {
            "offered_per_s": rate, "workers": workers, "events": len(events),
            "achieved_send_per_s": round(len(events) / sent_s),
            "sustained": done is not None,
            "drain_after_send_s": round(done - started - sent_s, 1) if done is not None else None,
            "freeze_requests": len(values), "late_money_signals": running.late_money_signals(),
            "broker_cpu_cores": broker_cores,
            "latency_ms": {"p50": _percentile(values, 50), "p99": _percentile(values, 99),
                           "p99_9": _percentile(values, 99.9)},
        }


def run(work_dir: Path, model_dir: Path, capacity_events: int = CAPACITY_EVENTS,
        loads: tuple[int, ...] = OFFERED_LOADS, load_seconds: float = LOAD_SECONDS,
        say=print, broker_url: str | None = None, capacity_workers: tuple[int, ...] = CAPACITY_WORKERS,  # noqa: ANN001
        load_workers: int = 1, accounts: int = BENCH_ACCOUNTS) -> dict:
    """Every pipeline figure of `make bench`, printed as it comes and returned as a dict.

    ``broker_url``: measure on that Kafka cluster (``BenchCluster``: its muleguard topics are
    wiped) instead of fresh embedded brokers."""
    ensure_model(model_dir, work_dir, say)
    total = max(capacity_events if capacity_workers else 0, int(max(loads, default=0) * load_seconds))
    say(f"pipeline: simulating {total:,} events ...")
    opening, events = simulated_events(total, accounts)
    results: dict = {"broker": broker_url or "embedded", "capacity": [], "opening_registry_events": len(opening)}
    for n in capacity_workers:
        figures = capacity(opening, events[:capacity_events], n, model_dir, work_dir / f"capacity-{n}", broker_url)
        say(f"pipeline capacity, {n} worker(s): {figures}")
        results["capacity"].append(figures)
    rates = {r["workers"]: r.get("events_per_s") for r in results["capacity"]}
    one, two = rates.get(1), rates.get(2)
    results["scaling_ratio_2_workers"] = round(two / one, 2) if one and two else None
    results["loads"] = []
    for rate in loads:
        figures = offered_load(opening, events[:int(rate * load_seconds)], rate, model_dir, work_dir / f"load-{rate}",
                               load_workers, broker_url)
        say(f"pipeline at {rate:,}/s offered: {figures}")
        results["loads"].append(figures)
    return results
