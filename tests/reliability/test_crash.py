"""A worker stops in the middle of a stream (SIGKILL, or one of its agents fails) and is
restarted: no decision is lost, copies of a decision are the same decision, and the recovered
state is the uninterrupted run's state."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

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


FAULT_HOOK = Path(__file__).parent / "agent_fault"  # its sitecustomize fails the accounts agent once


def test_a_worker_stopped_mid_stream_twice_then_restarted(fault_broker, workers, scenario, expected,
                                                          tmp_path: Path) -> None:
    """First one of its agents fails: the worker must stop with exit code 1 and leave the
    failed list uncommitted (runtime.fail_fast), neither flushed and acked whole (the events
    after the failure would be lost) nor left to an agent restarted under a fresh commit
    order. Then it is SIGKILLed. Both times some input was processed but not committed."""
    bootstrap = fault_broker.bootstrap
    # Faust's default commit interval: a stop always finds processed but uncommitted input.
    env = {"MULEGUARD_COMMIT_INTERVAL_S": "2.8"}
    faulty = {"PYTHONPATH": os.pathsep.join([str(FAULT_HOOK), os.environ.get("PYTHONPATH", "")]),
              "MULEGUARD_FAULT_ARM_FILE": str(tmp_path / "arm-fault"),
              "MULEGUARD_FAULT_AFTER_ENCODINGS": str(len(scenario.transfers) // 5)}
    worker = workers.start("w1", extra_env=env | faulty)
    producer = Producer(bootstrap)
    producer.send(scenario.registry)
    settle_group(bootstrap, GROUP, dict(producer.ends), alive=worker.alive)
    half = len(scenario.transfers) // 2
    first, second = scenario.transfers[:half], scenario.transfers[half:]

    (tmp_path / "arm-fault").touch()  # the agent fails some way into the first half
    sending = producer.send_in_background(first, rate=400)
    assert worker.process.wait(120) == 1, "an agent failure must stop the worker with exit code 1"
    assert "Agent accounts failed (RuntimeError('injected fault" in worker.log.read_text(errors="replace")
    sending.join(120)
    backlog = _unfinished(bootstrap, producer)
    assert backlog > 0, "the failure should leave transfers unprocessed"

    worker = workers.start("w1", extra_env=env)  # same state directory: a restart, not a new worker
    sending = producer.send_in_background(second, rate=400)
    deadline = time.monotonic() + 120
    while worker.metric("muleguard_events_consumed_total", topic=TRANSFERS.name) < backlog + len(second) * 0.4:
        assert time.monotonic() < deadline and worker.alive(), "worker made no progress before the kill"
        time.sleep(0.05)
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.wait(10)
    sending.join(120)
    assert _unfinished(bootstrap, producer) > 0, "the kill should leave transfers unprocessed"

    worker = workers.start("w1")
    settle_group(bootstrap, GROUP, dict(producer.ends), alive=worker.alive)
    for phase in (scenario.forwards, scenario.reports):
        producer.send(phase)
        settle_group(bootstrap, GROUP, dict(producer.ends), alive=worker.alive)

    check_outcome(bootstrap, GROUP, expected)


def _unfinished(bootstrap: str, producer: Producer) -> int:
    """Transfers sent but not committed by the group."""
    ends = {tp: end for tp, end in producer.ends.items() if tp[0] == TRANSFERS.name}
    done = committed(bootstrap, GROUP, list(ends))
    return sum(end - max(done.get(tp) or 0, 0) for tp, end in ends.items())
