"""A version is its content: concurrent changes keep every promotion, a version is not reused for
other content, a damaged or swapped ``model.txt`` is refused, and neither a save nor a load through
a symlink ever pairs one model's manifest with another's booster."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from model_helpers import model_variant

from models import registry, versions
from models.registry import ModelIntegrityError
from models.versions import RegistryError


def _other_booster(model_dir: Path, out: Path, version: str, *, digest: bool = True) -> Path:
    """A copy whose ``model.txt`` is another booster (the first 5 trees), with or without its digest."""
    model_variant(model_dir, out, version)
    text = lgb.Booster(model_file=str(out / registry.MODEL_FILE)).model_to_string(num_iteration=5)
    (out / registry.MODEL_FILE).write_text(text)
    _set_digest(out, hashlib.sha256(text.encode()).hexdigest() if digest else None)
    return out


def _set_digest(model_dir: Path, digest: str | None) -> None:
    meta = json.loads((model_dir / registry.META_FILE).read_text())
    meta.pop("model_sha256", None)
    if digest is not None:
        meta["model_sha256"] = digest
    (model_dir / registry.META_FILE).write_text(json.dumps(meta))


def test_concurrent_promotions_are_all_kept(model_dir: Path, tmp_path: Path) -> None:
    """Two operators promoting at once: without the registry lock one read-modify-write of
    ``state.json`` overwrote the other, and rollback then skipped back past a promotion."""
    root = tmp_path / "registry"
    for name in ("m-a0", "m-a1", "m-b0", "m-b1"):
        versions.add(root, model_variant(model_dir, tmp_path / name, name))
    rounds = 40
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def operator(prefix: str) -> None:
        start.wait()
        try:
            for i in range(rounds):  # always another version than the current one: each appends
                versions.promote(root, f"{prefix}{i % 2}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=operator, args=(p,)) for p in ("m-a", "m-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    state = json.loads((root / versions.STATE_FILE).read_text())
    assert len(state["history"]) == 2 * rounds
    assert state["current"] == state["history"][-1]
    assert (root / versions.LOCK_FILE).is_file() and not list(root.glob(f".{versions.STATE_FILE}.*"))


def test_a_version_already_present_with_other_content_is_refused(model_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "registry"
    version = versions.add(root, model_dir)
    assert versions.add(root, model_variant(model_dir, tmp_path / "same", version)) == version  # same content
    edited = model_variant(model_dir, tmp_path / "edited", version, hold_threshold=0.5)
    with pytest.raises(RegistryError, match="another model.txt or manifest"):
        versions.promote(root, str(edited))
    retrained = _other_booster(model_dir, tmp_path / "retrained", version, digest=False)
    with pytest.raises(RegistryError, match="another model.txt or manifest"):
        versions.add(root, retrained)
    copy = versions.version_dir(root, version)
    assert registry.read_meta(copy) == registry.read_meta(model_dir)
    assert (copy / registry.MODEL_FILE).read_bytes() == (model_dir / registry.MODEL_FILE).read_bytes()
    assert versions.current(root) is None



def test_load_checks_the_model_digest_when_the_manifest_has_one(model_dir: Path, tmp_path: Path) -> None:
    meta = registry.read_meta(model_dir)
    assert meta.model_sha256 == hashlib.sha256((model_dir / registry.MODEL_FILE).read_bytes()).hexdigest()
    swapped = _other_booster(model_dir, tmp_path / "swapped", meta.version)
    _set_digest(swapped, meta.model_sha256)  # the manifest of the full model over 5 trees
    with pytest.raises(ModelIntegrityError, match="not the booster"):
        registry.load(swapped)
    with pytest.raises(ModelIntegrityError):
        versions.add(tmp_path / "registry", swapped)
    # A manifest written before digests were recorded still loads; the registry records one on add.
    _set_digest(swapped, None)
    booster, _meta = registry.load(swapped)
    assert booster.num_trees() == 5
    version = versions.add(tmp_path / "registry", swapped)
    copy = versions.version_dir(tmp_path / "registry", version)
    assert registry.read_meta(copy).model_sha256 == hashlib.sha256(
        (copy / registry.MODEL_FILE).read_bytes()).hexdigest()


def test_an_interrupted_save_leaves_the_old_model_whole(model_dir: Path, tmp_path: Path) -> None:
    """Retraining into an existing directory: a failure after the booster is written must not leave
    the new booster under the old manifest."""
    out = tmp_path / "model"
    old_booster, old_meta = registry.load(model_dir)
    registry.save(out, old_booster, old_meta)
    new_booster = lgb.Booster(model_str=old_booster.model_to_string(num_iteration=5))
    unwritable = replace(old_meta, version="m-new", metrics={"not json": object()})
    with pytest.raises(TypeError):
        registry.save(out, new_booster, unwritable)
    booster, meta = registry.load(out)
    assert (meta.version, booster.model_to_string()) == (old_meta.version, old_booster.model_to_string())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary directory left
    registry.save(out, new_booster, replace(old_meta, version="m-new"))
    booster, meta = registry.load(out)
    assert (meta.version, booster.num_trees()) == ("m-new", 5)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("not a model")
    with pytest.raises(FileExistsError, match="not a model directory"):
        registry.save(tmp_path / "notes", new_booster, old_meta)


def test_load_through_a_repointed_symlink_reads_one_model(model_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``current`` repointed (``ln -sfn``) between reading the manifest and the booster: the load
    must read both from the directory it resolved first."""
    first = model_variant(model_dir, tmp_path / "m-first", "m-first")
    second = _other_booster(model_dir, tmp_path / "m-second", "m-second")
    current = tmp_path / "current"
    current.symlink_to(first)
    real_read_meta = registry.read_meta

    def read_meta_then_repoint(path: str | Path) -> registry.ModelMeta:
        meta = real_read_meta(path)
        (tmp_path / "next").symlink_to(second)
        os.replace(tmp_path / "next", current)  # the operator rolls out m-second right now
        return meta

    monkeypatch.setattr(registry, "read_meta", read_meta_then_repoint)
    booster, meta = registry.load(current)
    monkeypatch.undo()
    expected, _ = registry.load(first)
    assert meta.version == "m-first"
    row = np.random.default_rng(4).lognormal(2.0, 2.0, size=(1, booster.num_feature()))
    assert booster.num_trees() == expected.num_trees()
    assert booster.predict(row)[0] == expected.predict(row)[0]


