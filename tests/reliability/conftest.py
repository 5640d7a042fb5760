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

from reliability_helpers import Scenario, Workers, build_scenario, dump_topics  # noqa: E402

from topologies.broker import EmbeddedBroker  # noqa: E402


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


CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    """Remember whether a test's body failed, for its fixtures' teardown."""
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture
def fault_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of this test's own: freeze requests and group offsets start empty. When the
    test fails, every topic is written to ``tmp_path/topics`` before the broker (and with it
    all the data) goes; the workers' logs are beside it."""
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as running:
        yield running
        if request.node.stash.get(CALL_FAILED, False):
            try:
                dump_topics(running.bootstrap, tmp_path / "topics")
                print(f"topics of the failed run: {tmp_path / 'topics'}")
            except Exception as exc:  # noqa: BLE001 - evidence is best effort, the failure is the news
                print(f"could not dump the topics: {exc!r}")


@pytest.fixture
def workers(fault_broker: EmbeddedBroker, model_dir: Path, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(fault_broker, model_dir, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()
