"""The registry: versions, one current model, promote and rollback, refusal of mismatched models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_helpers import model_variant

from models import registry, versions
from topologies.cli import main


def test_promote_and_rollback_move_the_current_model(model_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "registry"
    first = registry.read_meta(model_dir).version
    second = model_variant(model_dir, tmp_path / "b", "m-second")
    change = versions.promote(root, str(model_dir))
    assert (change.version, change.previous) == (first, None)
    change = versions.promote(root, str(second))
    assert (change.version, change.previous) == ("m-second", first)
    assert versions.current(root) == "m-second"
    assert {r["version"]: r["role"] for r in versions.list_versions(root)} == {first: "previous", "m-second": "current"}
    change = versions.rollback(root)
    assert (change.version, change.previous) == (first, "m-second")
    assert versions.current(root) == first
    assert change.model_dir == versions.version_dir(root, first)
    assert registry.read_meta(change.model_dir).version == first
    with pytest.raises(versions.RegistryError, match="nothing to roll back"):
        versions.rollback(root)
    versions.promote(root, "m-second")  # by version, already in the registry
    assert versions.current(root) == "m-second"


def test_a_model_for_other_features_is_refused(model_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "registry"
    versions.promote(root, str(model_dir))
    meta = registry.read_meta(model_dir)
    bad = model_variant(model_dir, tmp_path / "bad", "m-bad", feature_names=list(reversed(meta.feature_names)))
    with pytest.raises(registry.ModelMismatchError, match="retrain"):
        versions.promote(root, str(bad))
    old_engine = model_variant(model_dir, tmp_path / "old", "m-old", engine_version="0.1")
    with pytest.raises(registry.ModelMismatchError, match="feature engine 0.1"):
        versions.promote(root, str(old_engine))
    assert versions.current(root) == meta.version


def test_rollback_refuses_a_model_for_another_engine_before_changing_anything(model_dir: Path,
                                                                               tmp_path: Path) -> None:
    """After an engine upgrade the version before may be one no worker loads: rollback refuses it
    as promote does, instead of announcing (and auditing) a model nobody runs."""
    root = tmp_path / "registry"
    old_engine = model_variant(model_dir, tmp_path / "old", "m-old", engine_version="0.1")
    versions.promote(root, str(old_engine), check=False)  # promoted when workers ran engine 0.1
    versions.promote(root, str(model_dir))
    state = (root / versions.STATE_FILE).read_bytes()
    with pytest.raises(registry.ModelMismatchError, match="feature engine 0.1"):
        versions.rollback(root)
    assert (root / versions.STATE_FILE).read_bytes() == state
    assert versions.current(root) == registry.read_meta(model_dir).version


def test_models_cli_lists_promotes_and_rolls_back(model_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "registry")
    second = model_variant(model_dir, tmp_path / "b", "m-second")
    assert main(["models", "promote", str(model_dir), "--registry", root]) == 0
    assert main(["models", "promote", str(second), "--registry", root]) == 0
    assert main(["models", "rollback", "--registry", root]) == 0
    assert main(["models", "shadow", "m-second", "--registry", root]) == 0
    capsys.readouterr()
    assert main(["models", "list", "--registry", root, "--json"]) == 0
    roles = {r["version"]: r["role"] for r in json.loads(capsys.readouterr().out)}
    assert roles == {registry.read_meta(model_dir).version: "current", "m-second": "shadow"}
    assert main(["models", "rollback", "--registry", root]) == 2  # nothing left: one line on stderr
    assert "nothing to roll back" in capsys.readouterr().err


def test_the_current_model_cannot_also_be_the_shadow(model_dir: Path, tmp_path: Path) -> None:
    """A shadow compared with itself measures nothing, and `models list` shows one role a version."""
    root = tmp_path / "registry"
    first = versions.promote(root, str(model_dir)).version
    with pytest.raises(versions.RegistryError, match="current model"):
        versions.set_shadow(root, first)
    assert json.loads((root / versions.STATE_FILE).read_text())["shadow"] is None


def test_rollback_to_the_shadow_stops_the_shadow(model_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Rolling back onto the version in shadow makes it the current model, so it is no shadow any more."""
    root = tmp_path / "registry"
    first = registry.read_meta(model_dir).version
    second = model_variant(model_dir, tmp_path / "b", "m-second")
    versions.promote(root, str(model_dir))
    versions.promote(root, str(second))
    versions.set_shadow(root, first)
    assert main(["models", "rollback", "--registry", str(root)]) == 0
    assert f"shadow: off (was {first}, now the current model)" in capsys.readouterr().out
    state = json.loads((root / versions.STATE_FILE).read_text())
    assert (state["current"], state["shadow"]) == (first, None)
    assert {r["version"]: r["role"] for r in versions.list_versions(root)} == {first: "current", "m-second": ""}
