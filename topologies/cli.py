"""The ``muleguard`` command: parse, call one function in the package that owns the work, print."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from topologies import bench_defaults
from topologies.settings import ENV_BROKER


class UserError(Exception):
    """A mistake the user can fix; printed as one line, never as a traceback."""


def _say(msg: str) -> None:
    print(msg, flush=True)


def _progress(prefix: str) -> Callable[[str], None]:
    started = time.monotonic()
    return lambda msg: _say(f"[{prefix} {time.monotonic() - started:6.1f}s] {msg}")


def cmd_broker(args: argparse.Namespace) -> int:
    from topologies.broker import BrokerStartError, EmbeddedBroker
    from topologies.proc import exit_on_sigterm

    exit_on_sigterm()
    try:
        broker = EmbeddedBroker(port=args.port).start()
    except BrokerStartError as exc:
        raise UserError(f"{exc}: choose another --port, or leave it out for a free one") from None
    _say(broker.url)
    try:
        while broker.process and broker.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from topologies.settings import WorkerSettings
    from topologies.worker import run_worker

    broker = args.broker or os.environ.get(ENV_BROKER)
    if not broker:
        raise UserError(
            f"no broker: pass --broker kafka://HOST:PORT or set {ENV_BROKER} "
            "(for a local one, run `muleguard broker` in another terminal)")
    settings = WorkerSettings.from_env(
        broker=broker, model_dir=Path(args.model) if args.model else None, web_port=args.web_port,
        data_dir=Path(args.data_dir) if args.data_dir else None, app_id=args.app_id,
        web_host=args.web_host, endpoints_path=Path(args.endpoints) if args.endpoints else None)
    from models.registry import check_compatible, read_meta

    check_compatible(read_meta(settings.model_dir))
    _check_partitions(broker)
    run_worker(settings, loglevel=args.loglevel)
    return 0


def _check_partitions(broker: str) -> None:
    """Refuse to start on topics with more partitions than this release knows
    (``topologies.broker.partition_overflow``)."""
    from features.origin import ORIGIN_TOPICS
    from streams.topics import BY_NAME
    from topologies.broker import bootstrap_of, partition_overflow
    from topologies.settings import KafkaSecurity

    specs = tuple(BY_NAME[name] for name in ORIGIN_TOPICS)
    over = partition_overflow(bootstrap_of(broker), specs, security=KafkaSecurity.from_env().librdkafka())
    if over:
        raise UserError("; ".join(over) + ": partition counts change with a release "
                        "(docs/operations.md, More partitions), not in place")


def cmd_simulate(args: argparse.Namespace) -> int:
    from streams.simulator import sink
    from streams.simulator.calibration import WorldConfig, recent_start_ms
    from streams.simulator.world import World

    start: dict[str, int] = {}
    if args.end_days_ago is not None:
        if args.end_days_ago < 0 or not args.days > 0:
            raise UserError("--end-days-ago must be >= 0 (and --days > 0)")
        start["start_ts_ms"] = recent_start_ms(args.days, age_days=args.end_days_ago, weekly=True)
    config = WorldConfig(accounts=args.accounts, days=args.days, seed=args.seed, **start)
    if args.report:
        from streams.simulator.report import calibration_report

        world = World(config)
        for _ in world.events():
            pass
        rows = calibration_report(world)
        _say(f"{'metric':58} {'realised':>14} {'target':>14}  note")
        for metric, realised, target, note in rows:
            _say(f"{metric:58} {_fmt(realised):>14} {_fmt(target):>14}  {note}")
        return 0
    if bool(args.out) == bool(args.broker):
        raise UserError("give exactly one of --out DIR or --broker URL")
    started = time.monotonic()
    if args.out:
        from streams.topics import INPUT_TOPICS

        counts = sink.write_dir(World(config), Path(args.out))
        events = sum(counts[f"{t.name}.jsonl"] for t in INPUT_TOPICS)  # not labels, endpoints or cases
        _say(f"wrote {events:,} events ({counts.get('labels.csv', 0):,} labels, "
             f"{counts.get('cases.jsonl', 0):,} cases) to {args.out} in {time.monotonic() - started:.1f}s")
        return 0
    from topologies.broker import bootstrap_of
    from topologies.settings import KafkaSecurity

    try:
        sent = sink.stream_to_kafka(World(config), bootstrap_of(args.broker), rate=args.rate,
                                    speedup=args.speedup, client_config=KafkaSecurity.from_env().librdkafka())
    except sink.DeliveryError as exc:
        raise UserError(f"{exc} (broker {args.broker})") from None
    _say(f"sent {sent:,} events to {args.broker} in {time.monotonic() - started:.1f}s")
    return 0


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    return "" if value is None else str(value)


def cmd_train(args: argparse.Namespace) -> int:
    from models.pipeline import train_from_dir

    until = _parse_time(args.until, "--until") if args.until else None
    _check_data_dir(args.data, "--data")
    _check_model_out(Path(args.out))
    meta = train_from_dir(args.data, args.labels, args.out, until_ms=until, progress=_progress("train"),
                          bars=args.progress)
    v = meta.metrics["validation"]
    _say(f"model {meta.version} -> {args.out}")
    _say(f"validation: PR-AUC {v['pr_auc']:.3f}, hold precision {v['precision']:.3f} "
         f"(95% lower bound {meta.metrics['hold_precision_lower_bound']:.3f}), "
         f"recall {v['recall']:.3f} at threshold {meta.hold_threshold:.4f}")
    return 0


def _check_data_dir(path: str, flag: str) -> None:
    """A file given for a data directory is named as such (replay would say it does not exist)."""
    if Path(path).exists() and not Path(path).is_dir():
        raise UserError(f"{flag} {path} is not a directory: give the data directory `muleguard simulate --out` wrote")


def _check_model_out(out: Path) -> None:
    """Refuse up front what ``models.registry.save`` would refuse only after training: a file, or
    a non-empty directory that is not a model directory (it is replaced whole, never merged)."""
    from models.registry import META_FILE, MODEL_FILE

    path = out.resolve()
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {out} is a file, not a model directory")
    if path.is_dir() and any(path.iterdir()) and not ((path / META_FILE).is_file() or (path / MODEL_FILE).is_file()):
        raise UserError(f"--out {out} is not empty and not a model directory: not replacing it "
                        "(give a new or empty directory, or an earlier model's)")


def _parse_time(value: str, flag: str) -> int:
    from streams.timefmt import parse_ts

    ts = int(value) if value.isdigit() else parse_ts(value)
    if ts is None:
        raise UserError(f"{flag} must be RFC 3339 with offset or epoch milliseconds, got {value!r}")
    return ts


def cmd_replay(args: argparse.Namespace) -> int:
    from models.replay import replay_decisions
    from models.scorer import Scorer
    from streams.codec import freeze_request_to_json

    out = Path(args.out)
    if out.is_dir():  # found before the replay, not after it
        raise UserError(f"--out {out} is a directory: give the JSON Lines file to write")
    _check_data_dir(args.data, "--data")
    scorer = Scorer(args.model).load()
    log, replayer = replay_decisions(args.data, scorer)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as fh:
        for request in log.holds:
            fh.write(json.dumps(freeze_request_to_json(request), ensure_ascii=False) + "\n")
    _say(f"replayed {replayer.records:,} records ({replayer.rejected:,} rejected), scored "
         f"{log.scored:,} events, {len(log.holds):,} freeze requests -> {out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from topologies.demo import run_demo

    summary = run_demo(duration_s=args.duration, rate=args.rate, model_dir=Path(args.model),
                       work_dir=Path(args.work_dir), say=_say)
    if args.report:
        Path(args.report).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.bench_command == "keyed-sum":
        from topologies import keyed_sum

        argv = ["--broker", args.broker, "--topic", args.topic, "--count", str(args.count)]
        return keyed_sum.main(argv) or 0
    if args.bench_command == "pipeline":
        return _bench_pipeline(args)
    raise UserError("choose a benchmark: keyed-sum, pipeline")


def _joined(counts: tuple[int, ...]) -> str:
    return ",".join(map(str, counts))


def _counts(text: str, what: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError(f"{what} must be whole numbers separated by commas, not {text!r}") from None
    if any(n < 1 for n in counts):
        raise UserError(f"{what} must be at least 1")
    return counts


def _bench_pipeline(args: argparse.Namespace) -> int:
    from topologies import bench, bench_pipeline

    if args.workers < 1:
        raise UserError("--workers must be at least 1")
    if args.broker and not args.reset_topics:
        raise UserError("the pipeline benchmark deletes and re-creates muleguard's topics on the broker before "
                        "each measurement: point --broker at a cluster kept for benchmarks and add --reset-topics")
    results = bench_pipeline.run(
        Path(args.work_dir), Path(args.model), capacity_events=args.capacity_events,
        loads=_counts(args.loads, "--loads"), load_seconds=args.seconds, say=_say, broker_url=args.broker,
        capacity_workers=_counts(args.capacity_workers, "--capacity-workers"),
        load_workers=args.workers, accounts=args.accounts)
    bench.print_pipeline(results)
    print(json.dumps(results))
    if args.report:
        Path(args.report).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="muleguard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="embedded broker + worker + simulated traffic, then a summary")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of traffic (default 60)")
    p.add_argument("--rate", type=float, default=300.0, help="events per second (default 300)")
    p.add_argument("--report", help="write the summary as JSON to this file")
    p.add_argument("--model", default="var/model", help="model directory (trained if missing)")
    p.add_argument("--work-dir", default="var/demo", help="scratch directory for logs and state")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("worker", help="the Faust worker (needs --broker or MULEGUARD_BROKER)")
    p.add_argument("--broker", help="kafka://HOST:PORT[,kafka://HOST:PORT...]")
    p.add_argument("--web-port", type=int, default=None, help="web server port (default 6066 or MULEGUARD_WEB_PORT)")
    p.add_argument("--web-host", default=None, help="bind address of the web server (default 127.0.0.1)")
    p.add_argument("--model", help="model directory (default var/model or MULEGUARD_MODEL)")
    p.add_argument("--data-dir", help="where RocksDB state lives (default var/worker)")
    p.add_argument("--app-id", default=None, help="consumer group / app id (default muleguard)")
    p.add_argument("--endpoints", help="allow-list CSV (bank,account,kind): tracing reviews, never holds, these")
    p.add_argument("--loglevel", default="warning")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("broker", help="the embedded Tansu broker with the project's topics")
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_broker)

    p = sub.add_parser("simulate", help="a simulated world to files or into Kafka")
    p.add_argument("--out", help="data directory to write")
    p.add_argument("--broker", help="stream into this broker instead of files")
    p.add_argument("--rate", type=float, default=None, help="events per second when streaming")
    p.add_argument("--speedup", type=float, default=None, help="event time / wall time when streaming")
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--days", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--end-days-ago", type=int, default=None, metavar="N",
                   help="date the world to end at least N days before today (UTC), whole weeks after "
                        "2026-11-01 (the same world, moved): for live traffic, which ingest judges by the "
                        "worker's clock (events over 366 days old are dead letters); default: from 2026-11-01")
    p.add_argument("--report", action="store_true", help="print the calibration report instead")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("train", help="train a model on a data directory")
    p.add_argument("--data", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--until", help="only events before this time (RFC 3339 or epoch ms)")
    p.add_argument("--progress", action="store_true", default=None,
                   help="progress bars on stderr (default: only when stderr is a terminal)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("replay", help="the freeze requests the live worker would emit")
    p.add_argument("--data", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_replay)

    from topologies import cli_models

    cli_models.register(sub)

    p = sub.add_parser("bench", help="benchmarks")
    bench = p.add_subparsers(dest="bench_command", required=True)
    k = bench.add_parser("keyed-sum", help="per-key running sum in a RocksDB table (vs ../shared/bench)")
    k.add_argument("--broker", required=True)
    k.add_argument("--topic", required=True)
    k.add_argument("--count", type=int, required=True)
    b = bench.add_parser("pipeline", help="capacity and event-to-freeze latency of the whole pipeline "
                                          "(make bench's pipeline stage), on embedded brokers or a cluster")
    b.add_argument("--broker", help="kafka://HOST:PORT of a cluster kept for benchmarks (default: a fresh "
                                    "embedded broker per measurement); needs --reset-topics")
    b.add_argument("--reset-topics", action="store_true",
                   help="let the benchmark delete and re-create muleguard's topics on --broker")
    b.add_argument("--workers", type=int, default=1, help="worker processes at the offered loads (default 1)")
    b.add_argument("--capacity-workers", default=_joined(bench_defaults.CAPACITY_WORKERS),
                   help="worker counts to measure capacity with (default %(default)s; empty: none)")
    b.add_argument("--loads", default=_joined(bench_defaults.OFFERED_LOADS),
                   help="offered events/s, comma-separated (default %(default)s)")
    b.add_argument("--seconds", type=float, default=bench_defaults.LOAD_SECONDS,
                   help="seconds of each offered load (default %(default)s)")
    b.add_argument("--capacity-events", type=int, default=bench_defaults.CAPACITY_EVENTS,
                   help="burst size for capacity (default %(default)s)")
    b.add_argument("--accounts", type=int, default=bench_defaults.BENCH_ACCOUNTS,
                   help="accounts in the simulated world (default %(default)s)")
    b.add_argument("--model", default="var/model", help="model directory (trained if missing)")
    b.add_argument("--work-dir", default="var/bench", help="scratch directory for logs and state")
    b.add_argument("--report", help="write the figures as JSON to this file")
    p.set_defaults(func=cmd_bench)

    from topologies.case_cli import add_parser as add_case_parser

    add_case_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (UserError, OSError, ValueError) as exc:  # OSError: a path that exists, is a directory, ...
        if os.environ.get("MULEGUARD_DEBUG"):
            raise
        print(f"muleguard: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # Run the imported module's main: under `python -m` this file is `__main__`, and its own
    # UserError class would not be the one other modules raise.
    from topologies.cli import main as imported_main

    sys.exit(imported_main())
