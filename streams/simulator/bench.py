"""Benchmark the simulator: ``python -m streams.simulator.bench --accounts N --days D``.

Prints build time, events, events/s and peak RSS for one of three paths: ``records`` (the
JSON-line path the sinks use), ``events`` (``SimEvent`` dicts) or ``write`` (a full data
directory, with ``--out``). Timing lives here, never in test assertions.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time

from streams.simulator.calibration import WorldConfig
from streams.simulator.sink import write_dir
from streams.simulator.world import World


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def run(
    accounts: int, days: float, seed: int, mode: str, out: str | None, workers: int | None = None
) -> dict[str, float]:
    """Build a world and drive one output path to the end; return the measurements."""
    t0 = time.perf_counter()
    world = World(WorldConfig(accounts=accounts, days=days, seed=seed))
    built = time.perf_counter() - t0
    t1 = time.perf_counter()
    cpu1 = time.process_time()
    if mode == "write":
        with tempfile.TemporaryDirectory() as scratch:
            counts = write_dir(world, out or scratch, workers)
        n = sum(v for k, v in counts.items() if k.endswith(".jsonl") and k != "cases.jsonl")
    else:
        stream = world.events() if mode == "events" else world.records()
        n = sum(1 for _ in stream)
    elapsed = time.perf_counter() - t1
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu1 + children.ru_utime + children.ru_stime
    return {
        "cpu_us_per_event": cpu / max(n, 1) * 1e6,
        "build_s": built,
        "events": n,
        "elapsed_s": elapsed,
        "events_per_s": n / elapsed,
        "cases": len(world.cases()),
        "peak_rss_mb": _peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mode", choices=("records", "events", "write"), default="write")
    parser.add_argument(
        "--workers", type=int, default=None, help="formatting processes for --mode write (default: cores)"
    )
    parser.add_argument(
        "--out", default=None, help="directory for --mode write (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    r = run(args.accounts, args.days, args.seed, args.mode, args.out, args.workers)
    print(f"accounts={args.accounts} days={args.days} mode={args.mode} workers={args.workers or 'cores'}")
    print(
        f"build {r['build_s']:.2f} s; {int(r['events']):,} events in {r['elapsed_s']:.2f} s "
        f"= {r['events_per_s']:,.0f} events/s; {int(r['cases'])} cases; "
        f"{r['cpu_us_per_event']:.1f} CPU us/event (all processes); "
        f"peak RSS {r['peak_rss_mb']:,.0f} MB (this process; each worker holds the population too)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
