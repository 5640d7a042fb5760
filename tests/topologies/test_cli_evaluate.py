"""`muleguard evaluate --warm-up DAYS` holds out only what it may: never the model's own training
data, never a negative warm-up, never a period in which nothing is scored."""

from __future__ import annotations

from pathlib import Path

import pytest

from topologies.cli import main


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few hours of a small world the model never saw (evaluating it takes about a second)."""
    from streams.simulator import sink
    from streams.simulator.calibration import WorldConfig
    from streams.simulator.world import World

    out = tmp_path_factory.mktemp("small-world")
    sink.write_dir(World(WorldConfig(accounts=500, days=0.25, seed=31)), out)
    return out


def _evaluate(data: Path, model: Path, warm_up: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(["evaluate", "--data", str(data), "--model", str(model), "--warm-up", warm_up])
    err = capsys.readouterr().err
    assert rc == 0 or err.count("\n") == 1, err
    return rc, err


def test_warm_up_on_the_training_data_is_refused(model_dir: Path, train_world: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The model saw every event of ``train_world``: a warm-up holds none of them out."""
    rc, err = _evaluate(train_world, model_dir, "1", capsys)
    assert rc == 2 and "trained on all of" in err


def test_a_negative_warm_up_is_refused(model_dir: Path, small_world: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _evaluate(small_world, model_dir, "-1", capsys)
    assert rc == 2 and "--warm-up" in err


def test_a_held_out_period_past_the_data_is_refused(model_dir: Path, small_world: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Beyond the last event nothing is scored: a report of zeros and n/a would look like a result."""
    rc, err = _evaluate(small_world, model_dir, "30", capsys)
    assert rc == 2 and "held-out period is empty" in err
    assert _evaluate(small_world, model_dir, "0.05", capsys)[0] == 0  # a warm-up inside the data is fine
