"""Prometheus rules: promtool check/test, an alert test for every alert, runbook links, and
the metric names they use."""

from __future__ import annotations

import re

import prom_helpers as ph
import pytest
import yaml

# The issue's list of alerts, each as (alert, what its expression must read).
REQUIRED_ALERTS = {
    "MuleguardLatencyBudgetBurnFast": (
        "muleguard:event_to_freeze_slow:ratio_rate1h",
        "muleguard:event_to_freeze_slow:ratio_rate5m",
    ),
    "MuleguardLatencyBudgetBurnSlow": ("muleguard:event_to_freeze_slow:ratio_rate1d",),
    "MuleguardConsumerLagGrowing": ("muleguard_consumer_lag_messages",),
    "MuleguardNoEvents": ("muleguard_last_event_timestamp_seconds",),
    "MuleguardDeadLetterRateHigh": ("muleguard:deadletter:ratio_rate5m",),
    "MuleguardScoreDrift": ("muleguard_score_psi",),
    "MuleguardWorkerDown": ("up",),
    "MuleguardDevelopmentKeyInUse": ("muleguard_development_keys_in_use",),
}


def _unit_tests() -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted(ph.RULE_TESTS.glob("*.yml"))]


def test_rules_pass_promtool_check_rules() -> None:
    done = ph.promtool("check", "rules", str(ph.RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_prometheus_config_passes_promtool_check_config() -> None:
    done = ph.promtool("check", "config", str(ph.PROMETHEUS_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", sorted(ph.RULE_TESTS.glob("*.yml")), ids=lambda p: p.name)
def test_promtool_rule_unit_tests_pass(path) -> None:
    done = ph.promtool("test", "rules", path.name, cwd=ph.RULE_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_unit_tests_load_the_rules_file() -> None:
    for path in sorted(ph.RULE_TESTS.glob("*.yml")):
        files = yaml.safe_load(path.read_text())["rule_files"]
        assert [(ph.RULE_TESTS / f).resolve() for f in files] == [ph.RULES.resolve()], path.name


@pytest.mark.parametrize("alert", sorted(ph.alert_rules()))
def test_every_alert_has_a_firing_and_a_quiet_unit_test(alert: str) -> None:
    firing = quiet = 0
    for suite in _unit_tests():
        for case in suite["tests"]:
            for check in case.get("alert_rule_test", []):
                if check["alertname"] == alert:
                    if check.get("exp_alerts"):
                        firing += 1
                    else:
                        quiet += 1
    assert firing, f"no promtool unit test expects {alert} to fire"
    assert quiet, f"no promtool unit test expects {alert} to stay quiet"


def test_firing_unit_tests_check_every_label_and_annotation() -> None:
    alerts = ph.alert_rules()
    for suite in _unit_tests():
        for case in suite["tests"]:
            for check in case.get("alert_rule_test", []):
                rule = alerts[check["alertname"]]
                for expected in check.get("exp_alerts") or []:
                    assert set(rule["labels"]) <= set(expected["exp_labels"]), case["name"]
                    assert set(expected["exp_annotations"]) == set(rule["annotations"]), case[
                        "name"
                    ]


def test_the_alerts_the_issue_asks_for_exist_and_read_the_right_series() -> None:
    alerts = ph.alert_rules()
    for alert, series in REQUIRED_ALERTS.items():
        assert alert in alerts, f"missing alert {alert}"
        assert set(series) <= ph.metric_names(alerts[alert]["expr"]), alert
    assert re.search(r'up\{job="muleguard"\}\s*==\s*0', alerts["MuleguardWorkerDown"]["expr"])
    records = ph.recording_rules()
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        expr = records[f"muleguard:event_to_freeze_slow:ratio_rate{window}"]
        assert f"[{window}]" in expr and 'le=~"1|1.0"' in expr, window
        assert "muleguard_event_to_freeze_seconds_bucket" in expr


def _anchors(markdown: str) -> set[str]:
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", title)))
    return anchors


@pytest.mark.parametrize("alert", sorted(ph.alert_rules()))
def test_alert_has_severity_text_and_a_runbook_section(alert: str) -> None:
    rule = ph.alert_rules()[alert]
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    page, _, anchor = rule["annotations"]["runbook"].partition("#")
    assert page == "docs/operations.md"
    operations = ph.OPERATIONS.read_text()
    assert anchor in _anchors(operations), f"docs/operations.md has no section #{anchor}"
    assert alert in operations, f"docs/operations.md does not mention {alert}"


def test_rules_read_only_known_metrics() -> None:
    build = ph.build_module()
    known = (
        set(ph.declared_metrics())
        | set(build.PROCESS_METRICS)
        | set(ph.recording_rules())
        | {"up"}
        | _planned_series(build.PLANNED_METRICS)
    )
    groups = yaml.safe_load(ph.RULES.read_text())["groups"]
    for rule in (r for g in groups for r in g["rules"]):
        unknown = ph.metric_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('alert') or rule.get('record')} reads unknown {unknown}"


def _planned_series(planned: dict[str, str]) -> set[str]:
    names = set()
    for name, kind in planned.items():
        names |= (
            {name + s for s in ("", "_bucket", "_sum", "_count")} if kind == "histogram" else {name}
        )
    return names


def test_planned_metrics_keep_their_type_once_declared() -> None:
    """When a planned metric lands in topologies/metrics.py, the dashboards' use of it must fit."""
    declared = ph.declared_families()
    for name, kind in ph.build_module().PLANNED_METRICS.items():
        if name in declared:
            assert declared[name] == kind, f"{name} is declared as {declared[name]}, used as {kind}"


def test_recording_rule_names_follow_level_metric_operation() -> None:
    for name in ph.recording_rules():
        assert re.fullmatch(r"muleguard:[a-z0-9_]+:[a-z0-9_]+", name), name


def test_k8s_prometheus_rule_is_the_rules_file() -> None:
    (doc,) = ph.load_yaml_documents(ph.K8S / "prometheusrule.yaml")
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    assert doc["spec"]["groups"] == yaml.safe_load(ph.RULES.read_text())["groups"]


def test_worker_reports_development_keys_for_the_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gauge MuleguardDevelopmentKeyInUse reads: the token key unset or public is 1, a real one 0."""
    from streams import privacy
    from topologies import auth
    from topologies.views import development_keys

    assert ph.declared_families()["muleguard_development_keys_in_use"] == "gauge"
    monkeypatch.delenv(auth.ENV_TOKEN_KEY, raising=False)
    assert development_keys() == {"token": True, "pseudonym": privacy.using_development_key()}
    monkeypatch.setenv(auth.ENV_TOKEN_KEY, "a-real-key-set-out-of-band-4f1c9e")
    assert development_keys()["token"] is False
