"""A worker refuses topics with more partitions than its release: a keyed state's redelivery
memory tracks one source per partition the code knows (features.origin.MAX_SLOTS), so more
partitions in place would let a redelivered signal be applied twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from features.origin import ORIGIN_TOPICS
from streams.topics import ALL_TOPICS, BY_NAME, TRANSFERS
from topologies.broker import EmbeddedBroker, create_topics, partition_overflow
from topologies.cli import main

pytestmark = pytest.mark.integration
ORIGIN_SPECS = tuple(BY_NAME[name] for name in ORIGIN_TOPICS)


@pytest.fixture(scope="module")
def widened_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """Every topic as the code says, but the transfers topic altered to twice its partitions."""
    broker = EmbeddedBroker(log_path=tmp_path_factory.mktemp("broker") / "broker.log").start(create=False)
    try:
        wide = dataclasses.replace(TRANSFERS, partitions=2 * TRANSFERS.partitions)
        create_topics(broker.bootstrap, tuple(wide if s.name == TRANSFERS.name else s for s in ALL_TOPICS))
        yield broker
    finally:
        broker.stop()


def test_the_overflowing_topic_is_named(widened_broker: EmbeddedBroker) -> None:
    assert partition_overflow(widened_broker.bootstrap, ORIGIN_SPECS) == [
        f"{TRANSFERS.name} has {2 * TRANSFERS.partitions} partitions, this release {TRANSFERS.partitions}"]


def test_a_worker_refuses_to_start_on_them(widened_broker: EmbeddedBroker, model_dir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--broker", widened_broker.url, "--model", str(model_dir)]) == 2
    err = capsys.readouterr().err
    assert TRANSFERS.name in err and "More partitions" in err and err.count("\n") == 1


def test_topics_as_the_code_says_pass_and_an_absent_broker_does_not_block(module_broker: EmbeddedBroker) -> None:
    assert partition_overflow(module_broker.bootstrap, ORIGIN_SPECS) == []
    assert partition_overflow("127.0.0.1:1", ORIGIN_SPECS, timeout_s=1.0) is None
