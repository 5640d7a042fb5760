"""`make bench`: figures that tests must never assert (speed), printed as a table and JSON.

Covers the pure stages (simulator, feature engine, state size, scoring), then the whole
pipeline on real brokers and workers (topologies/bench_pipeline.py: capacity per worker, two
workers, latency at offered loads, resources), tracing latency and the share of stolen money
held (topologies/bench_trace.py, docs/web.md), and the peers of ../shared/bench measured in
the same run (topologies/bench_baselines.py). `--quick` stops after the pure stages.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def bench_simulator(accounts: int, days: float) -> dict:
    from streams.simulator import World, WorldConfig, write_dir

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        counts = write_dir(World(WorldConfig(accounts=accounts, days=days, seed=3)), tmp)
        elapsed = time.perf_counter() - started
    events = sum(v for k, v in counts.items() if k.endswith(".jsonl") and k != "cases.jsonl")
    return {"events": events, "seconds": round(elapsed, 2), "events_per_s": round(events / elapsed)}


class _BatchedStates(dict):
    """Keyed states as the worker holds them: bytes at rest (the RocksDB table), loaded on
    first touch in a batch (reused from ``DecodedStates`` while the stored bytes match, else
    decoded), encoded once at the end of the batch (``topologies/agents/score.py``).
    ``per_key`` is what the agent also does with each key's state on load and before the
    encode (the accounts agent: its next hold expiry, for the expiry timer)."""

    def __init__(self, cls: type, cache_capacity: int, per_key: Callable[[object], object] | None = None) -> None:
        from features.state import DecodedStates

        super().__init__()
        self.live: dict = {}
        self.decoded = DecodedStates(cls, cache_capacity)
        self.per_key = per_key

    def get(self, key: str, default: object = None) -> object:
        state = self.live.get(key)
        if state is None:
            raw = dict.get(self, key)
            if raw is None:
                return default
            state = self.live[key] = self.decoded.load(key, raw)
            if self.per_key is not None:
                self.per_key(state)
        return state

    def __setitem__(self, key: str, state: object) -> None:
        self.live[key] = state

    def flush(self) -> None:
        per_key = self.per_key
        for key, state in self.live.items():
            if per_key is not None:
                per_key(state)
            raw = state.to_bytes()
            dict.__setitem__(self, key, raw)
            self.decoded.put(key, raw, state)
        self.live.clear()


def bench_features(data_dir: Path, batch_records: int = 1, cache_capacity: int = 0) -> tuple[dict, list]:
    """Feature work as the worker does it, per keyed event and per input record.

    A keyed event is one message an account or identity agent consumes (an internal
    signal); an input record (a transfer, telecom event, ...) causes about three. The
    work counted: state load (once per key per batch: a decode or a cache hit), update,
    the 51-feature vector for scored events, state encode (once per key per batch),
    routing between states.
    Not counted: JSON decoding of records and signals, Kafka, RocksDB I/O, scoring.
    The cyclic collector runs with the worker's thresholds (``runtime.tune_gc``).
    ``batch_records=1`` with ``cache_capacity=0`` is the worst case (a quiet worker whose
    keys are all cold: every event decodes and encodes its state); with the worker's cache
    (``MULEGUARD_STATE_CACHE``) a key touched again is not decoded again. CPU time of this
    process, so a busy machine inflates it less.
    """
    from features.holds import next_expiry_ms
    from features.replay import Replayer, read_data_dir
    from features.state import AccountState, IdentityState
    from topologies.runtime import tune_gc

    records = [record for _, record in read_data_dir(data_dir)]
    vectors: list[np.ndarray] = []
    accounts = _BatchedStates(AccountState, cache_capacity, per_key=next_expiry_ms)
    identities = _BatchedStates(IdentityState, cache_capacity)
    replayer = Replayer(on_scored=lambda _k, _s, _sig, vec: vectors.append(vec) or [],
                        accounts=accounts, identities=identities)
    applied = [0]
    apply = replayer.apply

    def counted(topic: str, key: str, signal: object) -> list:
        applied[0] += 1
        return apply(topic, key, signal)  # type: ignore[arg-type]

    replayer.apply = counted  # type: ignore[method-assign]
    previous_gc = tune_gc()  # the collector as the worker sets it (run_worker)
    try:
        started = time.process_time()
        for i in range(0, len(records), batch_records):
            for record in records[i:i + batch_records]:
                replayer.feed(record)
            accounts.flush()
            identities.flush()
        elapsed = time.process_time() - started
    finally:
        gc.set_threshold(*previous_gc)
    sizes = [len(raw) for raw in dict.values(accounts)]
    active = [len(raw) for raw in dict.values(accounts)
              if len((s := AccountState.from_bytes(raw)).inflow) + len(s.outflow)]
    return {
        "batch_records": batch_records,
        "cache_capacity": cache_capacity,
        "cache_hit_ratio": round(_hit_ratio(accounts.decoded, identities.decoded), 3),
        "records": len(records),
        "keyed_events": applied[0],
        "scored_events": len(vectors),
        "us_per_keyed_event": round(elapsed / applied[0] * 1e6, 1),
        "us_per_record": round(elapsed / len(records) * 1e6, 1),
        "state_bytes_per_account_mean": round(statistics.mean(sizes)),
        "state_bytes_per_active_account_mean": round(statistics.mean(active)) if active else 0,
        "state_bytes_per_account_p99": int(np.percentile(sizes, 99)),
        "load_avg_1m": round(os.getloadavg()[0], 2),  # CPU time per event grows on a busy machine
    }, vectors


def _hit_ratio(*caches: object) -> float:
    hits = sum(c.hits for c in caches)  # type: ignore[attr-defined]
    lookups = hits + sum(c.misses for c in caches)  # type: ignore[attr-defined]
    return hits / lookups if lookups else 0.0


def bench_scoring(model_dir: Path, vectors: list) -> dict:
    from models.scorer import Scorer

    scorer = Scorer(model_dir).load()
    sample = np.vstack(vectors[:2000])
    started = time.perf_counter()
    for row in sample[:500]:
        scorer.score_one(row)
    one = (time.perf_counter() - started) / 500
    started = time.perf_counter()
    for row in sample[:500]:
        scorer.booster.predict(row.reshape(1, -1), num_threads=1)
    one_predict = (time.perf_counter() - started) / 500
    started = time.perf_counter()
    scorer.score_many(sample)
    many = (time.perf_counter() - started) / len(sample)
    started = time.perf_counter()
    for row in sample[:100]:
        scorer.explain(row)
    explain = (time.perf_counter() - started) / 100
    return {"score_one_us": round(one * 1e6, 1), "booster_predict_one_row_us": round(one_predict * 1e6, 1),
            "trees": scorer.booster.num_trees(), "score_many_us_per_row": round(many * 1e6, 1),
            "explain_us": round(explain * 1e6, 1)}


def print_pipeline(pipeline: dict, peers: dict | None = None) -> None:
    """The table an operator reads: capacity, latency under load, and the peers side by side."""
    print("\npipeline capacity (burst into ready workers)")
    print(f"{'workers':>8} {'events/s':>10} {'per worker':>11} {'cpu s':>7} {'peak MiB':>9} {'B/account':>10} "
          f"{'late':>6} {'broker':>7}")
    for c in pipeline["capacity"]:
        print(f"{c['workers']:>8} {c.get('events_per_s', '-'):>10} {c.get('events_per_s_per_worker', '-'):>11} "
              f"{c.get('cpu_seconds', '-'):>7} {c.get('peak_rss_mib_per_worker', '-'):>9} "
              f"{c.get('state_bytes_per_account') or '-':>10} {c.get('late_money_signals', '-'):>6} "
              f"{c.get('broker_cpu_cores') or '-':>7}")
    print(f"scaling ratio, 2 workers / 1: {pipeline.get('scaling_ratio_2_workers')}")
    workers = {load.get("workers", 1) for load in pipeline["loads"]}
    print(f"\nevent-to-freeze latency at offered loads ({'/'.join(map(str, sorted(workers))) or 1} worker(s))")
    print(f"{'offered/s':>10} {'sustained':>10} {'freezes':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} "
          f"{'late':>6} {'broker':>7}")
    for load in pipeline["loads"]:
        lat = load["latency_ms"]
        print(f"{load['offered_per_s']:>10} {load['sustained']!s:>10} {load['freeze_requests']:>8} "
              f"{lat['p50'] or '-':>8} {lat['p99'] or '-':>8} {lat['p99_9'] or '-':>9} "
              f"{load.get('late_money_signals', '-'):>6} {load.get('broker_cpu_cores') or '-':>7}")
    print("late: money signals dead-lettered as later than the allowed lateness (docs/benchmarks.md, event time)")
    if pipeline.get("broker", "embedded") == "embedded":
        print("broker: the embedded broker's CPU use in cores; near 1 it sets the pace "
              "(docs/benchmarks.md, fifth round)")
    else:
        print(f"broker: {pipeline['broker']}, its CPU not measured from here")
    if peers is None:
        return
    print("\npeers, same broker and topic, messages/s")
    for job, rate in peers.items():
        if job == "rounds":
            for name, each in rate.items():
                print(f"{name + ' rounds':>34} {', '.join(str(r) for r in each)}")
            continue
        print(f"{job:>34} {rate if rate is not None else 'skipped'}")


def main(argv: list[str] | None = None) -> int:
    """``python -m topologies.bench [ACCOUNTS] [--quick]``: --quick skips the pipeline and peers."""
    from topologies.settings import WorkerSettings

    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    argv = [a for a in argv if a != "--quick"]
    accounts = int(argv[0]) if argv else 20_000
    results: dict[str, dict] = {"simulator": bench_simulator(accounts, 3.0)}
    with tempfile.TemporaryDirectory() as tmp:
        from streams.simulator import World, WorldConfig, write_dir

        write_dir(World(WorldConfig(accounts=min(accounts, 6_000), days=3.0, seed=4)), tmp)
        results["features"], vectors = bench_features(Path(tmp))
        results["features_b100"], _ = bench_features(Path(tmp), batch_records=100)
        results["features_b100_cached"], _ = bench_features(Path(tmp), batch_records=100,
                                                            cache_capacity=WorkerSettings.state_cache)
    model = Path("var/model")
    if not quick:
        from topologies.demo import ensure_model

        ensure_model(model, Path("var/bench"), print)
    if (model / "meta.json").exists():
        results["scoring"] = bench_scoring(model, vectors)
    if not quick:
        from topologies.bench_trace import bench_trace

        results["trace"] = bench_trace(model_dir=model)  # real broker + worker
    for stage, figures in results.items():
        print(f"{stage:10} " + "  ".join(f"{k}={v}" for k, v in figures.items()))
    if not quick:
        from topologies import bench_baselines, bench_pipeline

        results["pipeline"] = bench_pipeline.run(Path("var/bench"), model)
        results["peers"] = bench_baselines.run()
        print_pipeline(results["pipeline"], results["peers"])
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
