"""Integration fixtures: a broker per module, a real `muleguard worker` process, Kafka helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka_helpers import RunningWorker

from topologies.broker import EmbeddedBroker, free_port
from topologies.worker import spawn_worker, stop_process, wait_ready


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory) -> Iterator[EmbeddedBroker]:
    """A fresh broker per module: topics are shared by everything connected to one broker."""
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(log_path=log) as running:
        yield running


@pytest.fixture(scope="module")
def worker(module_broker: EmbeddedBroker, model_dir: Path, parity_world: Path, tmp_path_factory,
           ) -> Iterator[RunningWorker]:
    """A real worker, with the simulated world's allow-list of cash-out endpoints and merchants,
    logging every scored event's feature vector (the parity test compares them)."""
    work = tmp_path_factory.mktemp("worker")
    port = free_port()
    process = spawn_worker(module_broker.url, model_dir, work / "state", port, work / "worker.log",
                           endpoints=parity_world / "endpoints.csv", extra_env={"MULEGUARD_FEATURE_LOG": "1"})
    try:
        wait_ready(port, 90, process)
        yield RunningWorker(process, port, work / "worker.log")
    finally:
        stop_process(process)
