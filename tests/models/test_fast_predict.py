"""The fast one-row path gives exactly what ``Booster.predict`` gives, missing values included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.engine import ENGINE_VERSION, FEATURE_NAMES
from models import registry
from models.fast_predict import FastPredictor
from models.registry import ModelMeta, load
from models.scorer import Scorer
from models.train import train


def test_fast_predictor_matches_booster_predict(model_dir: Path) -> None:
    booster, _meta = load(model_dir)
    rng = np.random.default_rng(5)
    rows = rng.lognormal(2.0, 2.0, size=(500, booster.num_feature()))
    rows[rng.random(rows.shape) < 0.2] = np.nan  # missing features take the trees' default branches
    expected = booster.predict(rows, num_threads=1)
    fast = FastPredictor(booster)
    got = np.array([fast(row) for row in rows])
    assert np.array_equal(got, expected)
    assert len(set(got.round(6))) > 10, "rows should not all land in the same leaves"
    # Non-contiguous or float32 rows are converted, not misread.
    assert fast(rows[3].astype(np.float32)) == booster.predict(rows[3:4].astype(np.float32))[0]
    strided = np.repeat(rows, 2, axis=1)[5, ::2]  # every other value of a wider row: rows[5], as a view
    assert not strided.flags.c_contiguous and fast(strided) == expected[5]
    assert fast(np.asfortranarray(rows)[7]) == expected[7]
    assert fast(list(rows[9])) == expected[9]


def test_a_row_of_the_wrong_shape_is_refused_not_broadcast(model_dir: Path) -> None:
    """Copying into the row buffer broadcast a scalar or a one-value row into a full row."""
    booster, _meta = load(model_dir)
    fast = FastPredictor(booster)
    row = np.ones(booster.num_feature())
    for bad in (np.array([5.0]), np.float64(5.0), 5.0, row[:-1], row.reshape(1, -1), np.ones((2, row.size))):
        with pytest.raises(ValueError, match="1-D"):
            fast(bad)
    with pytest.raises(ValueError, match="1-D"):
        Scorer(model_dir).load().score_one(np.array([5.0]))


def test_an_integer_row_gets_the_score_and_reasons_of_its_float64_values(tmp_path: Path) -> None:
    """``Booster.predict`` (and so ``explain``) reads an integer row as float32, the fast path as
    float64: above 2**24 they fall on different sides of a split. Scorer reads both as float64."""
    rng = np.random.default_rng(0)
    X = np.zeros((2000, len(FEATURE_NAMES)))
    X[:, FEATURE_NAMES.index("channel")] = 1
    y = rng.integers(0, 2, len(X))
    X[:, 0] = np.where(y == 1, 100_000_006, 100_000_000)  # satang amounts; float32 cannot tell them apart
    booster = train(X, y, {"num_threads": 1, "min_data_in_leaf": 5}, num_boost_round=5)
    registry.save(tmp_path / "m", booster, ModelMeta("m-int", FEATURE_NAMES, ENGINE_VERSION, 0.7, 0.4, 0))
    scorer = Scorer(tmp_path / "m").load()
    row = np.zeros(len(FEATURE_NAMES), dtype=np.int64)
    row[0], row[FEATURE_NAMES.index("channel")] = 100_000_004, 1  # float32(100_000_004) == 100_000_000
    as_float = row.astype(np.float64)
    assert scorer.score_one(row).probability == booster.predict(as_float.reshape(1, -1))[0]
    assert scorer.explain(row) == scorer.explain(as_float) != ()


def test_scorer_scores_one_row_as_the_batch_path_does(model_dir: Path) -> None:
    scorer = Scorer(model_dir).load()
    rows = np.random.default_rng(6).lognormal(2.0, 2.0, size=(50, scorer.booster.num_feature()))
    assert [scorer.score_one(row).probability for row in rows] == scorer.score_many(rows).tolist()
