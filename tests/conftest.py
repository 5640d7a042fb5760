"""Shared fixtures: seeded randomness, a real broker, a small simulated world, a trained model."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20261122)


@pytest.fixture(scope="session")
def broker():
    """A real Tansu broker process on a free loopback port, with the project's topics."""
    from topologies.broker import EmbeddedBroker

    with EmbeddedBroker() as running:
        yield running


def _simulate(out: Path, accounts: int, days: float, seed: int, live: bool = False) -> Path:
    """A world on the simulator's fixed dates (read back from files, no clock), or, ``live``,
    dated for streaming into a worker whose clock judges event times (``kafka_helpers``)."""
    from streams.simulator import sink
    from streams.simulator.calibration import WorldConfig, live_start_ms
    from streams.simulator.world import World

    start = {"start_ts_ms": live_start_ms(days)} if live else {}
    sink.write_dir(World(WorldConfig(accounts=accounts, days=days, seed=seed, **start)), out)
    return out


@pytest.fixture(scope="session")
def train_world(tmp_path_factory) -> Path:
    """A small simulated world with ground truth, for training."""
    return _simulate(tmp_path_factory.mktemp("train-world"), accounts=6_000, days=3.0, seed=11)


@pytest.fixture(scope="session")
def stream_world(tmp_path_factory) -> Path:
    """Another world (other seed) the model never saw: streamed live and replayed offline."""
    return _simulate(tmp_path_factory.mktemp("stream-world"), accounts=2_500, days=1.0, seed=12)


@pytest.fixture(scope="session")
def parity_world(tmp_path_factory) -> Path:
    """A tiny dense world (about 10 scam cases in 8 hours) for event-by-event live/offline parity."""
    return _simulate(tmp_path_factory.mktemp("parity-world"), accounts=500, days=0.35, seed=13, live=True)


@pytest.fixture(scope="session")
def model_dir(train_world: Path, tmp_path_factory) -> Path:
    from models.pipeline import train_from_dir

    out = tmp_path_factory.mktemp("model")
    train_from_dir(train_world, train_world / "labels.csv", out, now_ms=1_795_000_000_000)
    return out
