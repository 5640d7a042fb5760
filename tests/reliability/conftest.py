"""Fault-test fixtures: a fresh broker per test, worker processes started and killed at will,
and the scenario's uninterrupted outcome computed offline."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from kafka_helpers import RunningWorker  # noqa: E402
from reliability_helpers import Scenario, build_scenario  # noqa: E402

from topologies.broker import EmbeddedBroker, free_port  # noqa: E402
from topologies.worker import spawn_worker, stop_process, wait_ready  # noqa: E402


@dataclass
class Expected:
    requests: dict[str, dict]  # request_id -> freeze.requests.v1 object
    accounts: dict  # account key -> AccountState


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    # Event times relative to now: the worker checks them against its clock.
    return build_scenario(seed=9, now_ms=int(time.time() * 1000))


@pytest.fixture(scope="session")
def expected(scenario: Scenario, model_dir: Path, tmp_path_factory) -> Expected:
    """The uninterrupted run: the offline twin of the worker over the same records."""
    from models.replay import replay_decisions
    from models.scorer import Scorer
    from streams.codec import freeze_request_to_json

    data = scenario.write_dir(tmp_path_factory.mktemp("scenario"))
    log, replayer = replay_decisions(data, Scorer(model_dir).load())
    requests = {r.request_id: freeze_request_to_json(r) for r in log.holds}
    assert len({r["case_id"] for r in requests.values() if r["case_id"]}) >= 20, "the scenario should trace most cases"
    return Expected(requests, replayer.accounts)


@pytest.fixture
def fault_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of this test's own: freeze requests and group offsets start empty."""
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as running:
        yield running


class Workers:
    """Starts `muleguard worker` processes; stops whatever is still running at the end."""

    def __init__(self, broker: EmbeddedBroker, model_dir: Path, root: Path) -> None:
        self.broker, self.model_dir, self.root = broker, model_dir, root
        self.running: list[RunningWorker] = []

    def start(self, name: str, app_id: str = "muleguard", ready_s: float = 120.0,
              extra_env: dict[str, str] | None = None) -> RunningWorker:
        """``name`` fixes the state directory: starting the same name again is a restart."""
        port = free_port()
        log = self.root / f"{name}.log"
        (self.root / name).mkdir(parents=True, exist_ok=True)
        process = spawn_worker(self.broker.url, self.model_dir, self.root / name / "state", port, log,
                               app_id=app_id, extra_env=extra_env)
        worker = RunningWorker(process, port, log)
        self.running.append(worker)
        try:
            wait_ready(port, ready_s, process)
        except (RuntimeError, TimeoutError) as exc:
            tail = log.read_bytes()[-3000:].decode(errors="replace")
            raise AssertionError(f"worker {name} did not start: {exc}\n{tail}") from None
        return worker

    def stop_all(self) -> None:
        for worker in self.running:
            stop_process(worker.process)


@pytest.fixture
def workers(fault_broker: EmbeddedBroker, model_dir: Path, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(fault_broker, model_dir, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()
