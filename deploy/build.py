"""Generates the checked-in Grafana dashboards and the Kubernetes PrometheusRule.

    python deploy/build.py          # rewrite the generated files
    python deploy/build.py --check  # exit 1 if any generated file is out of date

Outputs (never edit them by hand; tests/deploy checks they are current):

- deploy/grafana/dashboards/muleguard-sre.json: SRE overview (throughput, errors, latency
  against the 0.25/1/5 s objectives, lag, rebalances, state, process resources)
- deploy/grafana/dashboards/muleguard-fraud-ops.json: fraud operations (holds and amounts
  per hour, reviews, trace depth, score drift, shadow agreement, cases)
- deploy/k8s/prometheusrule.yaml: deploy/prometheus/rules/muleguard.yml as a
  prometheus-operator PrometheusRule

Only the standard library and PyYAML; no project imports, so it runs anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
RULES = DEPLOY / "prometheus" / "rules" / "muleguard.yml"
PROMETHEUS_RULE = DEPLOY / "k8s" / "prometheusrule.yaml"
NAMESPACE = "muleguard"
JOB = "muleguard"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# Metrics the dashboards and rules already use but the worker does not export yet
# (topologies/metrics.py). Name -> Prometheus type. Tests accept these names; the live
# test shows panels over them as skipped, with this reason, while they stay absent.
PLANNED_METRICS: dict[str, str] = {
}
# Standard prometheus_client process collector metrics used on the SRE dashboard.
PROCESS_METRICS: dict[str, str] = {
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "python_gc_collections_total": "counter",
}

I = 'instance=~"$instance"'  # noqa: E741 - the instance filter of the SRE dashboard
RATE = "$__rate_interval"


@dataclass
class Target:
    expr: str
    legend: str = ""
    fmt: str = "time_series"


@dataclass
class Panel:
    title: str
    description: str
    targets: list[Target]
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    height: int = 8
    thresholds: list[tuple[str, float | None]] = field(default_factory=lambda: [("green", None)])
    threshold_lines: bool = False
    minimum: float | None = None
    maximum: float | None = None
    stack: bool = False


@dataclass
class Row:
    title: str
    panels: list[Panel]


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict:
    targets = []
    for i, t in enumerate(panel.targets):
        target = {
            "datasource": DATASOURCE,
            "expr": t.expr,
            "legendFormat": t.legend or "__auto",
            "range": True,
            "refId": chr(ord("A") + i),
        }
        if t.fmt != "time_series":
            target["format"] = t.fmt
        targets.append(target)
    defaults: dict = {
        "unit": panel.unit,
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": c, "value": v} for c, v in panel.thresholds],
        },
    }
    if panel.minimum is not None:
        defaults["min"] = panel.minimum
    if panel.maximum is not None:
        defaults["max"] = panel.maximum
    if panel.kind == "timeseries":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10 if panel.stack else 0,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if panel.stack else "none", "group": "A"},
            "thresholdsStyle": {"mode": "line" if panel.threshold_lines else "off"},
        }
        options: dict = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif panel.kind == "stat":
        defaults["color"] = {"mode": "thresholds"}
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        }
    elif panel.kind == "heatmap":
        defaults = {"custom": {"scaleDistribution": {"type": "linear"}}}
        options = {
            "calculate": False,
            "yAxis": {"axisPlacement": "left", "unit": panel.unit},
            "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
            "cellGap": 1,
            "tooltip": {"show": True, "yHistogram": False},
            "rowsFrame": {"layout": "auto"},
        }
    else:
        raise ValueError(f"unknown panel kind {panel.kind}")
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
    }


def _layout(rows: list[Row]) -> list[dict]:
    panels: list[dict] = []
    next_id, y = 1, 0
    for row in rows:
        panels.append(
            {
                "id": next_id,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id, y = next_id + 1, y + 1
        x, row_height = 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, row_height = 0, y + row_height, 0
            panels.append(_panel_json(panel, next_id, x, y))
            next_id += 1
            x += panel.width
            row_height = max(row_height, panel.height)
        y += row_height
    return panels


def _datasource_variable() -> dict:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {"selected": False, "text": "Prometheus", "value": "prometheus"},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def _instance_variable() -> dict:
    query = f'label_values(up{{job="{JOB}"}}, instance)'
    return {
        "name": "instance",
        "label": "Worker",
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": "instance"},
        "definition": query,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "options": [],
    }


def _dashboard(
    uid: str, title: str, description: str, rows: list[Row], variables: list[dict]
) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["muleguard"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "title": "muleguard dashboards",
                "type": "dashboards",
                "tags": ["muleguard"],
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
            }
        ],
        "templating": {"list": variables},
        "panels": _layout(rows),
    }


OBJECTIVE_LINES = [("green", None), ("yellow", 0.25), ("orange", 1.0), ("red", 5.0)]
HOLD = 'action="hold"'
JOB_MATCHER = f'job="{JOB}"'


def _sel(*matchers: str) -> str:
    inner = ", ".join(m for m in matchers if m)
    return "{" + inner + "}" if inner else ""


def _sum_rate(metric: str, by: str = "", *matchers: str) -> str:
    """sum [by (labels)] (rate(metric{matchers}[$__rate_interval]))"""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(rate({metric}{_sel(*matchers)}[{RATE}]))"


def _sum_increase(metric: str, by: str, window: str, *matchers: str) -> str:
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(increase({metric}{_sel(*matchers)}[{window}]))"


def _quantile(q: float, metric: str, by: str = "le", selector: str = I) -> str:
    return f"histogram_quantile({q}, {_sum_rate(metric + '_bucket', by, selector)})"


def _within(le_regex: str) -> str:
    bucket = _sum_rate("muleguard_event_to_freeze_seconds_bucket", "", I, f'le=~"{le_regex}"')
    return f"{bucket} / {_sum_rate('muleguard_event_to_freeze_seconds_count', '', I)}"


def _per_worker(metric: str, agg: str = "sum") -> str:
    return f"{agg} by (instance) ({metric}{_sel(JOB_MATCHER, I)})"


def _sre_throughput() -> Row:
    consumed, rejected = "muleguard_events_consumed_total", "muleguard_events_rejected_total"
    return Row("Throughput", [
        Panel("Events consumed per second, by topic",
              "Input and internal (repartition) messages consumed by the selected workers.",
              [Target(_sum_rate(consumed, "topic", I), "{{topic}}")], unit="ops", stack=True),
        Panel("Internal repartition topics: sent and consumed per second",
              "Signals the agents send to muleguard.account-signals.v1 and "
              "muleguard.identity-signals.v1, against what the keyed agents consume from them.",
              [Target(_sum_rate("muleguard_signals_sent_total", "topic", I), "sent {{topic}}"),
               Target(_sum_rate(consumed, "topic", I, 'topic=~"muleguard[.].+"'),
                      "consumed {{topic}}")],
              unit="ops"),
        Panel("Freeze requests per second, by action",
              "Freeze requests sent to the banks (freeze.requests.v1).",
              [Target(_sum_rate("muleguard_freeze_requests_total", "action", I), "{{action}}")],
              unit="ops"),
        Panel("Workers up", "Workers Prometheus scrapes successfully, of those it knows.",
              [Target(f"sum(up{_sel(JOB_MATCHER, I)})", "up"),
               Target(f"count(up{_sel(JOB_MATCHER, I)})", "known")],
              kind="stat", width=6, height=6),
        Panel("Model version in service",
              "Workers per model version (more than one: a rollout or rollback in progress, "
              "or a worker that was not restarted).",
              [Target(f"count by (version) (muleguard_model_info{_sel(I)})", "{{version}}")],
              kind="stat", width=6, height=6),
        Panel("Rebalances (last 15 min)", "Consumer-group rebalances seen by the workers.",
              [Target(_sum_increase("muleguard_rebalances_total", "", "15m", I), "rebalances")],
              kind="stat", width=6, height=6,
              thresholds=[("green", None), ("orange", 1), ("red", 6)]),
        Panel("Dead-letter ratio (now)", "Share of consumed messages rejected, all topics.",
              [Target(f"{_sum_rate(rejected, '', I)} / {_sum_rate(consumed, '', I)}", "ratio")],
              kind="stat", unit="percentunit", width=6, height=6,
              thresholds=[("green", None), ("orange", 0.01), ("red", 0.1)]),
        Panel("Worker restarts (last hour)",
              "Starts of each worker process in the last hour. A worker stops when an agent fails "
              "and reads the unfinished input again: repeated restarts are a crash loop "
              "(alert MuleguardWorkerRestarting, docs/operations.md).",
              [Target(f"changes(process_start_time_seconds{_sel(JOB_MATCHER, I)}[1h])", "{{instance}}")],
              kind="stat", width=24, height=4,
              thresholds=[("green", None), ("orange", 1), ("red", 3)]),
    ])


def _sre_errors() -> Row:
    consumed, rejected = "muleguard_events_consumed_total", "muleguard_events_rejected_total"
    return Row("Errors", [
        Panel("Dead letters per second, by topic and reason",
              "Messages sent to deadletter.v1 instead of being processed.",
              [Target(_sum_rate(rejected, "topic, reason", I), "{{topic}}: {{reason}}")],
              unit="ops", stack=True),
        Panel("Dead-letter ratio, by topic",
              "Rejected / consumed per source topic. MuleguardDeadLetterRateHigh fires above "
              "1% for 10 minutes.",
              [Target(f"{_sum_rate(rejected, 'topic', I)} / {_sum_rate(consumed, 'topic', I)}",
                      "{{topic}}")],
              unit="percentunit", minimum=0, thresholds=[("green", None), ("red", 0.01)],
              threshold_lines=True),
    ])


def _sre_latency() -> Row:
    burn = "muleguard:event_to_freeze_slow:ratio_rate{} / 0.01"
    return Row("Latency against objectives (0.25 s, 1 s, 5 s)", [
        Panel("Event to freeze request, p50 and p99",
              "From the triggering input reaching the broker to the freeze request being "
              "sent. Lines: the 0.25 s, 1 s and 5 s objectives.",
              [Target(_quantile(0.5, "muleguard_event_to_freeze_seconds"), "p50"),
               Target(_quantile(0.99, "muleguard_event_to_freeze_seconds"), "p99")],
              unit="s", thresholds=OBJECTIVE_LINES, threshold_lines=True),
        Panel("Freeze requests within each objective",
              "Share of freeze requests sent within 0.25 s, 1 s and 5 s (exact histogram "
              "buckets). The 1 s objective is 99%.",
              [Target(_within("0.25"), "within 0.25 s"),
               Target(_within("1|1.0"), "within 1 s"),
               Target(_within("5|5.0"), "within 5 s")],
              unit="percentunit", maximum=1, thresholds=[("red", None), ("green", 0.99)],
              threshold_lines=True),
        Panel("1 s objective: error budget burn rate",
              "Slow share / 1% budget, over the alert windows. "
              "MuleguardLatencyBudgetBurnFast pages at 14.4 (1h and 5m) or 6 (6h and 30m).",
              [Target(burn.format(w), w) for w in ("5m", "1h", "6h")],
              unit="x", minimum=0, thresholds=[("green", None), ("orange", 6), ("red", 14.4)],
              threshold_lines=True),
        Panel("Processing time per stage, p99",
              "Time spent in each agent per message (ingest per topic, account).",
              [Target(_quantile(0.99, "muleguard_stage_seconds", by="stage, le"), "{{stage}}")],
              unit="s"),
    ])


def _sre_lag() -> Row:
    newest = f"max by (topic) (muleguard_last_event_timestamp_seconds{_sel(I)})"
    return Row("Lag and freshness", [
        Panel("Consumer lag, by topic",
              "Messages not yet consumed, summed over partitions. "
              "MuleguardConsumerLagGrowing fires when above 1000 and growing for 10 minutes.",
              [Target(f"sum by (topic) (muleguard_consumer_lag_messages{_sel(I)})", "{{topic}}")],
              thresholds=[("green", None), ("orange", 1000)], threshold_lines=True),
        Panel("Event-time lag of scored events, p99",
              "Wall clock minus event time when an event is scored.",
              [Target(_quantile(0.99, "muleguard_event_time_lag_seconds"), "p99")],
              unit="s", thresholds=OBJECTIVE_LINES, threshold_lines=True),
        Panel("Event-time freshness, by topic",
              "Now minus the newest event time ingested per topic (replayed or simulated "
              "traffic shows its own clock here). MuleguardNoEvents fires when it stops "
              "moving.",
              [Target(f"time() - ({newest} > 0)", "{{topic}}")], unit="s"),
        Panel("Table recovery time, per worker",
              "Seconds the last changelog recovery of table state took after an assignment.",
              [Target(f"max by (instance) (muleguard_recovery_seconds{_sel(I)})", "{{instance}}")],
              unit="s"),
    ])


def _sre_state() -> Row:
    return Row("Rebalances and state", [
        Panel("Consumer-group rebalances and partition rewinds, per worker (15 min)",
              "Each rebalance pauses processing; MuleguardRebalanceStorm fires above 5 in 15 "
              "minutes. A rewind reads a partition again from its committed offset because "
              "acked offsets above a hole would never be committed (docs/reliability.md).",
              [Target(_sum_increase("muleguard_rebalances_total", "instance", "15m", I),
                      "{{instance}} rebalances"),
               Target(_sum_increase("muleguard_partition_rewinds_total", "instance", "15m", I),
                      "{{instance}} rewinds")],
              thresholds=[("green", None), ("red", 5)], threshold_lines=True),
        Panel("Accounts in feature state, by partition",
              "RocksDB state size in accounts per table partition.",
              [Target(f"sum by (partition) (muleguard_feature_state_accounts{_sel(I)})",
                      "partition {{partition}}")], stack=True),
        Panel("Decoded-state cache hit ratio, by table",
              "Share of state loads served by the worker's cache of decoded states instead of "
              "a decode from RocksDB (MULEGUARD_STATE_CACHE). Low under steady traffic: the "
              "cache is too small for the accounts a worker sees again within minutes.",
              [Target(_sum_rate("muleguard_state_cache_lookups_total", "table", I, 'result="hit"') + " / "
                      + _sum_rate("muleguard_state_cache_lookups_total", "table", I), "{{table}}")],
              unit="percentunit", minimum=0, maximum=1),
    ])


def _sre_resources() -> Row:
    fds = f"{_per_worker('process_open_fds', 'max')} / {_per_worker('process_max_fds', 'max')}"
    return Row("Resources", [
        Panel("CPU, per worker", "Cores used (process_cpu_seconds_total).",
              [Target(f"sum by (instance) (rate(process_cpu_seconds_total"
                      f"{_sel(JOB_MATCHER, I)}[{RATE}]))", "{{instance}}")],
              width=6),
        Panel("Resident memory, per worker",
              "process_resident_memory_bytes (RocksDB block cache included). Compare with "
              "the container memory limit.",
              [Target(_per_worker("process_resident_memory_bytes"), "{{instance}}")],
              unit="bytes", width=6),
        Panel("Garbage collections, per worker and generation",
              "python_gc_collections_total. Workers set large collector thresholds "
              "(runtime.tune_gc, docs/runtime.md section 8): full collections (generation 2) "
              "should be rare; many of them mean the thresholds are not in effect.",
              [Target(f"sum by (instance, generation) (rate(python_gc_collections_total"
                      f"{_sel(JOB_MATCHER, I)}[{RATE}]))", "{{instance}} gen {{generation}}")],
              unit="ops", width=6),
        Panel("Open file descriptors, share of limit", "RocksDB keeps many files open.",
              [Target(fds, "{{instance}}")], unit="percentunit", width=6,
              thresholds=[("green", None), ("red", 0.8)], threshold_lines=True),
    ])


def sre_dashboard() -> dict:
    rows = [_sre_throughput(), _sre_errors(), _sre_latency(), _sre_lag(), _sre_state(),
            _sre_resources()]
    return _dashboard("muleguard-sre", "muleguard / SRE overview",
                      "Throughput, errors, latency against the 0.25/1/5 s objectives, lag, "
                      "rebalances and resources of the muleguard workers. "
                      "Runbook: docs/operations.md.",
                      rows, [_datasource_variable(), _instance_variable()])


def _fraud_holds() -> Row:
    holds, held = "muleguard_freeze_requests_total", "muleguard_held_amount_thb_total"
    reviews = "muleguard_review_decisions_total"
    return Row("Holds", [
        Panel("Holds, last hour", "Hold requests sent to the banks in the last hour.",
              [Target(_sum_increase(holds, "", "1h", HOLD), "holds")],
              kind="stat", width=8, height=5),
        Panel("THB held, last hour", "Amount the banks were asked to hold in the last hour.",
              [Target(_sum_increase(held, "", "1h"), "THB")],
              kind="stat", unit="suffix: THB", width=8, height=5),
        Panel("Reviews queued, last hour", "Accounts queued for a human instead of a hold.",
              [Target(_sum_increase(reviews, "", "1h"), "reviews")],
              kind="stat", width=8, height=5),
        Panel("Holds per hour, by reason",
              "Model holds (score above the hold threshold) and trace holds (money traced "
              "from a victim report).",
              [Target(_sum_increase(holds, "reason", "1h", HOLD), "{{reason}}")], stack=True),
        Panel("THB held per hour, by reason", "Amounts requested to be held.",
              [Target(_sum_increase(held, "reason", "1h"), "{{reason}}")],
              unit="suffix: THB", stack=True),
        Panel("Reviews per hour, by reason", "Decisions that went to human review.",
              [Target(_sum_increase(reviews, "reason", "1h"), "{{reason}}")], stack=True),
        Panel("Freeze requests per hour, by action", "Holds and releases.",
              [Target(_sum_increase(holds, "action", "1h"), "{{action}}")], stack=True),
    ])


def _fraud_tracing() -> Row:
    return Row("Tracing", [
        Panel("Trace depth (hops from the victim), p50 and p99",
              "How many transfers away from the reported victim the traced holds are.",
              [Target(_quantile(0.5, "muleguard_trace_hops", selector=""), "p50"),
               Target(_quantile(0.99, "muleguard_trace_hops", selector=""), "p99")]),
        Panel("Cases, by status", "Victim cases and where they stand.",
              [Target("sum by (status) (muleguard_cases)", "{{status}}")], stack=True),
    ])


def _fraud_model() -> Row:
    mean = (f"{_sum_rate('muleguard_scores_sum', 'model_version')} / "
            f"{_sum_rate('muleguard_scores_count', 'model_version')}")
    return Row("Model", [
        Panel("Score drift (PSI against training), by model",
              "Population stability index of live scores. Below 0.1 stable, 0.1-0.2 watch, "
              "above 0.2 MuleguardScoreDrift fires after 30 minutes.",
              [Target("max by (model_version) (muleguard_score_psi)", "{{model_version}}")],
              thresholds=[("green", None), ("orange", 0.1), ("red", 0.2)],
              threshold_lines=True, minimum=0),
        Panel("Mean score, by model",
              "Mean model score now and over the last hour (MuleguardScoreMeanShift compares "
              "the hourly mean with the day before).",
              [Target(mean, "{{model_version}}"),
               Target("muleguard:scores:mean_rate1h", "{{model_version}} (1h)")],
              minimum=0),
        Panel("Score distribution", "Scored events per score bucket.",
              [Target("sum by (le) (increase(muleguard_scores_bucket[$__interval]))", "{{le}}",
                      fmt="heatmap")], kind="heatmap"),
        Panel("Shadow vs champion agreement",
              "Share of scored events on which the shadow challenger's decision (hold or not) "
              "agrees with the champion's (never emitted; see docs/models.md).",
              [Target('sum(rate(muleguard_shadow_agreement_total{outcome=~"both_hold|neither"}[$__rate_interval]))'
                      ' / sum(rate(muleguard_shadow_agreement_total[$__rate_interval]))', "agreement")],
              unit="percentunit", minimum=0, maximum=1, threshold_lines=True,
              thresholds=[("red", None), ("orange", 0.9), ("green", 0.98)]),
        Panel("Model version in service", "Workers per model version.",
              [Target("count by (version) (muleguard_model_info)", "{{version}}")],
              kind="stat", width=12, height=5),
    ])


def fraud_dashboard() -> dict:
    return _dashboard("muleguard-fraud-ops", "muleguard / Fraud operations",
                      "Holds and amounts per hour, reviews, trace depth, score drift and "
                      "shadow-vs-champion agreement. Runbook: docs/operations.md.",
                      [_fraud_holds(), _fraud_tracing(), _fraud_model()], [_datasource_variable()])


def prometheus_rule() -> str:
    import yaml

    rules = yaml.safe_load(RULES.read_text())
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "muleguard",
            "namespace": NAMESPACE,
            "labels": {
                "app.kubernetes.io/name": "muleguard",
                "app.kubernetes.io/component": "monitoring",
            },
        },
        "spec": {"groups": rules["groups"]},
    }

    class Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, _str)
    header = (
        "# GENERATED by deploy/build.py from deploy/prometheus/rules/muleguard.yml; do not edit.\n"
    )
    return header + yaml.dump(doc, Dumper=Dumper, sort_keys=False, width=100, allow_unicode=True)


def outputs() -> dict[Path, str]:
    return {
        DASHBOARDS / "muleguard-sre.json": json.dumps(sre_dashboard(), indent=2) + "\n",
        DASHBOARDS / "muleguard-fraud-ops.json": json.dumps(fraud_dashboard(), indent=2) + "\n",
        PROMETHEUS_RULE: prometheus_rule(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the files are current")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path.relative_to(DEPLOY.parent)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
