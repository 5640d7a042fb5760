"""The per-key running-sum benchmark job on muleguard's runtime (``topologies.runtime``).

Same job as ``../shared/bench`` (Faust's ``faust_job.py`` with ``STATEFUL=1`` and
Quix's ``quix_job.py stateful``): consume ``count`` messages of the shape
``produce.py`` writes (``{"src", "dst", "amount", "ts"}``, key = ``src``) and keep
the running sum of ``amount`` per key, here in a RocksDB-backed (rocksdict)
Faust Table with its changelog topic.

The worker runs in a subprocess (``python -m topologies.keyed_sum --worker``):
a Faust worker owns its event loop, signal handlers and logging, and a fresh
process per run keeps runs independent.  The rate is measured like
``faust_job.py``: from the first batch the agent receives to the batch that
reaches ``count`` (its table writes applied to the store and its changelog
records handed to the producer).  Every event of a received batch is processed
and acked, so if the topic holds more than ``count`` messages a few more may
be consumed.  After that the worker shuts down gracefully (SIGTERM to itself):
Faust waits for the outstanding acks (ours wait for the changelog acks), commits
offsets and flushes the producer, so the RocksDB files and the changelog topic
are complete when :func:`run_keyed_sum` returns.

CLI (delegated to by ``muleguard bench keyed-sum``)::

    python -m topologies.keyed_sum --broker HOST:PORT --topic TOPIC --count N

prints ``RESULT muleguard-keyed-sum <rate> msg/s`` as its last line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "run_keyed_sum", "TABLE_NAME"]

TABLE_NAME = "sums"
_RATE_PREFIX = "KEYED-SUM-RATE"
_REPO_ROOT = Path(__file__).resolve().parents[1]


def run_keyed_sum(
    broker: str,
    topic: str,
    count: int,
    store: str = "rocksdb://",
    data_dir: str | None = None,
    *,
    app_id: str | None = None,
    batch_size: int = 2000,
    timeout_s: float | None = None,
) -> float:
    """Run the keyed-sum job over ``count`` messages of ``topic``; return msg/s.

    ``broker`` is ``host:port``.  ``data_dir`` is Faust's ``datadir`` (table files
    end up in ``<data_dir>/v1/tables/sums-<partition>.db``); a temporary
    directory when None.  ``app_id`` defaults to a fresh id, so the job starts
    from the earliest offset with an empty table; the changelog topic is
    ``<app_id>-sums-changelog``.
    """
    if count < 1:
        raise ValueError("count must be >= 1")
    broker = broker.removeprefix("kafka://")
    app_id = app_id or f"muleguard-keyed-sum-{uuid.uuid4().hex[:12]}"
    cleanup = None
    if data_dir is None:
        import tempfile

        cleanup = tempfile.TemporaryDirectory(prefix="keyed-sum-")
        data_dir = cleanup.name
    argv = [
        sys.executable, "-m", "topologies.keyed_sum", "--worker",
        "--broker", broker, "--topic", topic, "--count", str(count),
        "--store", store, "--data-dir", str(data_dir), "--app-id", app_id,
        "--batch-size", str(batch_size),
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(_REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    if timeout_s is None:
        timeout_s = 180.0 + count / 500.0
    try:
        proc = subprocess.run(
            argv, env=env, cwd=str(data_dir), capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(
            f"keyed-sum worker did not process {count} messages of {topic!r} within {timeout_s:.0f}s"
            f" (fewer messages in the topic?)\n--- stderr\n{(exc.stderr or b'')[-4000:]!r}"
        ) from exc
    finally:
        if cleanup is not None:
            cleanup.cleanup()
    rate = None
    for line in proc.stdout.splitlines():
        found = line.find(_RATE_PREFIX)  # the worker's spinner may precede it
        if found >= 0:
            rate = float(line[found:].split()[1])
    if proc.returncode != 0 or rate is None:
        raise RuntimeError(
            f"keyed-sum worker failed (exit {proc.returncode}):\n"
            f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
        )
    return rate


def main(argv: Sequence[str] | None = None) -> int:
    """``muleguard bench keyed-sum``: run the job, print the RESULT line last."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.worker:
        return _worker(args)
    rate = run_keyed_sum(
        args.broker, args.topic, args.count, store=args.store, data_dir=args.data_dir,
        app_id=args.app_id, batch_size=args.batch_size,
    )
    print(f"RESULT muleguard-keyed-sum {rate:.0f} msg/s", flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="muleguard bench keyed-sum", description=__doc__.split("\n")[0])
    p.add_argument("--broker", required=True, help="HOST:PORT")
    p.add_argument("--topic", required=True)
    p.add_argument("--count", required=True, type=int)
    p.add_argument("--store", default="rocksdb://", help="rocksdb:// (default) or memory://")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--app-id", default=None)
    p.add_argument("--batch-size", type=int, default=2000)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p


