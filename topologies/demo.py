"""`muleguard demo`: embedded broker, a worker, simulated traffic, and what got frozen how fast.

Latency is measured from the moment the demo hands the trigger to the Kafka producer to the
freeze request's ``emitted_ts`` (same machine, same clock): what a bank or a victim would
wait. The trigger of a model hold is its transfer; of a traced hold, the victim report, or
the transfer that carried the traced money on when that came after the report.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streams.codec import decode_freeze_request
from streams.contracts import FreezeRequest
from streams.topics import FREEZE_REQUESTS, INPUT_TOPICS, TRANSFERS, VICTIM_REPORTS
from topologies.broker import EmbeddedBroker, free_port
from topologies.proc import cores_used, cpu_seconds
from topologies.worker import spawn_worker, stop_process, wait_ready

TRAIN_WORLD = {"accounts": 12_000, "days": 4.0, "seed": 101}
DEMO_SEED = 2026
EVENTS_PER_ACCOUNT_DAY = 2.4  # measured on the simulator's default mix; sizes the demo world
DEMO_ACCOUNTS = 4_000  # few enough that the opening registry burst is a small part of the run


def ensure_model(model_dir: Path, work_dir: Path, say: Callable[[str], None]) -> None:
    """Train on a separate simulated world (another seed) if no model exists yet, or if the
    one there was trained for another feature engine (an upgrade changed what is computed)."""
    from models.registry import ModelMismatchError, check_compatible, read_meta

    if (model_dir / "meta.json").exists():
        try:
            check_compatible(read_meta(model_dir))
        except ModelMismatchError as err:
            say(f"the model in {model_dir} does not fit this version: {err}")
        else:
            say(f"using model in {model_dir}")
            return
    from models.pipeline import train_from_dir
    from streams.simulator import sink
    from streams.simulator.calibration import WorldConfig
    from streams.simulator.world import World

    data = work_dir / "train-data"
    say(f"no model yet: simulating a training world {TRAIN_WORLD} ...")
    shutil.rmtree(data, ignore_errors=True)
    sink.write_dir(World(WorldConfig(**TRAIN_WORLD)), data)
    say("training a LightGBM model on it ...")
    meta = train_from_dir(data, data / "labels.csv", model_dir, progress=lambda m: say(f"  {m}"))
    v = meta.metrics["validation"]
    say(f"model {meta.version}: validation PR-AUC {v['pr_auc']:.3f}, hold precision {v['precision']:.3f}")


@dataclass
class Tally:
    """What the demo saw come back, updated by the consumer thread."""

    sent_ms: dict[str, float] = field(default_factory=dict)
    holds: dict[str, dict] = field(default_factory=dict)  # account key -> first hold request
    hold_reasons: dict[str, set[str]] = field(default_factory=dict)  # account key -> reasons of its holds
    latencies_ms: list[float] = field(default_factory=list)
    by_reason: dict[str, list[float]] = field(default_factory=dict)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def follow_freeze_requests(bootstrap: str, on_request: Callable[[FreezeRequest, bytes], None],
                           stop: threading.Event, group_prefix: str = "demo",
                           client_config: dict[str, str] | None = None) -> None:
    """Read ``freeze.requests.v1`` from the start until ``stop`` is set (run it in a thread).
    ``client_config``: more librdkafka settings (a secured cluster's)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{group_prefix}-{time.time_ns()}",
                         "enable.auto.commit": False, **(client_config or {})})
    consumer.assign([TopicPartition(FREEZE_REQUESTS.name, p, 0) for p in range(FREEZE_REQUESTS.partitions)])
    while not stop.is_set():
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        on_request(decode_freeze_request(message.value()), message.value())
    consumer.close()


def _consume_freezes(bootstrap: str, tally: Tally, stop: threading.Event,
                     client_config: dict[str, str] | None = None) -> None:
    follow_freeze_requests(bootstrap, lambda request, raw: _tally(tally, request, raw), stop,
                           client_config=client_config)


