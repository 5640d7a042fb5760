"""The model registry: a directory of model versions with one current model (and maybe a shadow).

Layout::

    REGISTRY/versions/<version>/   a model directory (model.txt, meta.json, card.md, plots)
    REGISTRY/state.json            {"current": v, "history": [v1, v2, ...], "shadow": v | null}

``history`` is the stack of promotions: ``rollback`` pops the current version and makes the
one promoted before it current again. ``state.json`` is replaced atomically (write + fsync +
rename), so a reader never sees half a state, and every change holds an exclusive ``flock`` on
``REGISTRY/.lock`` from reading the state to writing it, so two operators promoting at once
cannot lose one promotion. A version is its content: adding a version already present with
another ``model.txt`` or manifest is refused. Workers learn of changes through control messages
(``topologies.control``); the registry itself is only files.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models import registry

STATE_FILE = "state.json"
LOCK_FILE = ".lock"
VERSIONS_DIR = "versions"
DEFAULT_REGISTRY = Path("var/registry")


class RegistryError(ValueError):
    """The registry cannot do what was asked (unknown version, nothing to roll back to...)."""


@dataclass(frozen=True, slots=True)
class Change:
    """The outcome of a promotion, rollback or shadow change."""

    action: str  # promote, rollback, shadow, shadow_off
    version: str | None
    previous: str | None
    model_dir: Path | None
    shadow_cleared: str | None = None  # the shadow, stopped because it became the current model


def _state(root: Path) -> dict[str, Any]:
    path = root / STATE_FILE
    if not path.is_file():
        return {"current": None, "history": [], "shadow": None}
    return json.loads(path.read_text())


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Hold the registry's exclusive lock: one read-modify-write of the registry at a time."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _write_state(root: Path, state: dict[str, Any]) -> None:
    """Write, fsync, rename, fsync the directory: after a crash the old state or the new one."""
    tmp = root / f".{STATE_FILE}.{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(json.dumps(state, indent=2, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / STATE_FILE)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def version_dir(root: str | Path, version: str) -> Path:
    return Path(root) / VERSIONS_DIR / version


def _content(model_dir: Path) -> dict[str, Any]:
    """The manifest with ``model_sha256`` set from ``model.txt`` itself: what a version stands for.

    Refuses a directory whose ``model.txt`` is not the one its manifest records.
    """
    manifest = json.loads((model_dir / registry.META_FILE).read_text())
    digest = registry.sha256_hex((model_dir / registry.MODEL_FILE).read_bytes())
    if manifest.get("model_sha256", digest) != digest:
        raise registry.ModelIntegrityError(
            f"{model_dir / registry.MODEL_FILE} is not the booster its manifest records (sha256 differs)")
    return {**manifest, "model_sha256": digest}


def add(root: str | Path, model_dir: str | Path) -> str:
    """Copy a trained model directory into the registry; returns its version.

    Adding the same content again does nothing; the same version with another booster or manifest
    (an edited threshold, a retrained model under an old name) is refused: workers, control
    messages and audit records name a model by its version only. The copy's manifest records the
    sha256 of ``model.txt`` (older model directories lack it), which every load checks.
    """
    root = Path(root)
    with _locked(root):
        return _add(root, Path(model_dir))


def _add(root: Path, model_dir: Path) -> str:
    content = _content(model_dir)
    version = content["version"]
    target = version_dir(root, version)
    if target.exists():
        if _content(target) != content:
            raise RegistryError(
                f"version {version} is already in {root} with another model.txt or manifest than "
                f"{model_dir}; a version names one model: retrain it, or give it another version")
        return version
    tmp = target.with_name(f".{version}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(model_dir, tmp)
    (tmp / registry.META_FILE).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, target)
    return version


def _resolve(root: Path, version_or_dir: str) -> str:
    """A version already in the registry, or a model directory to add first (under the lock)."""
    if Path(version_or_dir).name == version_or_dir and version_dir(root, version_or_dir).is_dir():
        return version_or_dir
    if (Path(version_or_dir) / registry.META_FILE).is_file():
        return _add(root, Path(version_or_dir))
    raise RegistryError(f"{version_or_dir!r} is neither a version in {root} nor a model directory "
                        "(see `muleguard models list`)")


def promote(root: str | Path, version_or_dir: str, *, check: bool = True) -> Change:
    """Make a version current. With ``check`` a model for other features is refused here already."""
    root = Path(root)
    with _locked(root):
        version = _resolve(root, version_or_dir)
        if check:
            registry.check_compatible(registry.read_meta(version_dir(root, version)))
        state = _state(root)
        previous = state["current"]
        if previous != version:
            state["history"].append(version)
        state["current"] = version
        cleared = _clear_shadow_if(state, version)
        _write_state(root, state)
    return Change("promote", version, previous, version_dir(root, version), cleared)


def rollback(root: str | Path) -> Change:
    """Make the version promoted before the current one current again.

    Checked as a promotion is: after a feature-engine upgrade the version before may be one no
    worker can load, and rolling back to it would only announce (and audit) a model nobody runs.
    """
    root = Path(root)
    with _locked(root):
        state = _state(root)
        history = state["history"]
        if len(history) < 2:
            raise RegistryError(f"nothing to roll back to in {root}: "
                                f"{'only ' + history[-1] + ' was' if history else 'no model was'} ever promoted")
        registry.check_compatible(registry.read_meta(version_dir(root, history[-2])))
        previous = history.pop()
        state["current"] = history[-1]
        cleared = _clear_shadow_if(state, history[-1])
        _write_state(root, state)
    return Change("rollback", history[-1], previous, version_dir(root, history[-1]), cleared)


def _clear_shadow_if(state: dict[str, Any], current: str) -> str | None:
    """Stop the shadow if it is the new current model: a model cannot challenge itself."""
    if state.get("shadow") != current:
        return None
    state["shadow"] = None
    return current


def set_shadow(root: str | Path, version_or_dir: str | None) -> Change:
    """Run a challenger in shadow (scored, compared, never emitted), or stop with ``None``.

    The current model is refused: it would only be compared with itself (and ``models list``
    shows one role a version).
    """
    root = Path(root)
    with _locked(root):
        state = _state(root)
        previous = state.get("shadow")
        if version_or_dir is None:
            state["shadow"] = None
            _write_state(root, state)
            return Change("shadow_off", None, previous, None)
        version = _resolve(root, version_or_dir)
        if version == state["current"]:
            raise RegistryError(f"{version} is the current model: a shadow must be another version "
                                "(see `muleguard models list`)")
        registry.check_compatible(registry.read_meta(version_dir(root, version)))
        state["shadow"] = version
        _write_state(root, state)
    return Change("shadow", version, previous, version_dir(root, version))


def current(root: str | Path) -> str | None:
    return _state(Path(root))["current"]


def list_versions(root: str | Path) -> list[dict[str, Any]]:
    """Every version, oldest first, with its role and headline validation metrics."""
    root = Path(root)
    state = _state(root)
    base = root / VERSIONS_DIR
    out = []
    for path in sorted(base.iterdir()) if base.is_dir() else ():
        if path.name.startswith(".") or not (path / registry.META_FILE).is_file():
            continue
        meta = registry.read_meta(path)
        validation = meta.metrics.get("validation", {})
        role = ("current" if meta.version == state["current"] else
                "shadow" if meta.version == state.get("shadow") else
                "previous" if meta.version in state["history"] else "")
        out.append({"version": meta.version, "role": role, "created_ts_ms": meta.created_ts_ms,
                    "engine_version": meta.engine_version, "hold_threshold": meta.hold_threshold,
                    "pr_auc": validation.get("pr_auc"), "precision": validation.get("precision"),
                    "recall": validation.get("recall"), "path": str(path)})
    out.sort(key=lambda row: row["created_ts_ms"])
    return out
