"""Score drift: the population stability index (PSI) of live scores against training's.

The model card fixes the reference: the share of validation scores in each score bucket,
stored in the manifest (``metrics["score_reference"]``). Workers histogram their live scores
on the same buckets (``muleguard_scores``), so PSI needs no extra state. Rule of thumb: below
0.1 stable, 0.1 to 0.25 worth a look, above 0.25 the population has shifted (retrain).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Upper bucket edges (the last bucket is everything above 0.99); shared with the live histogram.
SCORE_BUCKETS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
EPSILON = 1e-4  # an empty bucket would make PSI infinite; this floor is the usual remedy


def reference(scores: np.ndarray) -> list[float]:
    """Share of ``scores`` per bucket (len(SCORE_BUCKETS) + 1 shares, summing to 1).

    Examples:
        >>> reference(np.array([0.0, 0.02, 0.5, 1.0]))[:3], sum(reference(np.array([0.3])))
        ([0.25, 0.25, 0.0], 1.0)
    """
    counts = np.bincount(np.searchsorted(SCORE_BUCKETS, scores, side="left"), minlength=len(SCORE_BUCKETS) + 1)
    return [round(float(c), 6) for c in counts / max(len(scores), 1)]


def shares_from_cumulative(cumulative: Sequence[float]) -> list[float] | None:
    """Per-bucket shares from a Prometheus histogram's cumulative counts (``+Inf`` last).

    Examples:
        >>> shares_from_cumulative([1, 1, 3, 4])
        [0.25, 0.0, 0.5, 0.25]
        >>> shares_from_cumulative([0, 0]) is None
        True
    """
    total = cumulative[-1]
    if not total:
        return None
    previous = 0.0
    shares = []
    for count in cumulative:
        shares.append((count - previous) / total)
        previous = count
    return shares


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index between two bucket-share vectors of equal length.

    Examples:
        >>> psi([0.5, 0.5], [0.5, 0.5])
        0.0
        >>> round(psi([0.9, 0.1], [0.5, 0.5]), 3)
        0.879
    """
    if len(expected) != len(actual):
        raise ValueError("PSI needs the same buckets on both sides")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, EPSILON), max(a, EPSILON)
        total += (a - e) * math.log(a / e)
    return round(total, 6)