def _tally(tally: Tally, request: FreezeRequest, raw: bytes) -> None:
    if request.action != "hold":
        return  # releases at expiry (the simulated world is in the past) are not freezes
    with tally.lock:
        tally.requests += 1
        # A model hold is timed from its transfer; a traced hold from the report, or from the
        # transfer that carried the money on if that came later (it could not be held sooner).
        sent = tally.sent_ms.get(request.trigger_event_id)
        if request.reason == "trace":
            report_sent = tally.sent_ms.get(request.case_id or "")
            sent = max(sent or 0, report_sent) if report_sent is not None else None
        if sent is not None:
            tally.latencies_ms.append(request.emitted_ts_ms - sent)
            tally.by_reason.setdefault(request.reason, []).append(request.emitted_ts_ms - sent)
        tally.holds.setdefault(request.key, json.loads(raw))
        tally.hold_reasons.setdefault(request.key, set()).add(request.reason)


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def run_demo(duration_s: float, rate: float, model_dir: Path, work_dir: Path,
             say: Callable[[str], None]) -> dict:
    from confluent_kafka import Producer

    from streams.simulator.calibration import WorldConfig, ending_now_start_ms
    from streams.simulator.world import World

    work_dir.mkdir(parents=True, exist_ok=True)
    ensure_model(model_dir, work_dir, say)
    total = int(duration_s * rate)
    days = max(1.0, round(total / (DEMO_ACCOUNTS * EVENTS_PER_ACCOUNT_DAY) + 0.5, 1))
    # The world ends within the last hour: its events pass ingest as recent traffic, and
    # holds on them are still within their legal term when they are requested.
    start_ms = ending_now_start_ms(days)
    world = World(WorldConfig(accounts=DEMO_ACCOUNTS, days=days, seed=DEMO_SEED, start_ts_ms=start_ms))
    labels = {f"{bank}:{account}": is_mule for bank, account, is_mule, *_ in world.labels()}

    from streams.simulator.sink import write_endpoints

    endpoints = work_dir / "endpoints.csv"
    write_endpoints(world, endpoints)
    worker_dir = work_dir / "worker-state"
    shutil.rmtree(worker_dir, ignore_errors=True)
    web_port = free_port()
    with EmbeddedBroker(log_path=work_dir / "broker.log") as broker:
        say(f"embedded broker at {broker.url} (Tansu, memory only)")
        worker = spawn_worker(broker.url, model_dir, worker_dir, web_port, work_dir / "worker.log",
                              endpoints=endpoints)
        try:
            wait_ready(web_port, 90, worker)
            say(f"worker ready; metrics at http://127.0.0.1:{web_port}/metrics "
                "(dashboards: deploy/grafana, see docs/operations.md)")
            summary = _stream(world, labels, broker, total, rate, say, Producer, web_port, worker.pid)
        finally:
            stop_process(worker)
    return summary


def _stream(world, labels: dict[str, int], broker: EmbeddedBroker, total: int, rate: float,  # noqa: ANN001
            say: Callable[[str], None], producer_cls, web_port: int, worker_pid: int) -> dict:  # noqa: ANN001
    bootstrap = broker.bootstrap
    cpu_before = broker.cpu_seconds(), cpu_seconds(worker_pid)
    tally, stop = Tally(), threading.Event()
    consumer = threading.Thread(target=_consume_freezes, args=(bootstrap, tally, stop), daemon=True)
    consumer.start()
    producer = producer_cls({"bootstrap.servers": bootstrap, "linger.ms": 2, "partitioner": "murmur2_random"})
    active: set[str] = set()
    started = time.monotonic()
    last_report = started
    sent = 0
    for event in itertools.islice(world.events(), total):
        due = started + sent / rate
        while (now := time.monotonic()) < due:
            time.sleep(min(due - now, 0.01))
        value = event.value
        if event.topic == VICTIM_REPORTS.name:
            with tally.lock:
                tally.sent_ms[value["report_id"]] = time.time() * 1000
        if event.topic == TRANSFERS.name:
            with tally.lock:
                tally.sent_ms[value["transfer_id"]] = time.time() * 1000
            active.add(f"{value['src_bank']}:{value['src_account']}")
            active.add(f"{value['dst_bank']}:{value['dst_account']}")
        producer.produce(event.topic, json.dumps(event.value).encode(), key=event.key.encode())
        sent += 1
        if sent % 200 == 0:
            producer.poll(0)
        if time.monotonic() - last_report >= 2:
            last_report = time.monotonic()
            say(_progress_line(sent, total, tally, labels, active))
    producer.flush()
    say("all events sent; waiting for the worker to drain ...")
    drained = wait_drained(web_port, sent, timeout_s=120)
    time.sleep(1.0)  # the last freeze requests reach the demo's consumer
    stop.set()
    consumer.join(5)
    elapsed = time.monotonic() - started
    summary = _summary(sent, elapsed, tally, labels, active)
    summary["worker_drained"] = drained
    # Cores used while streaming: near 1.0 the embedded broker, not the worker, sets the
    # latency (docs/benchmarks.md, "Fifth round").
    for name, before, after in zip(("embedded_broker_cpu_cores", "worker_cpu_cores"), cpu_before,
                                   (broker.cpu_seconds(), cpu_seconds(worker_pid)), strict=True):
        if (cores := cores_used(before, after, elapsed)) is not None:
            summary[name] = cores
    say(_progress_line(sent, total, tally, labels, active))
    say(json.dumps(summary, indent=2))
    return summary


