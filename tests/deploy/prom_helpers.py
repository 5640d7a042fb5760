"""Helpers for the deploy tests: the Prometheus binaries, promtool, a real Prometheus server,
metric names in PromQL, and the deploy material (dashboards, rules, manifests)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules" / "muleguard.yml"
RULE_TESTS = DEPLOY / "prometheus" / "tests"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
OPERATIONS = ROOT / "docs" / "operations.md"
ENSURE = ROOT / "tools" / "ensure-prometheus"
BINARIES = ("prometheus", "promtool")


def build_module() -> ModuleType:
    """deploy/build.py, which generates the dashboards and the PrometheusRule."""
    name = "_muleguard_deploy_build"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DEPLOY / "build.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        try:
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


# --- the binaries ------------------------------------------------------------------------


def missing_binaries_reason(which: Callable[[str], str | None] = shutil.which) -> str | None:
    """Why tests needing Prometheus must skip, or None when both binaries are on PATH.

    The only reason to skip is a missing binary; everything after that (a server that
    does not start, a query that fails) is a test failure.
    """
    missing = [name for name in BINARIES if which(name) is None]
    if not missing:
        return None
    return (
        f"{' and '.join(missing)} not on PATH: run tools/ensure-prometheus "
        "(installs the Debian package 'prometheus' as root), or install Prometheus"
    )


def require_binaries() -> None:
    reason = missing_binaries_reason()
    if reason:
        pytest.skip(reason)


def promtool(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    require_binaries()
    return subprocess.run(
        ["promtool", *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120
    )


# --- metric names ------------------------------------------------------------------------

_NAME = re.compile(
    r"(?<![\w:])(muleguard_[a-z0-9_]+|process_[a-z0-9_]+|muleguard:[a-z0-9_:]+|up(?=\s*\{))"
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def metric_names(expr: str) -> set[str]:
    """Series names a PromQL expression reads (label values and strings are ignored)."""
    return set(_NAME.findall(_STRING.sub('""', expr)))


def declared_families() -> dict[str, str]:
    """Metric families of topologies/metrics.py, as named on /metrics (# TYPE) -> type."""
    from topologies.metrics import Metrics

    families: dict[str, str] = {}
    for family in Metrics().registry.collect():
        suffix = {"counter": "_total", "info": "_info"}.get(family.type, "")
        families[family.name + suffix] = family.type
    return families


def declared_metrics() -> dict[str, str]:
    """Every series name the worker can export, from topologies/metrics.py -> its family type."""
    names: dict[str, str] = {}
    for name, kind in declared_families().items():
        suffixes = ("", "_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        names.update({name + s: kind for s in suffixes})
    return names


def family_of(name: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def recording_rules() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["record"]: r["expr"] for g in groups for r in g["rules"] if "record" in r}


def alert_rules() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


# Grafana's own variables, as the live test evaluates them: the worker filter at "All",
# rate windows that fit a 1 s scrape interval.
TEST_VARIABLES = {"$__rate_interval": "15s", "$__interval": "15s", "$instance": ".*"}


def as_promql(expr: str, variables: dict[str, str] = TEST_VARIABLES) -> str:
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(name, variables[name])
    assert "$" not in expr, f"unresolved Grafana variable in {expr!r}"
    return expr


def load_yaml_documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


# --- a real Prometheus server ------------------------------------------------------------


class PrometheusServer:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # 400/422 carry the PromQL error
            body = json.loads(exc.read() or b"{}") or {"status": "error", "error": str(exc)}
        assert body.get("status") == "success", f"{path} {params}: {body.get('error', body)}"
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.get("/api/v1/query", query=expr)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float = 1.0) -> list[dict]:
        return self.get(
            "/api/v1/query_range",
            query=expr,
            start=f"{start:.3f}",
            end=f"{end:.3f}",
            step=str(step),
        )["result"]

    def wait_until(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            assert self.process.poll() is None, f"prometheus exited: {self.log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.25)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False


def scrape_config_for_test(worker_port: int, interval: str = "1s") -> dict:
    """deploy/prometheus/prometheus.yml pointed at one loopback worker, with fast intervals."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(
        scrape_interval=interval, scrape_timeout=interval, evaluation_interval=interval
    )
    config["rule_files"] = [str(PROMETHEUS_CONFIG.parent / f) for f in config["rule_files"]]
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == "muleguard"]
    assert len(jobs) == 1, "deploy/prometheus/prometheus.yml must have one job named muleguard"
    jobs[0]["static_configs"] = [{"targets": [f"127.0.0.1:{worker_port}"]}]
    config["scrape_configs"] = jobs
    return config


def start_prometheus(config: dict, work: Path, port: int) -> PrometheusServer:
    require_binaries()
    config_path = work / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    log = work / "prometheus.log"
    cmd = [
        "prometheus",
        f"--config.file={config_path}",
        f"--storage.tsdb.path={work / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1d",
        "--log.level=warn",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = PrometheusServer(process, port, log)
    server.wait_until(server.ready, 60, "prometheus to be ready")
    return server


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
