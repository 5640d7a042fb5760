"""The peers of `make bench`, measured in the same invocation on the same broker and topic.

Absolute rates vary between machines and runs, so muleguard is only ever compared with the
peers of ``../shared/bench`` measured side by side: the bare clients (the floor), Faust as
shipped, Quix Streams (the peer to beat) and muleguard's own keyed-sum job. Quix Streams is
not a project dependency: it runs from a separate virtualenv (``QUIX_PYTHON``, which
``make bench`` prepares under ``var/bench-peers``), and is reported as skipped without one.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from topologies.broker import EmbeddedBroker
from topologies.keyed_sum import run_keyed_sum

SHARED_BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
TOPIC = "bench"


def _result(cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None,
            timeout_s: float = 300) -> float | None:
    """The rate of the ``RESULT <job> <rate> msg/s`` line a peer job prints, or None."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, **(env or {})}, cwd=cwd)
    except subprocess.TimeoutExpired:
        return None
    for line in (done.stdout + done.stderr).splitlines():  # Faust logs a job's prints to stderr
        found = line.find("RESULT ")
        if found >= 0:
            return float(line[found:].split()[2])
    return None


ROUNDS = 3  # the keyed-sum job and Quix's stateful job, alternated: their ratio is the target


def run(count: int = 200_000, say=print, rounds: int = ROUNDS) -> dict:  # noqa: ANN001
    """Rates in messages/s, by job; None where a job failed or is unavailable.

    The two jobs of the target ratio run ``rounds`` times, alternated, and are reported by
    their medians (each round under ``rounds``): one run of either moves by 5-10% on a
    2-core machine, where the broker shares the cores.
    """
    if not SHARED_BENCH.is_dir():
        say(f"baselines: {SHARED_BENCH} not found, skipped")
        return {}
    py = sys.executable
    quix = os.environ.get("QUIX_PYTHON")
    rates: dict[str, float | None] = {}
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as work:
        from confluent_kafka.admin import AdminClient, NewTopic

        b = broker.bootstrap
        admin = AdminClient({"bootstrap.servers": b})  # kept alive until the topic exists
        # Quix Streams 3.28 derives its changelog settings from the topic's retention and fails
        # (KeyError 'retention.ms') when the broker does not report it; Tansu reports only what
        # the topic was created with.
        retention = {"retention.ms": str(7 * 86_400_000), "retention.bytes": "-1"}
        topic = NewTopic(TOPIC, num_partitions=4, replication_factor=1, config=retention)
        for future in admin.create_topics([topic]).values():
            future.result()
        subprocess.run([py, str(SHARED_BENCH / "produce.py"), b, TOPIC, str(count)], check=True, timeout=600)
        for client in ("confluent", "aiokafka"):
            rates[f"{client}-raw"] = _result([py, str(SHARED_BENCH / "client_raw.py"), b, TOPIC, str(count), client])
        rates["quix-stateless"] = _result(
            [quix, str(SHARED_BENCH / "quix_job.py"), b, TOPIC, str(count), "stateless"]) if quix else None
        for stateful in ("0", "1"):
            name = "faust-stateful" if stateful == "1" else "faust-stateless"
            rates[name] = _result(
                [py, "-m", "faust", "-A", "faust_job", "worker", "-l", "warn"], cwd=work,
                env={"PYTHONPATH": str(SHARED_BENCH), "BROKER": b, "TOPIC": TOPIC, "N": str(count),
                     "STATEFUL": stateful})
        quix_rounds: list[float | None] = []
        ours_rounds: list[float | None] = []
        for _ in range(rounds):
            quix_rounds.append(_result([quix, str(SHARED_BENCH / "quix_job.py"), b, TOPIC, str(count), "stateful"])
                          if quix else None)
            try:
                ours_rounds.append(run_keyed_sum(b, TOPIC, count))
            except RuntimeError as exc:
                say(f"baselines: muleguard keyed-sum failed: {exc}")
                ours_rounds.append(None)
        rates["quix-stateful"], rates["muleguard-keyed-sum"] = _median(quix_rounds), _median(ours_rounds)
    ours, quix_rate = rates.get("muleguard-keyed-sum"), rates.get("quix-stateful")
    rates_out: dict = {k: (round(v) if v else None) for k, v in rates.items()}
    rates_out["ratio_muleguard_to_quix_stateful"] = round(ours / quix_rate, 2) if ours and quix_rate else None
    rates_out["rounds"] = {"quix-stateful": [round(r) if r else None for r in quix_rounds],
                           "muleguard-keyed-sum": [round(r) if r else None for r in ours_rounds]}
    if not quix:
        say("baselines: QUIX_PYTHON not set, Quix Streams skipped (make bench prepares it)")
    return rates_out


def _median(rates: list[float | None]) -> float | None:
    """The median of the rounds that ran; None if any failed (a failure is not a slow round)."""
    if not rates or any(r is None for r in rates):
        return None
    return statistics.median(rates)  # type: ignore[type-var]