INPUTS = tuple(t.name for t in INPUT_TOPICS)


def settled(consumed: dict[str, float], sent: dict[str, float], inputs: int) -> bool:
    """``inputs`` input messages consumed, and every internal signal sent consumed too."""
    return sum(consumed.get(t, 0) for t in INPUTS) >= inputs and all(consumed.get(t, 0) >= n for t, n in sent.items())


def message_counts(web_port: int) -> tuple[dict[str, float], dict[str, float]] | None:
    """Messages consumed and internal signals sent, per topic, from a worker's ``/progress``
    (None while it does not answer)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/progress", timeout=2) as resp:
            counts = json.loads(resp.read())
    except OSError:
        return None
    return counts["consumed"], counts["sent"]


def drain_progress(web_ports: list[int], inputs: int) -> tuple[bool, float]:
    """Whether the workers on ``web_ports`` together consumed ``inputs`` input messages and
    every internal signal they sent, and the share of ``inputs`` consumed so far (0 while a
    worker does not answer)."""
    consumed: dict[str, float] = {}
    sent: dict[str, float] = {}
    for port in web_ports:
        counts = message_counts(port)
        if counts is None:
            return False, 0.0
        for total, part in zip((consumed, sent), counts, strict=True):
            for topic, n in part.items():
                total[topic] = total.get(topic, 0) + n
    done = sum(consumed.get(t, 0) for t in INPUTS)
    return settled(consumed, sent, inputs), done / inputs if inputs else 1.0


def wait_drained(web_port: int, inputs: int, timeout_s: float) -> bool:
    """Until the worker consumed every input and every internal signal it sent (or time is up)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if drain_progress([web_port], inputs)[0]:
            return True
        time.sleep(0.5)
    return False


@dataclass(frozen=True)
class Outcome:
    """Who was held, against the simulator's ground truth.

    Innocents are split by why they were held: the model's suspicion, or only because a
    victim's money was traced into them (a hold of that amount the law asks for, typically
    a shop or a person a mule paid at hop 3 or 4: docs/tracing.md).
    """

    mules: int
    mules_frozen: int
    innocents_by_model: int
    innocents_traced_only: int


def _outcome(tally: Tally, labels: dict[str, int], active: set[str]) -> Outcome:
    mules = {k for k in active if labels.get(k)}
    held = set(tally.holds)
    innocents = {k for k in held if not labels.get(k)}  # a mule that only received is no innocent
    by_model = {k for k in innocents if tally.hold_reasons.get(k, set()) - {"trace"}}
    return Outcome(len(mules), len(held & mules), len(by_model), len(innocents - by_model))


def _progress_line(sent: int, total: int, tally: Tally, labels: dict[str, int], active: set[str]) -> str:
    with tally.lock:
        o = _outcome(tally, labels, active)
        p99 = _percentile(tally.latencies_ms, 99)
        return (f"events {sent:,}/{total:,} | freeze requests {tally.requests:,} | mules frozen "
                f"{o.mules_frozen}/{o.mules} | innocents held: {o.innocents_by_model} by the model, "
                f"{o.innocents_traced_only} traced amounts | p99 latency {p99} ms")


def _summary(sent: int, elapsed: float, tally: Tally, labels: dict[str, int], active: set[str]) -> dict:
    with tally.lock:
        o = _outcome(tally, labels, active)
        return {
            "events": sent,
            "seconds": round(elapsed, 1),
            "freeze_requests": tally.requests,
            "mules_total": o.mules,
            "mules_frozen": o.mules_frozen,
            "innocents_frozen": o.innocents_by_model + o.innocents_traced_only,
            "innocents_held_by_model": o.innocents_by_model,
            "innocents_held_traced_only": o.innocents_traced_only,
            "latency_ms": {"p50": _percentile(tally.latencies_ms, 50), "p99": _percentile(tally.latencies_ms, 99)},
            "latency_ms_by_reason": {
                reason: {"count": len(values), "p50": _percentile(values, 50), "p99": _percentile(values, 99)}
                for reason, values in sorted(tally.by_reason.items())
            },
            "examples": list(tally.holds.values())[:2],
        }
