"""A challenger model in shadow: what it would have decided on the champion's events.

Pure decision logic (no metrics, no Kafka): the worker's control module counts the results.
"""

from __future__ import annotations

import numpy as np

from models.decision import Outcome
from models.scorer import Scorer

AGREEMENT = ("both_hold", "champion_only", "challenger_only", "neither")


def would_decide(scorer: Scorer, vector: np.ndarray) -> str:
    """``hold``, ``review`` or ``none``, with the challenger's own thresholds."""
    probability = scorer.score_one(vector).probability
    meta = scorer.meta
    if probability >= meta.hold_threshold:
        return "hold"
    return "review" if probability >= meta.review_threshold else "none"


def champion_action(outcome: Outcome) -> str | None:
    """The champion's model decision on an event, or ``None`` if it did not score it (already held)."""
    if outcome.probability is None:
        return None
    decision = outcome.decision
    return "none" if decision is None else decision.action


def agreement(champion: str, challenger: str) -> str:
    """Which of the two would have held the account on this event.

    Examples:
        >>> [agreement("hold", "hold"), agreement("hold", "review"), agreement("none", "hold")]
        ['both_hold', 'champion_only', 'challenger_only']
        >>> agreement("review", "none")
        'neither'
    """
    if champion == "hold":
        return "both_hold" if challenger == "hold" else "champion_only"
    return "challenger_only" if challenger == "hold" else "neither"
