"""`muleguard evaluate` on a small held-out world: loose bounds a broken pipeline cannot meet."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest

from features.replay import first_event_ms
from models.backtest import EvaluationError, evaluate_dir
from models.scorer import Scorer
from topologies.cli import main

REQUIRED = ("precision", "recall", "f1", "pr_auc", "money_held_share", "innocents_per_million_per_day")


def test_evaluate_cli_writes_the_report(model_dir: Path, stream_world: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    assert main(["evaluate", "--data", str(stream_world), "--model", str(model_dir), "--report", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    # The table shows the report's own figures (the AOC's 56.7% is printed on every run).
    lines = {line.strip().split("  ")[0]: line for line in printed.splitlines()}
    assert f"{report['money_held_share']:.1%}" in lines["money held share (all cases)"]
    assert f"{report['precision']:,.3f}" in lines["model holds: precision (target)"]
    assert f"{report['pr_auc']:,.3f}" in lines["PR-AUC (account max score)"]
    assert "56.7%" in lines["AOC 1441 (human freezes) / target"]
    assert all(report[key] is not None for key in REQUIRED), report
    assert report["pr_auc"] > 0.5, report  # chance is the mule share, ~0.02
    assert report["precision"] >= 0.7, report  # model holds: the threshold targets 0.95 on validation
    assert report["recall"] > 0.3, report
    assert 0.05 < report["money_held_share"] <= 1.0, report  # no holds, or holds on no mule, give 0
    assert report["money_held_share"] <= report["money_held_share_upper_bound_accounts_frozen"] <= 1.0
    # Model holds alone hold no more than model and traced holds together, reported or not.
    assert report["cases_reported"] + report["cases_unreported"] == report["cases"]
    for side in ("reported", "unreported"):
        alone = report[f"money_held_share_model_holds_{side}_cases"]
        assert math.isnan(alone) or alone <= report[f"money_held_share_{side}_cases"] + 1e-9, report
    assert (report["money_held_share_model_holds_reported_cases"]
            < report["money_held_share_reported_cases"]), "traced holds should add to reported cases"
    assert "model holds alone: reported / unreported" in lines
    # The sweep: a higher threshold takes fewer accounts and finds fewer mules; the model's own
    # threshold is one of the rows and is printed as such.
    sweep = report["threshold_sweep"]
    assert [row["threshold"] for row in sweep] == sorted(row["threshold"] for row in sweep)
    assert all(a["accounts"] >= b["accounts"] and a["recall"] >= b["recall"] for a, b in itertools.pairwise(sweep))
    [chosen] = [row for row in sweep if row["hold_threshold"]]
    assert chosen["threshold"] == round(report["hold_threshold"], 4)
    assert chosen["accounts"] >= report["held_accounts"] > 0  # a model hold needs a score at the threshold
    assert any("(hold threshold)" in line and f"{chosen['accounts']} accounts" in line for line in printed.splitlines())
    assert report["cases"] > 0 and 0 < report["cases_with_money_held"] <= report["cases"]
    assert report["held_satang"] <= report["stolen_satang"]
    delays = report["hold_delay_seconds_quantiles"]
    assert 0 <= delays["p50"] <= delays["p90"] <= delays["p99"]
    kinds = report["innocents_by_kind"]
    assert {"merchant", "payroll", "shared_device", "pass_through"} <= set(kinds)
    total = sum(v["per_million_per_day"] for v in kinds.values())
    assert math.isclose(total, report["innocents_per_million_per_day"])
    assert report["innocents_held"] == sum(v["held"] for v in kinds.values())


def test_evaluating_on_the_training_data_needs_a_held_out_period(model_dir: Path, train_world: Path) -> None:
    scorer = Scorer(model_dir).load()
    with pytest.raises(EvaluationError, match="--from"):
        evaluate_dir(train_world, scorer)


def test_from_limits_judgement_to_the_held_out_period(model_dir: Path, stream_world: Path) -> None:
    scorer = Scorer(model_dir).load()
    whole = evaluate_dir(stream_world, scorer)
    cases = [json.loads(line) for line in (stream_world / "cases.jsonl").read_text().splitlines()]
    cut = sorted(c["first_ts_ms"] for c in cases)[len(cases) // 2]
    late = evaluate_dir(stream_world, scorer, from_ms=cut)
    assert late["from_ms"] == cut
    assert 0 < late["cases"] < whole["cases"]
    assert late["scored_events"] < whole["scored_events"]
    assert late["days"] < whole["days"]


def test_warm_up_judges_only_after_the_first_days(model_dir: Path, stream_world: Path, tmp_path: Path) -> None:
    """``--warm-up DAYS``: the held-out period starts DAYS after the first event (state still builds)."""
    out = tmp_path / "report.json"
    assert main(["evaluate", "--data", str(stream_world), "--model", str(model_dir), "--warm-up", "0.5",
                 "--report", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["from_ms"] == first_event_ms(stream_world) + 43_200_000
    whole = evaluate_dir(stream_world, Scorer(model_dir).load())
    assert report["scored_events"] < whole["scored_events"]