def _topic_partitions(broker: str, topic: str) -> int:
    from confluent_kafka.admin import AdminClient

    meta = AdminClient({"bootstrap.servers": broker}).list_topics(topic, timeout=30)
    info = meta.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise RuntimeError(f"topic {topic!r} not found on {broker}: {info and info.error}")
    return len(info.partitions)


def build_app(
    broker: str, topic: str, count: int, *, store: str, data_dir: str, app_id: str,
    partitions: int, batch_size: int = 2000, on_done: Any = None,
) -> Any:
    """The Faust app of the job (exposed for tests); ``on_done(rate, n)`` is
    called once ``count`` messages were processed."""
    import faust

    from topologies import runtime

    runtime.install()
    app = faust.App(
        app_id,
        broker=f"kafka://{broker}",
        store=store,
        datadir=data_dir,
        topic_partitions=partitions,
        **runtime.app_settings(),
    )
    source = app.topic(topic, key_type=str, key_serializer="raw", value_serializer="json")
    table_options = runtime.rocksdb_options() if store.startswith("rocksdb") else None
    sums = app.Table(TABLE_NAME, default=float, partitions=partitions, options=table_options)
    state: dict[str, Any] = {"n": 0, "t0": None, "done": False}

    @app.agent(source, name="keyed_sum")
    async def keyed_sum(stream: Any) -> None:
        staged = runtime.StagedTable(sums)
        batches = runtime.batches(stream, batch_size, 0.05, flush=[staged])
        try:
            async for events in batches:
                if state["t0"] is None:
                    state["t0"] = time.perf_counter()
                get, put = staged.get, staged.set
                for event in events:
                    key = event.key
                    put(event, key, get(event, key, 0.0) + event.value["amount"])
                state["n"] += len(events)
                if state["n"] >= count:
                    await staged.flush()
                    rate = count / (time.perf_counter() - state["t0"])
                    state["done"] = True
                    if on_done is not None:
                        on_done(rate, state["n"])
                    break
        finally:
            await batches.aclose()  # flush + ack the last batch now, not at GC

    app.muleguard_state = state  # type: ignore[attr-defined]
    app.muleguard_table = sums  # type: ignore[attr-defined]
    return app


def _worker(args: argparse.Namespace) -> int:
    import signal

    from faust.worker import Worker

    partitions = _topic_partitions(args.broker, args.topic)

    def on_done(rate: float, n: int) -> None:
        print(f"{_RATE_PREFIX} {rate:.3f} {n}", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)  # graceful stop: acks, commit, producer flush

    app = build_app(
        args.broker, args.topic, args.count, store=args.store, data_dir=args.data_dir,
        app_id=args.app_id, partitions=partitions, batch_size=args.batch_size, on_done=on_done,
    )
    worker = Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
        if not app.muleguard_state["done"]:
            return code or 1
        return code
    return 0 if app.muleguard_state["done"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
