"""The broker becomes unreachable for 30 seconds (Tansu frozen with SIGSTOP: its storage is
memory-only, so it must not be restarted): the worker keeps running, retries, and resumes by
itself; nothing produced before or during the outage is lost."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from reliability_helpers import Producer, check_outcome, settle_group

pytestmark = pytest.mark.integration
GROUP = "muleguard"
OUTAGE_S = 30.0


def test_broker_unreachable_for_30_seconds(fault_broker, workers, scenario, expected) -> None:
    bootstrap = fault_broker.bootstrap
    worker = workers.start("w1")
    producer = Producer(bootstrap, **{"message.timeout.ms": 300_000})
    producer.send(scenario.registry)
    settle_group(bootstrap, GROUP, dict(producer.ends), alive=worker.alive)
    half = len(scenario.transfers) // 2
    before, during = scenario.transfers[:half], scenario.transfers[half:]
    producer.send(before)  # acknowledged before the outage: must not be lost

    fault_broker.pause()
    try:
        sending = producer.send_in_background(during, rate=400)  # buffered by the client, sent later
        frozen_at = time.monotonic()
        while time.monotonic() - frozen_at < OUTAGE_S:
            assert worker.alive(), "the worker died while the broker was unreachable"
            with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/healthz", timeout=5) as resp:
                assert json.loads(resp.read())["status"] == "ok"
            time.sleep(1.0)
    finally:
        fault_broker.resume()
    sending.join(180)

    settle_group(bootstrap, GROUP, dict(producer.ends), timeout_s=300, alive=worker.alive)
    for phase in (scenario.forwards, scenario.reports):
        producer.send(phase)
        settle_group(bootstrap, GROUP, dict(producer.ends), alive=worker.alive)
    assert worker.alive(), "recovery must not need a restart"  # the same process throughout
    check_outcome(bootstrap, GROUP, expected)
