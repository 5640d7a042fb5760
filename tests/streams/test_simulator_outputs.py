"""The simulator's outputs: data directory, Kafka producer, calibration report."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from streams.simulator import (
    World,
    WorldConfig,
    calibration_report,
    sink,
    stream_to_kafka,
    write_dir,
)
from streams.topics import INPUT_TOPICS

RULES = ("pass-through", "fan-in", "new account", "shared device")


@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(accounts=2_000, days=1.0, seed=5, scam_cases_per_day=30.0))


def test_write_dir_layout(world: World, tmp_path: Path) -> None:
    counts = write_dir(world, tmp_path)
    events = list(world.events())
    for spec in INPUT_TOPICS:
        lines = (tmp_path / f"{spec.name}.jsonl").read_text().splitlines()
        expected = [e.value for e in events if e.topic == spec.name]
        assert [json.loads(line) for line in lines] == expected
        assert counts[f"{spec.name}.jsonl"] == len(expected)
        assert all(" " not in line for line in lines[:100])  # compact
    with (tmp_path / "labels.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["bank", "account", "is_mule", "mule_since", "kind"]
    assert len(rows) - 1 == world.config.accounts
    assert all((r[3] == "") == (r[2] == "0") for r in rows[1:])
    cases = [json.loads(line) for line in (tmp_path / "cases.jsonl").read_text().splitlines()]
    assert cases == world.cases()
    assert json.loads((tmp_path / "config.json").read_text())["seed"] == 5


def test_report_from_directory_equals_report_from_world(world: World, tmp_path: Path) -> None:
    write_dir(world, tmp_path)
    assert calibration_report(tmp_path) == calibration_report(world)


def test_single_rules_fire_on_honest_accounts() -> None:
    """Brief's hard negatives: every single mule rule catches a real share of legit accounts."""
    rows = calibration_report(World(WorldConfig(accounts=5_000, days=2.0, scam_cases_per_day=30.0)))
    by_metric = {r.metric: r for r in rows}
    assert len(rows) == len(by_metric)
    for rule in RULES:
        legit = next(
            r for m, r in by_metric.items() if m.startswith(f"rule {rule}") and "legit" in m
        )
        mules = next(
            r for m, r in by_metric.items() if m.startswith(f"rule {rule}") and "mules" in m
        )
        assert legit.realised > 0.005, legit
        assert mules.realised < 1.0, mules
    assert by_metric["calls per scam SIM per active day (median)"].realised > 100


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.flushed = False

    def produce(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self) -> int:
        self.flushed = True
        return 0


def test_stream_to_kafka_sends_every_event_in_order_with_keys(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(sink, "_make_producer", lambda bootstrap, config=None: recorder)
    progress: list[int] = []
    sent = stream_to_kafka(
        world, "127.0.0.1:1", rate=None, speedup=None, on_progress=progress.append
    )
    events = list(world.events())
    assert sent == len(events) == len(recorder.sent) and recorder.flushed
    assert progress and progress[-1] == sent
    got: list[Any] = [(t, k.decode(), json.loads(v)) for t, k, v in recorder.sent]
    assert got == [(e.topic, e.key, e.value) for e in events]


def test_stream_to_kafka_rejects_two_pacings(world: World) -> None:
    with pytest.raises(ValueError):
        stream_to_kafka(world, "127.0.0.1:1", rate=10.0, speedup=2.0)
