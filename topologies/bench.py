"""`make bench`: figures that tests must never assert (speed), printed as a table and JSON.

Covers the pure stages (simulator, feature engine, state size, scoring); the Faust-side
keyed-sum job is `muleguard bench keyed-sum` (see docs/runtime.md); tracing latency and the
share of stolen money held come from `topologies.bench_trace` (see docs/web.md).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
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


def bench_features(data_dir: Path) -> tuple[dict, list]:
    """Feature work per input record (routing, updates, vectors; no scoring), and state size."""
    from features.replay import Replayer, read_data_dir

    records = [record for _, record in read_data_dir(data_dir)]
    vectors: list[np.ndarray] = []
    replayer = Replayer(on_scored=lambda _k, _s, _sig, vec: vectors.append(vec) or [])
    started = time.perf_counter()
    for record in records:
        replayer.feed(record)
    elapsed = time.perf_counter() - started
    sizes = [len(state.to_bytes()) for state in replayer.accounts.values()]
    active = [len(s.to_bytes()) for s in replayer.accounts.values() if len(s.inflow) + len(s.outflow)]
    return {
        "records": len(records),
        "scored_events": len(vectors),
        "us_per_record": round(elapsed / len(records) * 1e6, 1),
        "us_per_scored_event": round(elapsed / max(len(vectors), 1) * 1e6, 1),
        "state_bytes_per_account_mean": round(statistics.mean(sizes)),
        "state_bytes_per_active_account_mean": round(statistics.mean(active)) if active else 0,
        "state_bytes_per_account_p99": int(np.percentile(sizes, 99)),
    }, vectors


def bench_scoring(model_dir: Path, vectors: list) -> dict:
    from models.scorer import Scorer

    scorer = Scorer(model_dir).load()
    sample = np.vstack(vectors[:2000])
    started = time.perf_counter()
    for row in sample[:500]:
        scorer.score_one(row)
    one = (time.perf_counter() - started) / 500
    started = time.perf_counter()
    scorer.score_many(sample)
    many = (time.perf_counter() - started) / len(sample)
    started = time.perf_counter()
    for row in sample[:100]:
        scorer.explain(row)
    explain = (time.perf_counter() - started) / 100
    return {"score_one_us": round(one * 1e6, 1), "score_many_us_per_row": round(many * 1e6, 1),
            "explain_us": round(explain * 1e6, 1)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    accounts = int(argv[0]) if argv else 20_000
    results: dict[str, dict] = {"simulator": bench_simulator(accounts, 3.0)}
    with tempfile.TemporaryDirectory() as tmp:
        from streams.simulator import World, WorldConfig, write_dir

        write_dir(World(WorldConfig(accounts=min(accounts, 6_000), days=3.0, seed=4)), tmp)
        results["features"], vectors = bench_features(Path(tmp))
    model = Path("var/model")
    if (model / "meta.json").exists():
        results["scoring"] = bench_scoring(model, vectors)
    from topologies.bench_trace import bench_trace

    results["trace"] = bench_trace(model_dir=model)  # real broker + worker; trains var/model if missing
    for stage, figures in results.items():
        print(f"{stage:10} " + "  ".join(f"{k}={v}" for k, v in figures.items()))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
