"""From a data directory and labels to a saved, self-describing model directory."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from features.engine import ENGINE_VERSION, FEATURE_NAMES
from models import card, drift, evaluate, registry
from models.dataset import Rows, build_rows, fingerprint
from models.labels import read_labels
from models.progress import counter
from models.registry import ModelMeta
from models.train import train

VALIDATION_SHARE = 0.3
NUM_BOOST_ROUND = 600


def temporal_split(rows: Rows, share: float = VALIDATION_SHARE) -> tuple[Rows, Rows]:
    """Later events validate earlier ones: the cut is a point in time, not a random sample."""
    if len(rows) == 0:
        return rows, rows
    cut = np.quantile(rows.ts_ms, 1 - share)
    return rows.where(rows.ts_ms < cut), rows.where(rows.ts_ms >= cut)


def train_from_dir(
    data_dir: str | Path, labels_path: str | Path, out_dir: str | Path, *,
    until_ms: int | None = None, now_ms: int | None = None,
    progress: Callable[[str], None] | None = None, bars: bool | None = None,
) -> ModelMeta:
    """Train, choose thresholds, write model + manifest (``meta.json``) + model card to ``out_dir``.

    ``bars``: progress bars on stderr (``None``: only when stderr is a terminal).
    """
    say = progress or (lambda _msg: None)
    labels = read_labels(labels_path)
    say("replaying events through the feature engine")
    with counter("replay", unit="rows", enabled=bars) as tick:
        rows = build_rows(data_dir, labels, until_ms, progress=tick)
    if rows.y.sum() == 0:
        raise ValueError("no mule rows in the data: check the labels file matches the data directory")
    fit, valid = temporal_split(rows)
    say(f"training on {len(fit):,} rows ({int(fit.y.sum()):,} mule), validating on {len(valid):,}")
    with counter("boosting", unit="rounds", total=NUM_BOOST_ROUND, enabled=bars) as tick:
        booster = train(fit.X, fit.y, X_valid=valid.X, y_valid=valid.y, num_boost_round=NUM_BOOST_ROUND,
                        on_round=tick)
    scores = booster.predict(valid.X, num_threads=2)
    best, truth = evaluate.per_account_max(valid.accounts, scores, valid.y)
    hold = evaluate.choose_threshold(best, truth, evaluate.HOLD_VALIDATION_PRECISION)
    review = evaluate.choose_threshold(best, truth, evaluate.REVIEW_PRECISION)
    report = evaluate.account_report(valid.accounts, scores, valid.y, hold.threshold)
    created = now_ms if now_ms is not None else int(time.time() * 1000)
    data_hash = fingerprint(data_dir)
    version = "m" + time.strftime("%Y%m%d-%H%M%S", time.gmtime(created / 1000)) + "-" + \
        hashlib.sha256(f"{data_hash}{until_ms}{booster.model_to_string()}".encode()).hexdigest()[:6]
    meta = ModelMeta(
        version=version, feature_names=FEATURE_NAMES, engine_version=ENGINE_VERSION,
        hold_threshold=hold.threshold, review_threshold=min(review.threshold, hold.threshold),
        created_ts_ms=created, trained_until_ms=until_ms, data_fingerprint=data_hash,
        metrics={"validation": report.as_dict(), "hold_recall": hold.recall,
                 "hold_precision_lower_bound": hold.precision_lower_bound,
                 "best_iteration": booster.best_iteration, "rows": len(rows),
                 "score_reference": drift.reference(scores)},
    )
    registry.save(out_dir, booster, meta)
    say("writing the model card")
    card.write_card(out_dir, meta, booster, valid.y, scores, truth, best)
    return meta
