"""tools/ensure-prometheus and the skip rule: tests that need Prometheus skip only when
`prometheus` or `promtool` is missing from PATH, and say how to get them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import prom_helpers as ph
import pytest

BASH = shutil.which("bash") or "/bin/bash"


def test_skip_reason_only_when_a_binary_is_missing() -> None:
    both = {"prometheus": "/x/prometheus", "promtool": "/x/promtool"}
    assert ph.missing_binaries_reason(both.get) is None
    for missing in ph.BINARIES:
        present = {k: v for k, v in both.items() if k != missing}
        reason = ph.missing_binaries_reason(present.get)
        assert reason and missing in reason and "tools/ensure-prometheus" in reason
    assert "prometheus and promtool" in ph.missing_binaries_reason({}.get)


def test_present_binaries_never_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test needing Prometheus skips exactly when a binary is missing, never otherwise."""
    monkeypatch.setattr(ph, "missing_binaries_reason", lambda: None)
    try:
        ph.require_binaries()
    except pytest.skip.Exception as skipped:  # reported as a skip, not a failure, if let through
        pytest.fail(f"skipped with both binaries present: {skipped}")
    monkeypatch.setattr(ph, "missing_binaries_reason", lambda: "promtool not on PATH")
    with pytest.raises(pytest.skip.Exception, match="promtool not on PATH"):
        ph.require_binaries()


def _stub_path(tmp_path: Path, commands: dict[str, str]) -> str:
    """A PATH of only these commands (shell snippets) plus `id`, which the script needs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in {"id": 'exec /usr/bin/env -i PATH=/usr/bin:/bin id "$@"', **commands}.items():
        stub = bin_dir / name
        stub.write_text(f"#!{BASH}\n{body}\n")
        stub.chmod(0o755)
    return str(bin_dir)


def _run(path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, str(ph.ENSURE)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": path, "HOME": os.environ.get("HOME", "/")},
    )


def test_ensure_prometheus_is_an_executable_bash_script() -> None:
    assert os.access(ph.ENSURE, os.X_OK)
    assert ph.ENSURE.read_text().startswith("#!/usr/bin/env bash")
    assert subprocess.run([BASH, "-n", str(ph.ENSURE)]).returncode == 0


def test_ensure_prometheus_does_nothing_when_both_binaries_are_there(tmp_path: Path) -> None:
    marker = tmp_path / "apt-called"
    path = _stub_path(
        tmp_path,
        {"prometheus": "exit 0", "promtool": "exit 0", "apt-get": f"touch {marker}; exit 1"},
    )
    done = _run(path)
    assert done.returncode == 0 and not marker.exists()
    assert done.stdout == done.stderr == ""


def test_ensure_prometheus_explains_and_exits_zero_without_root(tmp_path: Path) -> None:
    marker = tmp_path / "apt-called"
    path = _stub_path(tmp_path, {"apt-get": f"touch {marker}; exit 1"})
    (Path(path) / "id").write_text(f'#!{BASH}\n[ "$1" = -u ] && echo 1000\n')
    done = _run(path)
    assert done.returncode == 0 and not marker.exists()
    assert "not root" in done.stderr and "skip" in done.stderr


def test_ensure_prometheus_explains_and_exits_zero_without_apt(tmp_path: Path) -> None:
    path = _stub_path(tmp_path, {})
    (Path(path) / "id").write_text(f'#!{BASH}\n[ "$1" = -u ] && echo 0\n')
    done = _run(path)
    assert done.returncode == 0
    assert "no apt-get" in done.stderr and "skip" in done.stderr


def test_ensure_prometheus_installs_the_debian_package_quietly_without_recommends() -> None:
    script = ph.ENSURE.read_text()
    assert "apt-get update -qq" in script
    assert "apt-get install -y -qq --no-install-recommends prometheus" in script
    assert "DEBIAN_FRONTEND=noninteractive" in script
