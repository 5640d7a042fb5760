"""LightGBM training: ``train(X, y, params) -> Booster``; it knows nothing about files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np

from features.engine import FEATURE_NAMES

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    # Early stopping watches average precision: log loss on the later days rewards
    # shrinking every score and stopped weighted models after one round.
    "metric": "average_precision",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "max_depth": 6,  # capped so per-feature contributions stay cheap to compute
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 2,
    "seed": 7,
    "deterministic": True,
}
CATEGORICAL = ("channel",)


def _dataset(X: np.ndarray, y: np.ndarray, reference: lgb.Dataset | None = None) -> lgb.Dataset:
    return lgb.Dataset(X, label=y, feature_name=list(FEATURE_NAMES),
                       categorical_feature=list(CATEGORICAL), reference=reference, free_raw_data=False)


def train(
    X: np.ndarray, y: np.ndarray, params: dict[str, Any] | None = None, *,
    X_valid: np.ndarray | None = None, y_valid: np.ndarray | None = None,
    num_boost_round: int = 250, early_stopping_rounds: int = 30,
    on_round: Callable[[int], None] | None = None,
) -> lgb.Booster:
    """Fit a binary model on rare positives (about 2% of rows are a mule's).

    Imbalance is handled where it matters for a hold: boosting stops on average precision
    of the validation rows (``early_stopping_rounds`` without gain, the temporal split:
    later days), and thresholds are chosen on precision. Up-weighting mules
    (``scale_pos_weight``, pass it in ``params``) lowered held-out precision on simulated
    worlds (docs/models.md), so it is off by default.
    """
    if len(y) == 0 or y.min() == y.max():
        raise ValueError("training rows need both mule and non-mule examples")
    chosen = {**DEFAULT_PARAMS, **(params or {})}
    train_set = _dataset(X, y)
    valid_sets, callbacks = [], []
    if X_valid is not None and y_valid is not None and len(y_valid) and y_valid.min() != y_valid.max():
        valid_sets = [_dataset(X_valid, y_valid, reference=train_set)]
        callbacks = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
    if on_round is not None:
        callbacks.append(lambda env: on_round(env.iteration + 1))
    return lgb.train(chosen, train_set, num_boost_round=num_boost_round,
                     valid_sets=valid_sets, callbacks=callbacks)
