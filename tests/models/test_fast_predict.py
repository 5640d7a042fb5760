"""The fast one-row path gives exactly what ``Booster.predict`` gives, missing values included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.fast_predict import FastPredictor
from models.registry import load
from models.scorer import Scorer


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
    # Non-contiguous or float32 rows are converted, not misread; a row of the wrong length is refused.
    assert fast(rows[3].astype(np.float32)) == booster.predict(rows[3:4].astype(np.float32))[0]
    strided = np.repeat(rows, 2, axis=1)[5, ::2]  # every other value of a wider row: rows[5], as a view
    assert not strided.flags.c_contiguous and fast(strided) == expected[5]
    assert fast(np.asfortranarray(rows)[7]) == expected[7]
    assert fast(rows[9].reshape(1, -1)) == expected[9]
    with pytest.raises(ValueError):
        fast(rows[0][:-1])


def test_scorer_scores_one_row_as_the_batch_path_does(model_dir: Path) -> None:
    scorer = Scorer(model_dir).load()
    rows = np.random.default_rng(6).lognormal(2.0, 2.0, size=(50, scorer.booster.num_feature()))
    assert [scorer.score_one(row).probability for row in rows] == scorer.score_many(rows).tolist()
