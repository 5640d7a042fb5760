"""``muleguard evaluate`` and ``muleguard models list|promote|rollback|shadow``: parse, call models/, print."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from topologies.settings import ENV_BROKER

if TYPE_CHECKING:
    from models.versions import Change

ENV_REGISTRY = "MULEGUARD_REGISTRY"
ANNOUNCE_TIMEOUT_S = 10.0  # how long to look for the broker before saying the workers were not told


def _say(msg: str) -> None:
    print(msg, flush=True)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from models.backtest import evaluate_dir, format_table, to_json
    from models.progress import counter
    from models.scorer import Scorer
    from topologies.cli import _parse_time

    scorer = Scorer(args.model).load()
    from_ms = _parse_time(args.from_ts, "--from") if args.from_ts else None
    with counter("replaying held-out events", unit="scored", enabled=args.progress) as tick:
        report = evaluate_dir(args.data, scorer, from_ms=from_ms, warm_up_days=args.warm_up_days, progress=tick)
    _say(format_table(report))
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(to_json(report))
        _say(f"report -> {args.report}")
    return 0


def _registry(args: argparse.Namespace) -> Path:
    return Path(args.registry or os.environ.get(ENV_REGISTRY) or "var/registry")


def _announce(args: argparse.Namespace, change: Change) -> None:
    """Tell running workers (control message + audit record) when a broker is known.

    The registry has changed already: a broker that cannot be reached is one line saying the
    workers were not told and how to tell them, never a traceback that hides the change.
    """
    broker = args.broker or os.environ.get(ENV_BROKER)
    if not broker:
        _say(f"registry updated; no --broker or {ENV_BROKER}: running workers were not told")
        return
    from confluent_kafka import KafkaException

    from models.versions import Change
    from topologies.broker import bootstrap_of
    from topologies.cli import UserError
    from topologies.control import publish

    bootstrap = bootstrap_of(broker)
    changes = [change]
    if change.shadow_cleared:  # the workers' shadow must stop too
        changes.append(Change("shadow_off", None, change.shadow_cleared, None))
    try:
        _reachable(bootstrap)  # publish waits 20 s for an unreachable broker; fail sooner
        for each in changes:
            message = publish(bootstrap, each, _registry(args))
            _say(f"control message sent to {broker}: {message.action} {message.version or ''}".rstrip())
    except (KafkaException, RuntimeError) as exc:
        raise UserError(f"registry updated, but running workers were NOT told ({_reason(exc)}); "
                        f"tell them with `{_reannounce(args, change)}` once {broker} is reachable") from None


def _reachable(bootstrap: str) -> None:
    """Raise ``KafkaException`` unless the broker answers a metadata request within ``ANNOUNCE_TIMEOUT_S``."""
    from confluent_kafka.admin import AdminClient

    from topologies.settings import KafkaSecurity

    AdminClient({**KafkaSecurity.from_env().librdkafka(), "bootstrap.servers": bootstrap, "log_level": 0},
                ).list_topics(timeout=ANNOUNCE_TIMEOUT_S)


def _reason(exc: Exception) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if hasattr(error, "str") else str(exc)  # a KafkaError: its message without the codes


def _reannounce(args: argparse.Namespace, change: Change) -> str:
    """The command that announces the registry's new state again without changing it further:
    rerunning a rollback would roll back once more, so a rollback is re-announced as a promotion
    of the version it restored (promoting the current version changes nothing)."""
    if change.action in ("promote", "rollback"):
        what = [f"promote {change.version}"] + (["shadow --off"] if change.shadow_cleared else [])
    else:
        what = [f"shadow {change.version}" if change.action == "shadow" else "shadow --off"]
    flags = "".join(f" --{name} {value}" for name, value in (("registry", args.registry), ("broker", args.broker))
                    if value)
    return "` then `".join(f"muleguard models {each}{flags}" for each in what)


def cmd_models(args: argparse.Namespace) -> int:
    from models import versions

    root = _registry(args)
    if args.models_command == "list":
        rows = versions.list_versions(root)
        if args.json:
            _say(json.dumps(rows, indent=2))
            return 0
        if not rows:
            _say(f"no model versions in {root} (add one with `muleguard models promote MODEL_DIR`)")
            return 0
        _say(f"{'version':32} {'role':9} {'engine':7} {'PR-AUC':>7} {'prec':>6} {'recall':>6} {'hold thr':>9}")
        for r in rows:
            _say(f"{r['version']:32} {r['role']:9} {r['engine_version']:7} {_num(r['pr_auc']):>7} "
                 f"{_num(r['precision']):>6} {_num(r['recall']):>6} {_num(r['hold_threshold'], 4):>9}")
        return 0
    if args.models_command == "promote":
        change = versions.promote(root, args.version)
        _say(f"current model: {change.version} (was {change.previous or 'none'})")
    elif args.models_command == "rollback":
        change = versions.rollback(root)
        _say(f"rolled back: current model {change.version} (was {change.previous})")
    else:
        change = versions.set_shadow(root, None if args.off else args.version)
        _say(f"shadow: {change.version or 'off'} (was {change.previous or 'off'})")
    if change.shadow_cleared:
        _say(f"shadow: off (was {change.shadow_cleared}, now the current model)")
    _announce(args, change)
    return 0


def _num(value: object, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` and ``models`` to the ``muleguard`` parser."""
    p = sub.add_parser("evaluate", help="held-out evaluation exactly as the live system decides")
    p.add_argument("--data", required=True, help="data directory with labels.csv (and cases.jsonl)")
    p.add_argument("--model", required=True, help="model directory")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--from", dest="from_ts", help="held-out period starts here (RFC 3339 or epoch ms)")
    start.add_argument("--warm-up", dest="warm_up_days", type=float, metavar="DAYS",
                       help="held-out period starts DAYS after the first event; earlier events only build "
                            "state, as in a live system that has been running (features need history)")
    p.add_argument("--report", help="write the report as JSON to this file")
    p.add_argument("--progress", action="store_true", default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")
    p.set_defaults(func=cmd_evaluate)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", help=f"registry directory (default var/registry or {ENV_REGISTRY})")
    common.add_argument("--broker", help=f"tell running workers through this broker (default {ENV_BROKER})")
    p = sub.add_parser("models", help="the model registry: list, promote, rollback, shadow")
    models = p.add_subparsers(dest="models_command", required=True)
    ls = models.add_parser("list", parents=[common], help="every version, its role and validation metrics")
    ls.add_argument("--json", action="store_true")
    pr = models.add_parser("promote", parents=[common],
                           help="make a version (or a model directory, added first) current")
    pr.add_argument("version")
    models.add_parser("rollback", parents=[common], help="make the previously promoted version current again")
    sh = models.add_parser("shadow", parents=[common],
                           help="score a challenger alongside the current model, never emitting")
    group = sh.add_mutually_exclusive_group(required=True)
    group.add_argument("version", nargs="?")
    group.add_argument("--off", action="store_true")
    p.set_defaults(func=cmd_models)