def test_a_save_over_a_model_never_leaves_the_directory_missing(model_dir: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker (re)loading the model while `muleguard train` replaces it must find the old
    model or the new one: moving the old directory aside first left a moment with none."""
    a, b = tmp_path / "a", tmp_path / "b"
    for side in (a, b):
        side.mkdir()
        (side / side.name).touch()
    if not registry._exchange(a, b):
        pytest.skip("no atomic exchange of directories on this system: a save leaves a moment without one")
    assert (a / "b").exists() and (b / "a").exists()  # swapped
    for side in (a, b):
        (side / ("a" if side is b else "b")).unlink()
        side.rmdir()
    out = tmp_path / "model"
    booster, meta = registry.load(model_dir)
    registry.save(out, booster, meta)
    missing_after: list[str] = []
    real_replace = os.replace

    def watched_replace(src: os.PathLike, dst: os.PathLike) -> None:
        real_replace(src, dst)
        if not (out / registry.META_FILE).is_file():
            missing_after.append(f"{src} -> {dst}")

    monkeypatch.setattr(registry.os, "replace", watched_replace)
    registry.save(out, lgb.Booster(model_str=booster.model_to_string(num_iteration=5)), replace(meta, version="m-new"))
    assert missing_after == []
    assert (registry.read_meta(out).version, registry.load(out)[0].num_trees()) == ("m-new", 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_what_a_crashed_save_left_is_removed_by_the_next(model_dir: Path, tmp_path: Path) -> None:
    """Directories of a save whose process is gone are removed; a running save's are not."""
    out = tmp_path / "model"
    dead = next(pid for pid in range(4_000_000, 4_100_000) if not registry._alive(pid))
    for leftover in (f".model.tmp-{dead}", f".model.old-{dead}", f".model.tmp-{os.getppid()}"):
        (tmp_path / leftover).mkdir()
        (tmp_path / leftover / registry.MODEL_FILE).write_text("half written")
    booster, meta = registry.load(model_dir)
    registry.save(out, booster, meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".model.tmp-{os.getppid()}", "model"]
