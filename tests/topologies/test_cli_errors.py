"""`muleguard` turns a mistake in a path or a setting into one line on stderr and exit code 2, early."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streams.topics import INPUT_TOPICS
from topologies import cli
from topologies.cli import main

SMALL_WORLD = ["--accounts", "500", "--days", "0.1", "--seed", "3"]


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("muleguard: error: ") and err.count("\n") == 1, err
    return err


def test_simulate_out_onto_a_file_is_an_error_not_a_traceback(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Any OSError (here FileExistsError from mkdir) is a user error, as FileNotFoundError was."""
    taken = tmp_path / "labels.csv"
    taken.write_text("bank,account\n")
    assert main(["simulate", "--out", str(taken), *SMALL_WORLD]) == 2
    assert "exists" in _one_line_error(capsys)


def test_replay_out_onto_a_directory_is_refused_before_replaying(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Checked first: the model here does not even exist, so nothing was loaded or replayed."""
    assert main(["replay", "--data", str(tmp_path), "--model", str(tmp_path / "no-model"),
                 "--out", str(tmp_path)]) == 2
    assert "--out" in (err := _one_line_error(capsys)) and "is a directory" in err


def test_train_out_onto_a_foreign_directory_is_refused_before_training(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The rule of ``models.registry.save`` (which would refuse it only after training), up front:
    the labels file here does not exist, so reaching it would be another error."""
    out = tmp_path / "notes"
    out.mkdir()
    (out / "todo.txt").write_text("keep me\n")
    data = tmp_path / "data"
    data.mkdir()
    assert main(["train", "--data", str(data), "--labels", str(data / "labels.csv"), "--out", str(out)]) == 2
    assert "not a model directory" in _one_line_error(capsys)
    assert (out / "todo.txt").read_text() == "keep me\n"


def test_train_data_that_is_a_file_is_named_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "events.jsonl"
    data.write_text("{}\n")
    (tmp_path / "labels.csv").write_text("bank,account,is_mule,mule_since,kind\n")
    assert main(["train", "--data", str(data), "--labels", str(tmp_path / "labels.csv"),
                 "--out", str(tmp_path / "model")]) == 2
    err = _one_line_error(capsys)
    assert "is not a directory" in err and "does not exist" not in err


def test_simulate_counts_only_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Labels, endpoints and cases are not events: the count is the topic files' lines."""
    out = tmp_path / "world"
    assert main(["simulate", "--out", str(out), *SMALL_WORLD]) == 0
    said = re.search(r"wrote ([\d,]+) events", capsys.readouterr().out)
    assert said is not None
    lines = sum(len((out / f"{t.name}.jsonl").read_text().splitlines()) for t in INPUT_TOPICS)
    assert int(said.group(1).replace(",", "")) == lines


def test_worker_web_port_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--web-port`` overrides ``MULEGUARD_WEB_PORT``, and only when given (as ``--web-host`` does)."""
    import models.registry
    import topologies.worker

    ports: list[int] = []
    monkeypatch.setattr(topologies.worker, "run_worker", lambda settings, loglevel: ports.append(settings.web_port))
    monkeypatch.setattr(models.registry, "read_meta", lambda _path: None)
    monkeypatch.setattr(models.registry, "check_compatible", lambda _meta: None)
    monkeypatch.setattr(cli, "_check_partitions", lambda _broker: None)  # no broker to ask
    monkeypatch.setenv("MULEGUARD_WEB_PORT", "7123")
    assert main(["worker", "--broker", "kafka://127.0.0.1:1"]) == 0
    assert main(["worker", "--broker", "kafka://127.0.0.1:1", "--web-port", "7000"]) == 0
    monkeypatch.delenv("MULEGUARD_WEB_PORT")
    assert main(["worker", "--broker", "kafka://127.0.0.1:1"]) == 0
    assert ports == [7123, 7000, 6066]
