"""Offline decisions: the freeze requests the live workers would emit for a data directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from features.replay import Replayer, read_endpoints
from features.signals import Emit, TransferIn, TransferOut
from features.state import AccountState
from features.trace import TraceHit
from features.windows import DAY_MS
from models.decision import Decider
from models.policy import Decision, freeze_request
from models.scorer import Scorer
from streams.contracts import FreezeRequest


@dataclass
class DecisionLog:
    holds: list[FreezeRequest] = field(default_factory=list)
    reviews: list[Decision] = field(default_factory=list)
    scored: int = 0
    # Per account: highest score and the event time of its last scored event (``keep_scores``).
    best_scores: dict[str, tuple[float, int]] = field(default_factory=dict)
    # Accounts scored per event-time day (``keep_scores``): the "active accounts" denominator.
    daily_active: dict[int, set[str]] = field(default_factory=dict)
    # Event time at which each hold in ``holds`` took effect: the scored event for a model hold,
    # the later of the traced credit and the report for a traced one (``event_ts`` is the report).
    hold_times: list[int] = field(default_factory=list)


def replay_decisions(
    data_dir: str | Path, scorer: Scorer, *, from_ms: int | None = None,
    keep_scores: bool = False, on_progress: Callable[[int], None] | None = None,
    on_vector: Callable[[str, TransferIn | TransferOut, np.ndarray], None] | None = None,
) -> tuple[DecisionLog, Replayer]:
    """Replay in event-time order; requests carry ``emitted_ts = event_ts`` so runs compare equal.

    An ``endpoints.csv`` allow-list in the data directory is used as the worker's ``--endpoints``.

    Events before ``from_ms`` still build state (history) but their decisions are not logged.
    ``on_vector`` sees every scored event's feature vector (the live feature log's twin).
    """
    decider = Decider(scorer)
    log = DecisionLog()

    def on_scored(key: str, state: AccountState, signal: TransferIn | TransferOut, vec: np.ndarray) -> list[Emit]:
        if on_vector is not None:
            on_vector(key, signal, vec)
        outcome = decider.on_scored(key, state, signal, vec)
        emits, decision = outcome.emits, outcome.decision
        if from_ms is not None and signal.ts_ms < from_ms:
            return emits
        log.scored += 1
        if keep_scores and outcome.probability is not None:
            best = log.best_scores.get(key)
            log.best_scores[key] = (max(outcome.probability, best[0] if best else 0.0), signal.ts_ms)
            log.daily_active.setdefault(signal.ts_ms // DAY_MS, set()).add(key)
        _log(decision, signal.ts_ms)
        if on_progress is not None and log.scored % 10_000 == 0:
            on_progress(log.scored)
        return emits

    def on_trace(state: AccountState, hit: TraceHit) -> list[Emit]:
        outcome = decider.on_trace(state, hit)
        if from_ms is None or hit.report_ts_ms >= from_ms:
            _log(outcome.decision, max(hit.credit_ts_ms, hit.report_ts_ms))
        return outcome.emits

    def _log(decision: Decision | None, at_ms: int) -> None:
        if decision is not None and decision.action == "hold":
            log.holds.append(freeze_request(decision, decision.event_ts_ms))
            log.hold_times.append(at_ms)
        elif decision is not None:
            log.reviews.append(decision)

    endpoints = read_endpoints(Path(data_dir) / "endpoints.csv")
    replayer = Replayer(on_scored=on_scored, on_trace=on_trace, endpoints=endpoints)
    replayer.run(data_dir)
    return log, replayer
