"""Model directories: LightGBM model text plus ``meta.json``; loading checks the feature contract.

A model directory is self-describing: which features in which order, which feature-engine
version, thresholds, training window and data fingerprint. A worker refuses a model whose
features differ from the running engine's rather than score garbage, and a booster whose bytes
differ from the digest its manifest records (``model_sha256``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb

from features.engine import ENGINE_VERSION, FEATURE_NAMES
from streams.timefmt import format_ts

MODEL_FILE = "model.txt"
META_FILE = "meta.json"


class ModelMismatchError(ValueError):
    """The model was trained for different features than this engine computes."""


class ModelIntegrityError(ValueError):
    """``model.txt`` is not the booster its manifest was written for."""


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
    model_sha256: str = ""  # of model.txt; empty in manifests written before it was recorded

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["feature_names"] = list(self.feature_names)
        out["created"] = format_ts(self.created_ts_ms)  # for people; read_meta ignores it
        return out


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(model_dir: str | Path, booster: lgb.Booster, meta: ModelMeta) -> Path:
    """Write ``model.txt`` and its manifest into a sibling directory, then swap it into place.

    A crash leaves the old model directory or the new one, never a new booster under an old
    manifest. An existing model directory is replaced whole (its card and plots describe the old
    model) by an atomic exchange of the two directories where the system has one (Linux
    ``renameat2``): a worker loading the model meanwhile finds one or the other, never no
    directory. Elsewhere the old one is moved aside first (a moment without a model). What a
    crashed save left beside the directory is removed; any other non-empty directory is refused
    rather than deleted.
    """
    path = Path(model_dir).resolve()  # through a symlink (a `current` link): replace what it points to
    if path.is_dir() and any(path.iterdir()) and not (
            (path / META_FILE).is_file() or (path / MODEL_FILE).is_file()):
        raise FileExistsError(f"{model_dir} is not empty and not a model directory: not replacing it")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    tmp = _scratch(path, "tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        booster.save_model(str(tmp / MODEL_FILE))
        meta = replace(meta, model_sha256=sha256_hex((tmp / MODEL_FILE).read_bytes()))
        (tmp / META_FILE).write_text(json.dumps(meta.to_json(), indent=2, sort_keys=True) + "\n")
        if not (path.is_dir() and any(path.iterdir())):
            os.replace(tmp, path)  # onto a missing or empty directory
        elif not _exchange(tmp, path):
            old = _scratch(path, "old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # after an exchange: the old model
    return path


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically (``renameat2(RENAME_EXCHANGE)``); False where the
    system cannot (not Linux, an old kernel or C library, a file system without it)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return done == 0


def _scratch_prefix(path: Path, kind: str) -> str:
    return f".{path.name}.{kind}-"


def _scratch(path: Path, kind: str) -> Path:
    """This process's temporary (``tmp``) or set-aside (``old``) directory beside ``path``."""
    return path.with_name(f"{_scratch_prefix(path, kind)}{os.getpid()}")


def _remove_leftovers(path: Path) -> None:
    """Temporary and set-aside directories of saves whose process is gone (a crash)."""
    for prefix in (_scratch_prefix(path, "tmp"), _scratch_prefix(path, "old")):
        for leftover in path.parent.glob(f"{prefix}*"):
            pid = leftover.name[len(prefix):]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
    """The booster and its manifest, both read from one resolved directory.

    Resolving once means a symlink repointed mid-load (``current`` on a shared volume) cannot
    pair one model's manifest with another's booster; the digest catches a ``model.txt``
    replaced or damaged under its manifest (older manifests have none and are trusted).
    """
    path = Path(model_dir).resolve()
    meta = read_meta(path)
    check_compatible(meta)
    text = (path / MODEL_FILE).read_bytes()
    if meta.model_sha256 and sha256_hex(text) != meta.model_sha256:
        raise ModelIntegrityError(
            f"{path / MODEL_FILE} is not the booster manifest {meta.version} was written for "
            f"(sha256 {sha256_hex(text)[:12]}..., manifest says {meta.model_sha256[:12]}...); "
            "copy the model directory again or retrain it")
    return lgb.Booster(model_str=text.decode()), meta
