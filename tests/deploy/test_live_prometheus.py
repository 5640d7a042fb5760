"""A real Prometheus scrapes a real worker on loopback while simulated traffic (and some
garbage) flows through it: the exposition passes `promtool check metrics`, the rules load
and evaluate, and every dashboard query returns data.

Panels over metrics the worker does not produce yet are skipped, never passed: each such
metric is listed in ``NOT_YET_EXPORTED`` with the reason, the skip names it, and the test
first proves the metric really has no data (if it has, the panel must show it or fail).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time

import prom_helpers as ph
import pytest
from kafka_helpers import RunningWorker, produce

from streams.simulator.calibration import LIVE_WORLD_AGE_DAYS
from topologies.broker import free_port

pytestmark = pytest.mark.integration

# The stream world of tests/conftest.py, dated as every world streamed live into a worker
# (calibration.live_start_ms): events the worker's clock finds too old would be dead letters.
WORLD = {"accounts": 2_500, "days": 1.0, "seed": 12, "end-days-ago": LIVE_WORLD_AGE_DAYS}

_PLANNED = "not exported by the worker yet (planned; listed in deploy/build.py PLANNED_METRICS)"
# metric -> (kind, why it has no data in this test). "histogram": series exist but nothing
# was observed; "series": no series at all.
NOT_YET_EXPORTED: dict[str, tuple[str, str]] = {
    **{
        name: ("histogram" if kind == "histogram" else "series", _PLANNED)
        for name, kind in ph.build_module().PLANNED_METRICS.items()
    },
}


@pytest.fixture(scope="module")
def prometheus(worker: RunningWorker, tmp_path_factory):
    ph.require_binaries()
    work = tmp_path_factory.mktemp("prometheus")
    server = ph.start_prometheus(ph.scrape_config_for_test(worker.web_port), work, free_port())
    try:
        server.wait_until(
            lambda: server.query('up{job="muleguard"} == 1') != [],
            30,
            "the first successful scrape of the worker",
        )
        yield server
    finally:
        ph.stop(server.process)


# Series the panels need that only appear with traffic: the first dead letters, reviews, holds
# (with amounts), shadow decisions, score drift and traced hops. The first hold comes about a third into the
# stream, so the test waits for these instead of for the whole stream to be processed.
NEEDS_TRAFFIC = ("muleguard_events_rejected_total", "muleguard_review_decisions_total",
                 "muleguard_freeze_requests_total", "muleguard_held_amount_thb_total",
                 "muleguard_shadow_agreement_total", "muleguard_score_psi", "muleguard_trace_hops_count")
# Gauges a worker timer sets on its own schedule (cases are counted every CASES_INTERVAL_S, and a
# timer sleeps before its first run): their series exist, at any value, once the timer has run.
PERIODIC_GAUGES = ("muleguard_cases", "muleguard_feature_state_accounts", "muleguard_consumer_lag_messages")


@pytest.fixture(scope="module")
def traffic(module_broker, worker: RunningWorker, prometheus: ph.PrometheusServer, model_dir, tmp_path_factory):
    """A copy of the worker's model runs as shadow challenger (so the agreement panel has
    data; the current version itself is refused as its own shadow), then two malformed
    transfers, then a simulated world streamed with `muleguard simulate --broker` (as the
    compose file does); returns the wall-clock window (start, end) in which Prometheus has
    seen every series of NEEDS_TRAFFIC and PERIODIC_GAUGES. The stream keeps flowing."""
    from topologies.cli import main

    registry = str(tmp_path_factory.mktemp("registry"))
    assert main(["models", "promote", str(model_dir), "--registry", registry]) == 0
    challenger = tmp_path_factory.mktemp("challenger") / "model"
    shutil.copytree(model_dir, challenger)
    meta = json.loads((challenger / "meta.json").read_text())
    (challenger / "meta.json").write_text(json.dumps({**meta, "version": meta["version"] + "-challenger"}))
    assert main(["models", "shadow", str(challenger), "--registry", registry, "--broker", module_broker.url]) == 0
    started = time.time()
    produce(module_broker.bootstrap, [
        ("bank.transfers.v1", b"k", b"{this is not json"),
        ("bank.transfers.v1", b"k", json.dumps({"transfer_id": "neg", "amount": -1}).encode()),
    ])
    cmd = [sys.executable, "-m", "topologies.cli", "simulate", "--broker", module_broker.url,
           *(f"--{k}={v}" for k, v in WORLD.items())]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr

    missing = [*NEEDS_TRAFFIC, *PERIODIC_GAUGES]

    def seen_by_prometheus() -> bool:
        assert worker.alive(), "worker died"
        missing[:] = [*(name for name in NEEDS_TRAFFIC if not prometheus.query(f"sum({name}) > 0")),
                      *(name for name in PERIODIC_GAUGES if not prometheus.query(f"count({name})"))]
        return not missing

    try:
        prometheus.wait_until(seen_by_prometheus, 240, "prometheus to scrape every series the panels need")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still without data: {missing}") from exc
    time.sleep(5)  # more scrapes and rule evaluations, so rates see the increments
    return started, time.time()


def _has_data(result: list[dict]) -> bool:
    return any(not math.isnan(float(v)) for series in result for _, v in series.get("values", []))


def _source_metrics(expr: str) -> set[str]:
    """Series names behind an expression, through recording rules."""
    rules = ph.recording_rules()
    names: set[str] = set()
    for name in ph.metric_names(expr):
        names |= _source_metrics(rules[name]) if name in rules else {name}
    return names


def _explain_no_data(prometheus: ph.PrometheusServer, expr: str) -> list[str]:
    """Reasons from NOT_YET_EXPORTED for the metrics of ``expr`` that really have no data."""
    reasons = []
    for name in sorted(
        {
            ph.family_of(n) if ph.family_of(n) in NOT_YET_EXPORTED else n
            for n in _source_metrics(expr)
        }
    ):
        if name not in NOT_YET_EXPORTED:
            continue
        kind, why = NOT_YET_EXPORTED[name]
        probe = f"sum({name}_count) > 0" if kind == "histogram" else f"count({name})"
        if prometheus.query(probe):
            pytest.fail(
                f"{name} is listed as having no data ({why}) but it has some: "
                f"remove it from NOT_YET_EXPORTED and make `{expr}` show it"
            )
        reasons.append(f"{name}: {why}")
    return reasons


def _check_returns_data(prometheus: ph.PrometheusServer, traffic, expr: str, what: str) -> None:
    start, end = traffic
    promql = ph.as_promql(expr)
    if _has_data(prometheus.query_range(promql, start, end, step=1)):
        return
    reasons = _explain_no_data(prometheus, promql)
    if reasons:
        pytest.skip(f"{what}: no data because " + "; ".join(reasons))
    pytest.fail(f"{what}: `{promql}` returned no data over the test traffic")


def test_live_metrics_pass_promtool_check_metrics(traffic, worker: RunningWorker) -> None:
    exposition = worker.metrics()
    assert "muleguard_freeze_requests_total{" in exposition
    done = ph.promtool("check", "metrics", stdin=exposition)
    assert done.returncode == 0, f"promtool check metrics:\n{done.stdout}{done.stderr}"


def test_every_declared_metric_family_is_exposed(traffic, worker: RunningWorker) -> None:
    exposition = worker.metrics()
    missing = [name for name in ph.declared_families() if f"# TYPE {name} " not in exposition]
    assert not missing, f"declared in topologies/metrics.py but not on /metrics: {missing}"


def test_rules_load_and_evaluate_without_errors(traffic, prometheus: ph.PrometheusServer) -> None:
    groups = prometheus.get("/api/v1/rules")["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    expected = set(ph.recording_rules()) | set(ph.alert_rules())
    assert set(loaded) == expected
    broken = {name: r.get("lastError") for name, r in loaded.items() if r["health"] != "ok"}
    assert not broken, f"rules that did not evaluate cleanly: {broken}"
    assert not [
        a
        for a in prometheus.get("/api/v1/alerts")["alerts"]
        if a["labels"]["alertname"] in ("MuleguardWorkerDown", "MuleguardWorkersAbsent")
    ]


def _panel_targets() -> list:
    params = []
    for _file_name, dashboard in ph.dashboards().items():
        for panel in ph.panels(dashboard):
            for target in panel["targets"]:
                what = f"{dashboard['uid']} / {panel['title']} / {target['refId']}"
                params.append(pytest.param(target["expr"], what, id=what))
    return params


@pytest.mark.parametrize(("expr", "what"), _panel_targets())
def test_dashboard_query_returns_data(
    traffic, prometheus: ph.PrometheusServer, expr: str, what: str
) -> None:
    _check_returns_data(prometheus, traffic, expr, what)


@pytest.mark.parametrize("record", sorted(ph.recording_rules()))
def test_recording_rule_returns_data(traffic, prometheus: ph.PrometheusServer, record: str) -> None:
    _check_returns_data(prometheus, traffic, record, f"recording rule {record}")
