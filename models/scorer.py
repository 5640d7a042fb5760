"""Scores feature vectors with a loaded model and explains the ones that lead to action."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np

from features.engine import FEATURES
from models import registry
from models.fast_predict import FastPredictor
from models.registry import ModelMeta


@dataclass(frozen=True, slots=True)
class Score:
    probability: float
    model_version: str


def describe(feature_index: int, value: float) -> str:
    """A feature and its value in words a bank officer reads.

    Examples:
        >>> describe(6, 152000.0)
        'THB received (24h): 152,000'
    """
    spec = FEATURES[feature_index]
    shown = "missing" if math.isnan(value) else f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2f}"
    window = "" if spec.window in ("event", "all") else f" ({spec.window})"
    return f"{spec.meaning}{window}: {shown}"


def _row(vector: np.ndarray) -> np.ndarray:
    """The row as float64, so the score and its reasons come from the same numbers.

    ``Booster.predict`` reads an integer row as float32 and the fast path as float64; they differ
    above 2**24 (satang amounts). Live vectors are float64 already: for them this is no copy.
    """
    return np.asarray(vector, dtype=np.float64)


class Scorer:
    """``Scorer(dir).load()`` then ``score_one``/``score_many``; ``explain`` only for actions."""

    def __init__(self, model_dir: str | Path) -> None:
        self.model_dir = Path(model_dir)
        # One attribute, swapped in one step: the booster, its manifest, its one-row predictor.
        self._model: tuple[lgb.Booster, ModelMeta, FastPredictor] | None = None

    def load(self) -> Scorer:
        booster, meta = registry.load(self.model_dir)
        self._model = (booster, meta, FastPredictor(booster))
        return self

    def swap(self, other: Scorer) -> None:
        """Take over ``other``'s loaded model: everyone holding this scorer scores with it from now.

        Hot reload: the worker loads the new model aside (slow), then swaps in its event loop
        between batches, so a batch never mixes two models.
        """
        self._model = other._model
        self.model_dir = other.model_dir

    def _loaded(self) -> tuple[lgb.Booster, ModelMeta, FastPredictor]:
        if self._model is None:
            raise RuntimeError("Scorer.load() must be called before scoring or reading its model")
        return self._model

    @property
    def booster(self) -> lgb.Booster:
        return self._loaded()[0]

    @property
    def meta(self) -> ModelMeta:
        return self._loaded()[1]

    @property
    def version(self) -> str:
        return self.meta.version

    def score_many(self, X: np.ndarray) -> np.ndarray:
        return self.booster.predict(X, num_threads=1)

    def score_one(self, vector: np.ndarray) -> Score:
        """Probability of one row, read as float64 as ``explain`` reads it (see ``_row``)."""
        _booster, meta, predict_one = self._loaded()  # one read: a swap between two reads cannot mix models
        return Score(predict_one(_row(vector)), meta.version)

    def explain(self, vector: np.ndarray, top: int = 3) -> tuple[str, ...]:
        """The features that pushed this score up most (LightGBM per-feature contributions)."""
        vector = _row(vector)
        contrib = self.booster.predict(vector.reshape(1, -1), pred_contrib=True, num_threads=1)[0][:-1]
        order = np.argsort(-contrib, kind="stable")[:top]
        return tuple(describe(int(i), float(vector[i])) for i in order if contrib[i] > 0)
