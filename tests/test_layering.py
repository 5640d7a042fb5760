"""Dependencies point one way: topologies -> models -> features -> streams; only topologies knows Faust."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
ALLOWED = {
    "streams": {"streams"},
    "features": {"streams", "features"},
    "models": {"streams", "features", "models"},
}
PROJECT = {"streams", "features", "models", "topologies"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_point_one_way_and_never_faust(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        imported = _imports(path)
        assert not imported & {"faust", "mode", "aiokafka"}, f"{path} imports Faust"
        assert imported & PROJECT <= ALLOWED[package], f"{path} imports {imported & PROJECT - ALLOWED[package]}"
