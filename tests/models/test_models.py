"""Training, thresholds, registry and scorer on a small simulated world with real LightGBM."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from features.engine import FEATURE_NAMES
from models import registry
from models.dataset import build_rows
from models.labels import read_labels
from models.pipeline import NUM_BOOST_ROUND, train_from_dir
from models.replay import replay_decisions
from models.scorer import Scorer


def test_training_learns_mules_and_picks_a_precise_hold_threshold(model_dir: Path) -> None:
    meta = registry.read_meta(model_dir)
    validation = meta.metrics["validation"]
    assert validation["pr_auc"] > 0.5, validation  # a broken pipeline scores like chance (~0.02)
    assert validation["precision"] >= 0.95 or math.isnan(validation["precision"])
    assert validation["recall"] > 0.2, validation
    assert 0 < meta.review_threshold <= meta.hold_threshold
    assert meta.feature_names == FEATURE_NAMES


def test_scorer_matches_booster_predict(model_dir: Path, stream_world: Path) -> None:
    labels = read_labels(stream_world / "labels.csv")
    rows = build_rows(stream_world, labels, until_ms=None)
    scorer = Scorer(model_dir).load()
    booster = lgb.Booster(model_file=str(model_dir / "model.txt"))
    sample = rows.X[:: max(len(rows) // 200, 1)]
    expected = booster.predict(sample)
    np.testing.assert_allclose(scorer.score_many(sample), expected)
    np.testing.assert_allclose([scorer.score_one(row).probability for row in sample], expected)


def test_rows_are_point_in_time(train_world: Path) -> None:
    """A mule's rows before ``mule_since`` are labelled innocent; no row is after the cut."""
    labels = read_labels(train_world / "labels.csv")
    everything = build_rows(train_world, labels)
    cut = int(np.median(everything.ts_ms))
    rows = build_rows(train_world, labels, until_ms=cut)
    assert 0 < len(rows) < len(everything)
    assert rows.ts_ms.max() < cut
    np.testing.assert_array_equal(rows.X, everything.X[: len(rows)])  # the future changes no past row
    for key, ts, y in zip(rows.accounts, rows.ts_ms.tolist(), rows.y.tolist(), strict=True):
        label = labels.get(key)
        if label and label.is_mule and label.mule_since_ms and ts < label.mule_since_ms:
            assert y == 0


def test_registry_refuses_a_model_for_other_features(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    meta = json.loads((copy / "meta.json").read_text())
    meta["feature_names"] = list(reversed(meta["feature_names"]))
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(registry.ModelMismatchError, match="retrain"):
        Scorer(copy).load()


def test_scoring_before_load_fails_loudly(model_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="load"):
        Scorer(model_dir).score_one(np.zeros(len(FEATURE_NAMES)))


def test_model_directory_holds_manifest_and_card(model_dir: Path) -> None:
    manifest = json.loads((model_dir / "meta.json").read_text())
    for key in ("feature_names", "engine_version", "data_fingerprint", "hold_threshold", "review_threshold",
                "metrics", "created_ts_ms", "created"):
        assert manifest[key] not in (None, "", []), key
    assert 0 < manifest["metrics"]["best_iteration"] < NUM_BOOST_ROUND  # early stopping on the later days
    card = (model_dir / "card.md").read_text()
    assert manifest["version"] in card and f"{manifest['hold_threshold']:.4f}" in card
    for plot in ("pr_curve.png", "score_distribution.png", "feature_importance.png", "calibration.png"):
        assert f"]({plot})" in card
        assert (model_dir / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot


def test_training_works_on_transfers_only(train_world: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(train_world / "bank.transfers.v1.jsonl", data)
    meta = train_from_dir(data, train_world / "labels.csv", tmp_path / "model", bars=True)
    assert "boosting" in capsys.readouterr().err  # progress bars when asked
    assert (tmp_path / "model" / "card.md").is_file()
    rows = build_rows(data, read_labels(train_world / "labels.csv"))
    for name in ("account_age_days", "sim_change_days", "risky_call_min_ago", "phone_calls_sms_24h"):
        column = rows.X[:, FEATURE_NAMES.index(name)]
        assert np.isnan(column).all(), name  # absent topics give missing, not zero
    assert meta.metrics["validation"]["pr_auc"] > 0.2


def test_replay_is_deterministic_and_explained(model_dir: Path, stream_world: Path) -> None:
    scorer = Scorer(model_dir).load()
    first, _ = replay_decisions(stream_world, scorer)
    second, _ = replay_decisions(stream_world, scorer)
    assert [r.request_id for r in first.holds] == [r.request_id for r in second.holds]
    assert first.holds, "the model should hold some accounts in a fresh simulated world"
    assert {r.reason for r in first.holds} == {"model", "trace"}
    for request in first.holds:
        assert request.top_reasons
        if request.reason == "model":
            assert request.model_version == scorer.version
            assert request.expires_ts_ms - request.event_ts_ms == 3 * 86_400_000
            assert request.legal_basis == "bank_suspicion_3d"
        else:
            assert request.case_id and request.hop >= 1 and request.amount_satang > 0
            assert request.legal_basis in ("victim_report_72h", "police_complaint_7d")
