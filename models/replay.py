"""Offline decisions: the freeze requests the live workers would emit for a data directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from features.engine import Emit
from features.replay import Replayer, read_endpoints
from features.signals import TransferIn, TransferOut
from features.state import AccountState
from features.trace import TraceHit
from models.decision import Decider
from models.policy import Decision, freeze_request
from models.scorer import Scorer
from streams.contracts import FreezeRequest


@dataclass
class DecisionLog:
    holds: list[FreezeRequest] = field(default_factory=list)
    reviews: list[Decision] = field(default_factory=list)
    scored: int = 0
    scores: list[tuple[str, float]] = field(default_factory=list)


def replay_decisions(
    data_dir: str | Path, scorer: Scorer, *, from_ms: int | None = None,
    keep_scores: bool = False, on_progress: Callable[[int], None] | None = None,
) -> tuple[DecisionLog, Replayer]:
    """Replay in event-time order; requests carry ``emitted_ts = event_ts`` so runs compare equal.

    An ``endpoints.csv`` allow-list in the data directory is used as the worker's ``--endpoints``.

    Events before ``from_ms`` still build state (history) but their decisions are not logged.
    """
    decider = Decider(scorer)
    log = DecisionLog()

    def on_scored(key: str, state: AccountState, signal: TransferIn | TransferOut, vec: np.ndarray) -> list[Emit]:
        outcome = decider.on_scored(key, state, signal, vec)
        emits, decision = outcome.emits, outcome.decision
        if from_ms is not None and signal.ts_ms < from_ms:
            return emits
        log.scored += 1
        if keep_scores and outcome.probability is not None:
            log.scores.append((key, outcome.probability))
        _log(decision)
        if on_progress is not None and log.scored % 10_000 == 0:
            on_progress(log.scored)
        return emits

    def on_trace(state: AccountState, hit: TraceHit) -> list[Emit]:
        outcome = decider.on_trace(state, hit)
        if from_ms is None or hit.report_ts_ms >= from_ms:
            _log(outcome.decision)
        return outcome.emits

    def _log(decision: Decision | None) -> None:
        if decision is not None and decision.action == "hold":
            log.holds.append(freeze_request(decision, decision.event_ts_ms))
        elif decision is not None:
            log.reviews.append(decision)

    endpoints = read_endpoints(Path(data_dir) / "endpoints.csv")
    replayer = Replayer(on_scored=on_scored, on_trace=on_trace, endpoints=endpoints)
    replayer.run(data_dir)
    return log, replayer
