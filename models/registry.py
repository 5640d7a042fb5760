"""Model directories: LightGBM model text plus ``meta.json``; loading checks the feature contract.

A model directory is self-describing: which features in which order, which feature-engine
version, thresholds, training window and data fingerprint. A worker refuses a model whose
features differ from the running engine's rather than score garbage.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import lightgbm as lgb

from features.engine import ENGINE_VERSION, FEATURE_NAMES
from streams.timefmt import format_ts

MODEL_FILE = "model.txt"
META_FILE = "meta.json"


class ModelMismatchError(ValueError):
    """The model was trained for different features than this engine computes."""


@dataclass(frozen=True)
class ModelMeta:
    version: str
    feature_names: tuple[str, ...]
    engine_version: str
    hold_threshold: float
    review_threshold: float
    created_ts_ms: int
    trained_until_ms: int | None = None
    data_fingerprint: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["feature_names"] = list(self.feature_names)
        out["created"] = format_ts(self.created_ts_ms)  # for people; read_meta ignores it
        return out


def save(model_dir: str | Path, booster: lgb.Booster, meta: ModelMeta) -> Path:
    path = Path(model_dir)
    path.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(path / MODEL_FILE))
    (path / META_FILE).write_text(json.dumps(meta.to_json(), indent=2, sort_keys=True) + "\n")
    return path


def read_meta(model_dir: str | Path) -> ModelMeta:
    path = Path(model_dir) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} is not a model directory (no {META_FILE})")
    raw = json.loads(path.read_text())
    raw["feature_names"] = tuple(raw["feature_names"])
    known = {f.name for f in fields(ModelMeta)}
    return ModelMeta(**{k: v for k, v in raw.items() if k in known})  # newer manifests may say more


def check_compatible(meta: ModelMeta) -> None:
    """Refuse a model trained for another feature engine: its scores would be garbage."""
    if meta.engine_version != ENGINE_VERSION and meta.feature_names == FEATURE_NAMES:
        raise ModelMismatchError(
            f"model {meta.version} was trained on feature engine {meta.engine_version}, this worker runs "
            f"{ENGINE_VERSION} (same feature names, other meaning); retrain it with `muleguard train`")
    if meta.feature_names != FEATURE_NAMES:
        missing = sorted(set(FEATURE_NAMES) - set(meta.feature_names))
        extra = sorted(set(meta.feature_names) - set(FEATURE_NAMES))
        raise ModelMismatchError(
            f"model {meta.version} was trained on other features than engine {ENGINE_VERSION} "
            f"computes (missing: {missing or 'none'}, unknown: {extra or 'none'}, or another order); "
            "retrain it with `muleguard train`"
        )


def load(model_dir: str | Path) -> tuple[lgb.Booster, ModelMeta]:
    meta = read_meta(model_dir)
    check_compatible(meta)
    booster = lgb.Booster(model_file=str(Path(model_dir) / MODEL_FILE))
    return booster, meta
