"""The one decision step shared by the live score agent and offline replay."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from features import engine, holds
from features.signals import Emit, TransferIn, TransferOut
from features.state import AccountState
from features.trace import TraceHit
from models.policy import Decision, decide_on_score, decide_on_trace
from models.scorer import Scorer


@dataclass(frozen=True, slots=True)
class Outcome:
    """What scoring one event produced: a probability (None if already held), maybe a decision."""

    probability: float | None = None
    decision: Decision | None = None
    emits: list[Emit] = field(default_factory=list)


def scored_features(names: tuple[str, ...], vector: np.ndarray) -> dict[str, float | None]:
    """The vector the model scored, by feature name, for the decision's audit record
    (missing values as ``None``: JSON has no NaN)."""
    return {name: None if value != value else value for name, value in zip(names, vector.tolist(), strict=False)}


class Decider:
    """Score an account after one of its transfers; on a hold, mark it held and explain why."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer

    def on_scored(
        self, key: str, state: AccountState, signal: TransferIn | TransferOut, vector: np.ndarray,
    ) -> Outcome:
        if engine.is_held(state, signal.ts_ms):
            return Outcome()
        meta = self.scorer.meta
        score = self.scorer.score_one(vector)
        holds.note_score(state, score.probability, signal.ts_ms)  # the bank officer's score history
        decision = decide_on_score(
            key, score.probability, score.model_version, meta.hold_threshold, meta.review_threshold,
            signal.transfer_id, signal.ts_ms, engine.recent_inflow_satang(state, signal.ts_ms),
        )
        if decision is None:
            return Outcome(score.probability, decision)
        decision = replace(decision, model_inputs={
            **decision.model_inputs, "engine_version": meta.engine_version,  # type: ignore[dict-item]
            "features": scored_features(meta.feature_names, vector)})
        if decision.action != "hold":
            return Outcome(score.probability, decision)
        decision = replace(decision, top_reasons=self.scorer.explain(vector))
        return Outcome(score.probability, decision,
                       engine.hold(state, key, signal.ts_ms, signal.ingest_ms, decision.expires_ts_ms))

    def on_trace(self, state: AccountState, hit: TraceHit) -> Outcome:
        return on_trace(state, hit)


def on_trace(state: AccountState, hit: TraceHit) -> Outcome:
    """Traced money: hold it (and mark the account) unless the account looks like a shop.
    No model takes part, so training replays make the same holds the live system does."""
    decision = decide_on_trace(hit)
    if decision.action != "hold":
        return Outcome(None, decision)
    emits = engine.hold(state, hit.key, hit.report_ts_ms, hit.ingest_ms, decision.expires_ts_ms)
    return Outcome(None, decision, emits)
