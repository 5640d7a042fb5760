"""Two workers; one stops in the middle of the stream and later returns: its partitions move
to the other worker and back, state follows through changelogs and standbys, and every
decision the uninterrupted run makes is made."""

from __future__ import annotations

import time

import pytest
from reliability_helpers import Producer, check_outcome, settle_group

from streams.topics import ACCOUNT_SIGNALS, TRANSFERS
from topologies.worker import stop_process

pytestmark = pytest.mark.integration
GROUP = "muleguard"


def test_worker_leaves_and_returns(fault_broker, workers, scenario, expected) -> None:
    bootstrap = fault_broker.bootstrap
    first, second = workers.start("w1"), workers.start("w2")
    both = [first, second]

    def alive() -> bool:
        return all(w.alive() for w in both)

    producer = Producer(bootstrap)
    producer.send(scenario.registry)
    settle_group(bootstrap, GROUP, dict(producer.ends), alive=alive)

    sending = producer.send_in_background(scenario.transfers, rate=400)
    deadline = time.monotonic() + 120
    while sum(w.metric("muleguard_events_consumed_total", topic=TRANSFERS.name) for w in both) < \
            len(scenario.transfers) * 0.3:
        assert time.monotonic() < deadline and alive(), "no progress before the stop"
        time.sleep(0.05)
    stop_process(second.process)  # SIGTERM: leaves the group; the first takes every partition
    both = [first]
    sending.join(120)
    settle_group(bootstrap, GROUP, dict(producer.ends), alive=alive)
    rebalances_alone = first.metric("muleguard_rebalances_total")

    second = workers.start("w2")  # the same state directory comes back
    both = [first, second]
    for phase in (scenario.forwards, scenario.reports):
        producer.send(phase)
        settle_group(bootstrap, GROUP, dict(producer.ends), alive=alive)

    assert first.metric("muleguard_rebalances_total") > rebalances_alone, "the return should move partitions"
    assert second.metric("muleguard_events_consumed_total", topic=ACCOUNT_SIGNALS.name) > 0, (
        "the returning worker should own account partitions again")
    check_outcome(bootstrap, GROUP, expected)
