"""Metrics and threshold choice, at the level decisions are made: accounts, not rows.

An account is held the first time any of its events scores above the threshold, so
account-level figures use each account's maximum score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOLD_PRECISION = 0.95
REVIEW_PRECISION = 0.5


def average_precision(y: np.ndarray, scores: np.ndarray) -> float:
    """PR-AUC as average precision (step-wise, no interpolation).

    Examples:
        >>> average_precision(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
        0.8333333333333333
    """
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    hits = y[order].astype(np.float64)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def per_account_max(accounts: list[str], scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each account's highest score and whether it was ever a mule in these rows."""
    best: dict[str, float] = {}
    truth: dict[str, int] = {}
    for key, score, label in zip(accounts, scores.tolist(), y.tolist(), strict=True):
        if score > best.get(key, -1.0):
            best[key] = score
        truth[key] = max(truth.get(key, 0), label)
    keys = list(best)
    return np.array([best[k] for k in keys]), np.array([truth[k] for k in keys], dtype=np.int8)


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    precision: float
    recall: float
    flagged: int


def choose_threshold(scores: np.ndarray, y: np.ndarray, min_precision: float) -> ThresholdChoice:
    """The lowest threshold whose precision (on these accounts) is at least ``min_precision``.

    Examples:
        >>> choose_threshold(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 1, 0, 1]), 0.95)
        ThresholdChoice(threshold=0.8, precision=1.0, recall=0.6666666666666666, flagged=2)
    """
    order = np.argsort(-scores, kind="stable")
    sorted_scores, hits = scores[order], y[order].astype(np.int64)
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    positives = max(int(hits.sum()), 1)
    best = ThresholdChoice(float(sorted_scores[0]) + 1e-9 if len(scores) else 1.0, 1.0, 0.0, 0)
    for i in range(len(sorted_scores)):
        if i + 1 < len(sorted_scores) and sorted_scores[i + 1] == sorted_scores[i]:
            continue  # a threshold admits every row with an equal score
        if precision[i] >= min_precision:
            best = ThresholdChoice(float(sorted_scores[i]), float(precision[i]),
                                   float(tp[i] / positives), i + 1)
    return best


@dataclass(frozen=True)
class Report:
    rows: int
    accounts: int
    mules: int
    pr_auc: float
    precision: float
    recall: float
    f1: float
    threshold: float

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def account_report(accounts: list[str], scores: np.ndarray, y: np.ndarray, threshold: float) -> Report:
    best, truth = per_account_max(accounts, scores, y)
    flagged = best >= threshold
    tp = int((flagged & (truth == 1)).sum())
    precision = tp / int(flagged.sum()) if flagged.any() else float("nan")
    recall = tp / int(truth.sum()) if truth.any() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return Report(len(y), len(best), int(truth.sum()), average_precision(truth, best),
                  precision, recall, f1, threshold)
