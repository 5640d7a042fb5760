"""The decision policy: what a model decision may hold, and the audit that lets anyone redo it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from features.engine import ENGINE_VERSION
from features.replay import Replayer, read_endpoints
from features.state import AccountState
from features.trace import TraceHit
from models import policy
from models.decision import Decider
from models.scorer import Scorer

KEY = "SCB:m1"
T0 = 1_795_000_000_000


def test_a_model_hold_with_no_recent_inflow_is_a_review_never_a_whole_balance_freeze() -> None:
    """``amount: null`` asks the bank for the whole balance, which only a court may order."""
    decision = policy.decide_on_score(KEY, 0.999, "m1", 0.9, 0.5, "tx-1", T0, suspicious_inflow_satang=0)
    assert decision is not None and decision.action == "review" and decision.amount_satang is None
    effects = policy.act(AccountState(), decision, T0)
    assert effects.requests == [] and effects.reviews == ["model"]


def test_a_hold_never_records_a_score_below_its_threshold() -> None:
    """Thresholds are validation scores at full precision; the request carries 6 decimals."""
    threshold = 0.9700004
    decision = policy.decide_on_score(KEY, 0.97000044, "m1", threshold, 0.5, "tx-1", T0, 50_000_00)
    assert decision is not None and decision.score == 0.97 and decision.action == "review"
    held = policy.decide_on_score(KEY, 0.9700006, "m1", threshold, 0.5, "tx-1", T0, 50_000_00)
    assert held is not None and held.action == "hold" and held.score >= threshold


def test_traced_money_that_arrives_after_the_victim_hold_ran_out_goes_to_review() -> None:
    report = T0
    hit = TraceHit(KEY, "case-1", 2, 10_000_00, "tx-9", "KTB:m0", report + 72 * 3_600_000 + 1, report,
                   False, False, 0)
    assert policy.decide_on_trace(hit).action == "review"
    in_time = TraceHit(KEY, "case-1", 2, 10_000_00, "tx-9", "KTB:m0", report + 71 * 3_600_000, report,
                       False, False, 0)
    decision = policy.decide_on_trace(in_time)
    assert decision.action == "hold" and decision.expires_ts_ms > in_time.credit_ts_ms


def test_every_model_decision_audit_reproduces_its_score_from_the_recorded_features(
        model_dir: Path, stream_world: Path) -> None:
    """Re-scoring the audit's features with the named model gives the recorded score, and the
    recorded thresholds give the recorded action."""
    scorer = Scorer(model_dir).load()
    decider = Decider(scorer)
    audits = []

    def on_scored(key, state, signal, vector):  # noqa: ANN001, ANN202
        outcome = decider.on_scored(key, state, signal, vector)
        if outcome.decision is not None:
            audits.extend(policy.act(state, outcome.decision, signal.ts_ms).audits)
        return outcome.emits

    Replayer(on_scored=on_scored, on_trace=lambda state, hit: decider.on_trace(state, hit).emits,
             endpoints=read_endpoints(stream_world / "endpoints.csv")).run(stream_world)
    kinds = [a.kind for a in audits]
    assert "hold" in kinds and "review" in kinds, kinds[:20]
    names = scorer.meta.feature_names
    for audit in audits:
        d = audit.details
        assert d["model_version"] == scorer.version and d["engine_version"] == ENGINE_VERSION
        vector = np.array([math.nan if d["features"][n] is None else d["features"][n] for n in names])
        assert round(scorer.score_one(vector).probability, 6) == d["score"]
        if audit.kind == "hold":
            assert d["score"] >= d["hold_threshold"] and d["amount_satang"] > 0
        else:
            assert d["review_threshold"] <= d["score"]
            assert d["score"] < d["hold_threshold"] or d["amount_satang"] is None
