"""Held-out evaluation exactly as the live system decides: ``muleguard evaluate``.

The data directory is replayed through ``models.replay.replay_decisions`` (the workers'
feature engine and ``Decider``: model holds and victim-report tracing together). Events
before the held-out period build state only; decisions, scores and cases from the period
on are judged against ``labels.csv`` and ``cases.jsonl``. See docs/models.md.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from features.replay import first_event_ms
from features.windows import DAY_MS
from models import evaluate
from models.dataset import fingerprint
from models.labels import Label, is_mule_at, read_labels
from models.money import CaseMoney, Hold, case_money
from models.replay import DecisionLog, replay_decisions
from models.scorer import Scorer
from streams.timefmt import format_ts

AOC_MONEY_SHARE = 0.567  # AOC 1441 recovered 56.7% with 10-15 minute human freezes (brief)
TARGET_MONEY_SHARE = 0.90
HARD_NEGATIVE_KINDS = ("merchant", "payroll", "shared_device", "pass_through")
QUANTILES = (0.5, 0.9, 0.99)


class EvaluationError(ValueError):
    """The data directory cannot be evaluated as asked (missing ground truth, no held-out period)."""


def held_out_start(data_dir: str | Path, scorer: Scorer, from_ms: int | None,
                   warm_up_days: float | None = None) -> int | None:
    """``--from`` if given; else ``warm_up_days`` after the first event, or the model's training
    cut if it was trained on this very data.

    Evaluating a model on the events it was trained on would flatter it, so that is refused,
    with or without a warm-up (``--from`` is the operator's explicit choice).
    """
    if from_ms is not None:
        return from_ms
    start = None
    if warm_up_days is not None:
        if not (math.isfinite(warm_up_days) and warm_up_days >= 0):
            raise EvaluationError(f"--warm-up must be a number of days >= 0, not {warm_up_days}")
        start = first_event_ms(data_dir) + round(warm_up_days * DAY_MS)
    meta = scorer.meta
    if meta.data_fingerprint and meta.data_fingerprint == fingerprint(data_dir):
        if meta.trained_until_ms is None:
            raise EvaluationError(
                f"model {meta.version} was trained on all of {data_dir}: pass --from TS after its "
                "training period, or evaluate on another data directory")
        if start is None:
            return meta.trained_until_ms
        if start < meta.trained_until_ms:
            raise EvaluationError(
                f"model {meta.version} was trained on {data_dir} until {format_ts(meta.trained_until_ms)}: "
                f"--warm-up {warm_up_days:g} starts the held-out period inside its training data; leave "
                "--warm-up out to start where training stopped")
    return start


def evaluate_dir(
    data_dir: str | Path, scorer: Scorer, *, from_ms: int | None = None, warm_up_days: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Replay ``data_dir`` and return the report (the JSON ``--report`` writes).

    The held-out period starts at ``from_ms``, or ``warm_up_days`` after the first event
    (``held_out_start``); a period in which no event is scored is refused, not reported as zeros.
    """
    data_dir = Path(data_dir)
    if not (data_dir / "labels.csv").is_file():
        raise EvaluationError(f"{data_dir} has no labels.csv: evaluation needs ground truth")
    labels = read_labels(data_dir / "labels.csv")
    start = held_out_start(data_dir, scorer, from_ms, warm_up_days)
    log, replayer = replay_decisions(data_dir, scorer, from_ms=start, keep_scores=True, on_progress=progress)
    if log.scored == 0:
        since = f" from {format_ts(start)} on" if start is not None else ""
        raise EvaluationError(f"no event of {data_dir} was scored{since}: the held-out period is empty "
                              "(does --from or --warm-up lie past the data's end?)")
    days = sorted(log.daily_active)
    report: dict[str, Any] = {
        "model_version": scorer.version,
        "data_dir": str(data_dir),
        "from_ms": start,
        "records": replayer.records,
        "scored_events": log.scored,
        "days": _period_days(log, start),
        "active_accounts_per_day": float(np.mean([len(log.daily_active[d]) for d in days])) if days else 0.0,
        "hold_threshold": scorer.meta.hold_threshold,
    }
    report.update(_account_metrics(log, labels))
    report["threshold_sweep"] = _threshold_sweep(log, labels, scorer.meta.hold_threshold)
    report.update(_innocents(log, labels, report["days"], report["active_accounts_per_day"]))
    cases_path = data_dir / "cases.jsonl"
    if cases_path.is_file():
        report.update(_money(log, _read_cases(cases_path, start)))
    else:
        report.update({"money_held_share": None, "cases": 0})
    return report


def _period_days(log: DecisionLog, start: int | None) -> float:
    times = [ts for _, ts in log.best_scores.values()]
    if not times:
        return 0.0
    first = start if start is not None else min(d * DAY_MS for d in log.daily_active)
    return max((max(times) - first) / DAY_MS, 1 / 24)


def _account_metrics(log: DecisionLog, labels: dict[str, Label]) -> dict[str, Any]:
    """Account-level precision/recall/F1 of model holds (and of all holds); PR-AUC of scores."""
    truth = {key: is_mule_at(labels, key, ts) for key, (_, ts) in log.best_scores.items()}
    first_hold: dict[str, tuple[str, int]] = {}
    for request, at in zip(log.holds, log.hold_times, strict=True):
        first_hold.setdefault(request.key, (request.reason, at))
    for key, (_, at) in first_hold.items():
        truth[key] = truth.get(key, False) or is_mule_at(labels, key, at)
    mules = sum(truth.values())
    keys = list(log.best_scores)
    scores = np.array([log.best_scores[k][0] for k in keys])
    y = np.array([truth[k] for k in keys], dtype=np.int8)
    out: dict[str, Any] = {
        "accounts": len(truth), "mules": mules,
        "pr_auc": evaluate.average_precision(y, scores) if len(keys) else float("nan"),
    }
    for name, reasons in (("", ("model",)), ("all_holds_", ("model", "trace")), ("trace_", ("trace",))):
        held = {k for k, (reason, _) in first_hold.items() if reason in reasons}
        tp = sum(truth[k] for k in held)
        precision = tp / len(held) if held else float("nan")
        recall = tp / mules if mules else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        out.update({f"{name}precision": precision, f"{name}recall": recall, f"{name}f1": f1,
                    f"{name}held_accounts": len(held), f"{name}held_mules": tp})
    return out


SWEEP_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def _threshold_sweep(log: DecisionLog, labels: dict[str, Label], hold_threshold: float) -> list[dict[str, Any]]:
    """Precision and recall on this period had the hold threshold been elsewhere: accounts
    whose highest score reached it, judged at that score's time. Validation picked the
    threshold on the training world (docs/models.md); this shows whether the choice holds
    here, and what moving it would trade. The policy's other conditions are not applied."""
    keys = list(log.best_scores)
    scores = np.array([log.best_scores[k][0] for k in keys])
    truth = np.array([is_mule_at(labels, k, log.best_scores[k][1]) for k in keys], dtype=bool)
    mules = int(truth.sum())
    rows = []
    chosen = round(hold_threshold, 4)
    for threshold in sorted({*SWEEP_THRESHOLDS, chosen}):
        above = scores >= threshold
        n, hits = int(above.sum()), int((above & truth).sum())
        rows.append({"threshold": threshold, "accounts": n, "precision": hits / n if n else float("nan"),
                     "recall": hits / mules if mules else float("nan"), "hold_threshold": threshold == chosen})
    return rows


def _innocents(log: DecisionLog, labels: dict[str, Label], days: float, active: float) -> dict[str, Any]:
    """Innocent accounts held per million active accounts per day, by label kind and by reason."""
    seen: set[str] = set()
    by_kind: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    for request, at in zip(log.holds, log.hold_times, strict=True):
        if request.key in seen or is_mule_at(labels, request.key, at):
            continue
        seen.add(request.key)
        label = labels.get(request.key)
        by_kind[label.kind if label else "unlabelled"] += 1
        by_reason[request.reason] += 1
    scale = 1e6 / (active * days) if active and days else float("nan")
    kinds = dict.fromkeys(HARD_NEGATIVE_KINDS, 0) | dict(by_kind)
    return {
        "innocents_held": len(seen),
        "innocents_per_million_per_day": len(seen) * scale,
        "innocents_by_kind": {k: {"held": n, "per_million_per_day": n * scale} for k, n in sorted(kinds.items())},
        "innocents_by_reason": {k: {"held": n, "per_million_per_day": n * scale} for k, n in sorted(by_reason.items())},
    }


def _read_cases(path: Path, start: int | None) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        cases = [json.loads(line) for line in fh if line.strip()]
    return [c for c in cases if start is None or (c.get("first_ts_ms") or 0) >= start]


def _money(log: DecisionLog, cases: list[dict[str, Any]]) -> dict[str, Any]:
    holds = [Hold(r.key, at, r.amount_satang or 0, r.reason, r.expires_ts_ms)
             for r, at in zip(log.holds, log.hold_times, strict=True)]
    outcomes = case_money(cases, holds)
    frozen = case_money(cases, holds, freeze_account=True)
    # Model holds alone: what tracing adds to reported cases, and what the model does for
    # the cases nobody reports (only model holds reach those).
    model_only = case_money(cases, [h for h in holds if h.reason == "model"])
    loss = sum(c.loss_satang for c in outcomes)
    held = sum(c.held_satang for c in outcomes)
    delays = [c.delay_ms / 1000 for c in outcomes if c.delay_ms is not None]
    reported = [c for c in outcomes if c.reported]
    return {
        "cases": len(outcomes),
        "cases_with_money_held": len(delays),
        "stolen_satang": loss,
        "held_satang": held,
        "money_held_share": held / loss if loss else float("nan"),
        "money_held_share_reported_cases": _share(reported),
        "money_held_share_upper_bound_accounts_frozen": _share(frozen),
        "money_held_share_unreported_cases": _share([c for c in outcomes if not c.reported]),
        "cases_reported": len(reported),
        "cases_unreported": len(outcomes) - len(reported),
        "money_held_share_model_holds_reported_cases": _share([c for c in model_only if c.reported]),
        "money_held_share_model_holds_unreported_cases": _share([c for c in model_only if not c.reported]),
        "case_share_quantiles": _quantiles([c.share for c in outcomes]),
        "case_share_mean": float(np.mean([c.share for c in outcomes])) if outcomes else float("nan"),
        "hold_delay_seconds_quantiles": _quantiles(delays),
        "aoc_money_share": AOC_MONEY_SHARE,
        "target_money_share": TARGET_MONEY_SHARE,
        "target_precision": evaluate.HOLD_PRECISION,
        "money_method": "counterfactual chain walk, see models/money.py and docs/models.md",
    }


def _share(cases: list[CaseMoney]) -> float:
    loss = sum(c.loss_satang for c in cases)
    return sum(c.held_satang for c in cases) / loss if loss else float("nan")


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {f"p{int(q * 100)}": float("nan") for q in QUANTILES}
    return {f"p{int(q * 100)}": float(np.quantile(values, q)) for q in QUANTILES}


def to_json(report: dict[str, Any]) -> str:
    """Strict JSON: NaN (a metric with no denominator) becomes null."""
    return json.dumps(_no_nan(report), indent=2, sort_keys=True) + "\n"


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    return value


def format_table(report: dict[str, Any]) -> str:
    """The report as a fixed-width table for a terminal."""
    r = report
    lines = [f"model {r['model_version']} on {r['data_dir']}: {r['days']:.2f} days held out, "
             f"{r['active_accounts_per_day']:,.0f} active accounts/day, {r['scored_events']:,} scored events"]
    rows: list[tuple[str, str]] = [
        ("PR-AUC (account max score)", _f(r["pr_auc"])),
        *[(f"  max score >= {row['threshold']:.2f}{' (hold threshold)' if row['hold_threshold'] else ''}",
           f"precision {_f(row['precision'])}, recall {_f(row['recall'])}, {row['accounts']} accounts")
          for row in r.get("threshold_sweep", [])],
        ("model holds: precision (target)", f"{_f(r['precision'])} ({_f(r['target_precision'])})"),
        ("model holds: recall", _f(r["recall"])),
        ("model holds: F1", _f(r["f1"])),
        ("all holds (model + trace): precision", _f(r["all_holds_precision"])),
        ("all holds (model + trace): recall", _f(r["all_holds_recall"])),
        ("accounts held (model / trace)", f"{r['held_accounts']} / {r['trace_held_accounts']}"),
        ("innocents held per million active per day", _f(r["innocents_per_million_per_day"])),
    ]
    for kind, v in r["innocents_by_kind"].items():
        rows.append((f"  of which {kind}", f"{v['held']} ({_f(v['per_million_per_day'])}/M/day)"))
    if r.get("money_held_share") is not None:
        rows += [
            ("scam cases / with money held", f"{r['cases']} / {r['cases_with_money_held']}"),
            ("money held share (all cases)", _pct(r["money_held_share"])),
            ("  upper bound: holds freeze whole accounts", _pct(r["money_held_share_upper_bound_accounts_frozen"])),
            ("  reported cases / unreported", f"{_pct(r['money_held_share_reported_cases'])} / "
                                              f"{_pct(r['money_held_share_unreported_cases'])} "
                                              f"({r['cases_reported']} / {r['cases_unreported']} cases)"),
            ("  model holds alone: reported / unreported",
             f"{_pct(r['money_held_share_model_holds_reported_cases'])} / "
             f"{_pct(r['money_held_share_model_holds_unreported_cases'])}"),
            ("  AOC 1441 (human freezes) / target", f"{_pct(AOC_MONEY_SHARE)} / {_pct(TARGET_MONEY_SHARE)}"),
            ("per-case share p50 / p90 / mean", " / ".join(
                [_pct(r["case_share_quantiles"][q]) for q in ("p50", "p90")] + [_pct(r["case_share_mean"])])),
            ("first credit -> hold p50 / p90 / p99", " / ".join(
                _dur(r["hold_delay_seconds_quantiles"][q]) for q in ("p50", "p90", "p99"))),
        ]
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)


def _f(value: float | None) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.3f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1%}"


def _dur(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
