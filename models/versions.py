"""The model registry: a directory of model versions with one current model (and maybe a shadow).

Layout::

    REGISTRY/versions/<version>/   a model directory (model.txt, meta.json, card.md, plots)
    REGISTRY/state.json            {"current": v, "history": [v1, v2, ...], "shadow": v | null}

``history`` is the stack of promotions: ``rollback`` pops the current version and makes the
one promoted before it current again. ``state.json`` is replaced atomically (write + rename),
so a reader never sees half a state. Workers learn of changes through control messages
(``topologies.control``); the registry itself is only files.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models import registry

STATE_FILE = "state.json"
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


def _state(root: Path) -> dict[str, Any]:
    path = root / STATE_FILE
    if not path.is_file():
        return {"current": None, "history": [], "shadow": None}
    return json.loads(path.read_text())


def _write_state(root: Path, state: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{STATE_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, root / STATE_FILE)


def version_dir(root: str | Path, version: str) -> Path:
    return Path(root) / VERSIONS_DIR / version


def add(root: str | Path, model_dir: str | Path) -> str:
    """Copy a trained model directory into the registry (idempotent); returns its version."""
    root = Path(root)
    meta = registry.read_meta(model_dir)
    target = version_dir(root, meta.version)
    if not target.exists():
        tmp = target.with_name(f".{meta.version}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(model_dir, tmp)
        os.replace(tmp, target)
    return meta.version


def _resolve(root: Path, version_or_dir: str) -> str:
    """A version already in the registry, or a model directory to add first."""
    if Path(version_or_dir).name == version_or_dir and version_dir(root, version_or_dir).is_dir():
        return version_or_dir
    if (Path(version_or_dir) / registry.META_FILE).is_file():
        return add(root, version_or_dir)
    raise RegistryError(f"{version_or_dir!r} is neither a version in {root} nor a model directory "
                        "(see `muleguard models list`)")


def promote(root: str | Path, version_or_dir: str, *, check: bool = True) -> Change:
    """Make a version current. With ``check`` a model for other features is refused here already."""
    root = Path(root)
    version = _resolve(root, version_or_dir)
    if check:
        registry.check_compatible(registry.read_meta(version_dir(root, version)))
    state = _state(root)
    previous = state["current"]
    if previous != version:
        state["history"].append(version)
    state["current"] = version
    if state.get("shadow") == version:
        state["shadow"] = None
    _write_state(root, state)
    return Change("promote", version, previous, version_dir(root, version))


def rollback(root: str | Path) -> Change:
    """Make the version promoted before the current one current again."""
    root = Path(root)
    state = _state(root)
    history = state["history"]
    if len(history) < 2:
        raise RegistryError(f"nothing to roll back to in {root}: "
                            f"{'only ' + history[-1] + ' was' if history else 'no model was'} ever promoted")
    previous = history.pop()
    state["current"] = history[-1]
    _write_state(root, state)
    return Change("rollback", history[-1], previous, version_dir(root, history[-1]))


def set_shadow(root: str | Path, version_or_dir: str | None) -> Change:
    """Run a challenger in shadow (scored, compared, never emitted), or stop with ``None``."""
    root = Path(root)
    state = _state(root)
    previous = state.get("shadow")
    if version_or_dir is None:
        state["shadow"] = None
        _write_state(root, state)
        return Change("shadow_off", None, previous, None)
    version = _resolve(root, version_or_dir)
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
