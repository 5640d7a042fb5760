"""SIGKILL a worker in the middle of a stream and restart it: no decision is lost, copies of a
decision are the same decision, and the recovered state is the uninterrupted run's state."""

from __future__ import annotations

import os
import signal
import time

import pytest
from reliability_helpers import (
    Producer,
    check_outcome,
    committed,
    settle_group,
)

from streams.topics import TRANSFERS

pytestmark = pytest.mark.integration
GROUP = "muleguard"


def test_sigkill_mid_stream_then_restart(fault_broker, workers, scenario, expected) -> None:
    bootstrap = fault_broker.bootstrap
    # Faust's default commit interval: a kill always finds processed but uncommitted input.
    worker = workers.start("w1", extra_env={"MULEGUARD_COMMIT_INTERVAL_S": "2.8"})
    producer = Producer(bootstrap)
    producer.send(scenario.registry)
    settle_group(bootstrap, GROUP, dict(producer.ends), alive=worker.alive)

    total = len(scenario.transfers)
    sending = producer.send_in_background(scenario.transfers, rate=400)
    deadline = time.monotonic() + 120
    while worker.metric("muleguard_events_consumed_total", topic=TRANSFERS.name) < total * 0.4:
        assert time.monotonic() < deadline and worker.alive(), "worker made no progress before the kill"
        time.sleep(0.05)
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.wait(10)
    sending.join(120)
    ends = dict(producer.ends)
    at_kill = committed(bootstrap, GROUP, [tp for tp in ends if tp[0] == TRANSFERS.name])
    unfinished = sum(end - max(at_kill.get(tp) or 0, 0) for tp, end in ends.items() if tp[0] == TRANSFERS.name)
    assert unfinished > 0, "the kill should leave transfers unprocessed"

    worker = workers.start("w1")  # same state directory: a restart, not a new worker
    settle_group(bootstrap, GROUP, dict(producer.ends), alive=worker.alive)
    for phase in (scenario.forwards, scenario.reports):
        producer.send(phase)
        settle_group(bootstrap, GROUP, dict(producer.ends), alive=worker.alive)

    check_outcome(bootstrap, GROUP, expected)
