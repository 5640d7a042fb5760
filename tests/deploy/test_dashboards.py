"""Grafana dashboards: generated and current, well-formed, valid PromQL over known metrics,
covering what the issue asks for, and provisioned consistently."""

from __future__ import annotations

import json

import prom_helpers as ph
import pytest
import yaml

DASHBOARD_FILES = ("muleguard-sre.json", "muleguard-fraud-ops.json")


def test_generated_files_are_current() -> None:
    """Rerun `python deploy/build.py` after changing it or the rules file."""
    for path, text in ph.build_module().outputs().items():
        assert path.read_text() == text, f"{path} is out of date: run python deploy/build.py"


def test_build_check_mode_agrees() -> None:
    assert ph.build_module().main(["--check"]) == 0


def test_both_dashboards_exist_with_unique_uids() -> None:
    boards = ph.dashboards()
    assert set(boards) == set(DASHBOARD_FILES)
    uids = [b["uid"] for b in boards.values()]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_dashboard_is_well_formed(name: str) -> None:
    board = ph.dashboards()[name]
    for key in ("uid", "title", "panels", "templating", "schemaVersion", "time"):
        assert key in board, key
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids), "panel ids must be unique"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        cell = {
            (grid["x"] + dx, grid["y"] + dy) for dx in range(grid["w"]) for dy in range(grid["h"])
        }
        assert not cell & cells, f"{panel['title']} overlaps another panel"
        cells |= cell
    for panel in ph.panels(board):
        assert panel["title"] and panel["description"], panel["id"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(set(refs)) == len(refs), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"] == panel["datasource"]
            used = {v for v in ("$instance",) if v in target["expr"]}
            assert used <= {f"${n}" for n in variables}, f"{panel['title']} uses undefined {used}"


def _all_exprs() -> list[tuple[str, str]]:
    return [
        (f"{b['uid']} / {p['title']} / {t['refId']}", t["expr"])
        for b in ph.dashboards().values()
        for p in ph.panels(b)
        for t in p["targets"]
    ]


def test_every_query_is_valid_promql(tmp_path) -> None:
    """promtool parses every panel query (as a recording rule) once Grafana variables are set."""
    rules = [
        {"record": f"panel_query_{i}", "expr": ph.as_promql(expr)}
        for i, (_, expr) in enumerate(_all_exprs())
    ]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    done = ph.promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_queries_read_only_known_metrics() -> None:
    build = ph.build_module()
    planned = set()
    for name, kind in build.PLANNED_METRICS.items():
        planned |= (
            {name + s for s in ("", "_bucket", "_sum", "_count")} if kind == "histogram" else {name}
        )
    known = (
        set(ph.declared_metrics())
        | planned
        | set(build.PROCESS_METRICS)
        | set(ph.recording_rules())
        | {"up"}
    )
    for what, expr in _all_exprs():
        unknown = ph.metric_names(expr) - known
        assert not unknown, f"{what} reads unknown {unknown}"


def _metrics_of(name: str) -> set[str]:
    board = ph.dashboards()[name]
    return {
        ph.family_of(m)
        for p in ph.panels(board)
        for t in p["targets"]
        for m in ph.metric_names(t["expr"])
    }


def test_sre_overview_covers_what_the_issue_asks_for() -> None:
    metrics = _metrics_of("muleguard-sre.json")
    for needed in (
        "muleguard_events_consumed_total",
        "muleguard_events_rejected_total",
        "muleguard_event_to_freeze_seconds",
        "muleguard_consumer_lag_messages",
        "muleguard_rebalances_total",
        "muleguard_stage_seconds",
        "muleguard_last_event_timestamp_seconds",
        "up",
    ):
        assert needed in metrics, needed
    assert {m for m in metrics if m.startswith("process_")}, "no resource use (process_*) panel"
    exprs = " ".join(e for w, e in _all_exprs() if w.startswith("muleguard-sre"))
    for objective in ('le=~"0.25"', 'le=~"1|1.0"', 'le=~"5|5.0"'):
        assert objective in exprs, f"no panel against the objective {objective}"
    board = ph.dashboards()["muleguard-sre.json"]
    steps = {
        s["value"]
        for p in ph.panels(board)
        for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]
    }
    assert {0.25, 1.0, 5.0} <= steps, "latency panels should draw the objectives"


def test_fraud_operations_view_covers_what_the_issue_asks_for() -> None:
    metrics = _metrics_of("muleguard-fraud-ops.json")
    for needed in (
        "muleguard_freeze_requests_total",
        "muleguard_held_amount_thb_total",
        "muleguard_trace_hops",
        "muleguard_score_psi",
        "muleguard_shadow_agreement_total",
    ):
        assert needed in metrics, needed
    titles = " ".join(p["title"] for p in ph.panels(ph.dashboards()["muleguard-fraud-ops.json"]))
    assert "per hour" in titles


def test_grafana_provisioning_points_at_the_dashboards_and_prometheus() -> None:
    provisioning = ph.DEPLOY / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus" and source["uid"] == "prometheus"
    for board in ph.dashboards().values():
        variable = next(v for v in board["templating"]["list"] if v["name"] == "datasource")
        assert variable["current"]["value"] == source["uid"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "muleguard.yml").read_text())[
        "providers"
    ]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")


def test_dashboards_are_plain_json_without_secrets_or_ids_of_a_grafana() -> None:
    for path in sorted(ph.DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        assert "id" not in board, "a provisioned dashboard must not carry a database id"
        assert "__inputs" not in board, "exported-for-sharing dashboards do not provision"
