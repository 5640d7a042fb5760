"""Promote, shadow and roll back against a RUNNING worker on a real broker, no restart.

One worker process; the registry CLI sends control messages; the worker's /metrics and the
freeze requests it emits must follow each switch, and a mismatched model must be refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka_helpers import RunningWorker, consume_all, decoded, produce, read_to_end, settle
from model_helpers import model_variant

from features.replay import raw_records
from models import registry
from models.versions import Change
from streams.simulator import sink
from streams.simulator.calibration import WorldConfig, live_start_ms
from streams.simulator.world import World
from streams.topics import FREEZE_REQUESTS, TRANSFERS, VICTIM_REPORTS
from topologies import control
from topologies.broker import EmbeddedBroker, free_port
from topologies.cli import main
from topologies.worker import spawn_worker, stop_process, wait_ready

pytestmark = pytest.mark.integration


def _key(topic: str, line: bytes) -> bytes:
    obj = json.loads(line)
    if topic == TRANSFERS.name:
        return f"{obj['src_bank']}:{obj['src_account']}".encode()
    return str(obj.get("msisdn_a") or f"{obj.get('bank')}:{obj.get('account')}").encode()


def _messages(world: Path) -> list[tuple[str, bytes, bytes]]:
    """The world without its victim reports: traced holds would come first on nearly every
    mule (an account already held is not held again by the model), and this test is about
    the model's holds."""
    return [(topic, _key(topic, line), line) for topic, line in raw_records(world) if topic != VICTIM_REPORTS.name]



def _wait(what: str, condition, worker: RunningWorker, timeout_s: float = 90.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert worker.alive(), f"worker died while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _model_info(worker: RunningWorker, version: str) -> bool:
    return worker.metric("muleguard_model_info", version=version) == 1.0


@pytest.fixture(scope="module")
def setup(model_dir: Path, tmp_path_factory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("rollout")
    first = registry.read_meta(model_dir).version
    second = model_variant(model_dir, work / "second", "m-second")
    # The same booster with a hold threshold no probability reaches: a challenger judged by its
    # own thresholds never holds, one judged by the champion's would agree with it.
    strict = model_variant(model_dir, work / "strict", "m-strict", hold_threshold=1.01)
    worlds = []
    for seed in (31, 32):  # two small worlds with disjoint accounts: one before, one after rollback
        worlds.append(work / f"world{seed}")
        config = WorldConfig(accounts=1_200, days=1.0, seed=seed, start_ts_ms=live_start_ms(1.0))
        sink.write_dir(World(config), worlds[-1])
    with EmbeddedBroker(log_path=work / "broker.log") as broker:
        port = free_port()
        process = spawn_worker(broker.url, model_dir, work / "state", port, work / "worker.log")
        try:
            wait_ready(port, 120, process)
            yield {"broker": broker, "worker": RunningWorker(process, port, work / "worker.log"),
                   "registry": work / "registry", "first": first, "second": second, "strict": strict,
                   "worlds": worlds,
                   "work": work, "model_dir": model_dir}
        finally:
            stop_process(process)


def _audit(bootstrap: str) -> list[dict]:
    spec = control._audit_spec()
    return [json.loads(value) for _, value in read_to_end(bootstrap, spec.name, spec.partitions) if value]


def test_promote_shadow_refuse_and_rollback_on_a_running_worker(setup: dict) -> None:
    broker, worker, root = setup["broker"], setup["worker"], str(setup["registry"])
    first, inputs = setup["first"], 0
    assert _model_info(worker, first)
    # Registry only (no broker): the worker is not told and keeps its model.
    assert main(["models", "promote", str(setup["model_dir"]), "--registry", root]) == 0
    # Promote through the broker: the worker switches without a restart.
    assert main(["models", "promote", str(setup["second"]), "--registry", root, "--broker", broker.url]) == 0
    _wait("the promoted model", lambda: _model_info(worker, "m-second"), worker)
    # A challenger runs in shadow: scored and counted, never emitted.
    assert main(["models", "shadow", str(setup["strict"]), "--registry", root, "--broker", broker.url]) == 0
    _wait("the shadow", lambda: worker.metric("muleguard_model_switches_total", action="shadow") >= 1, worker)

    world = _messages(setup["worlds"][0])
    produce(broker.bootstrap, world)
    inputs += len(world)
    settle(worker, inputs)
    requests = decoded(consume_all(broker.bootstrap, FREEZE_REQUESTS.name))
    model_holds = [r for r in requests if r["reason"] == "model"]
    assert model_holds, "the world should give the model something to hold"
    assert {r["model_version"] for r in model_holds} == {"m-second"}
    assert worker.metric("muleguard_scores_count", model_version="m-second") > 0
    shadowed = worker.metric("muleguard_shadow_decisions_total", model_version="m-strict")
    assert shadowed > 0
    agreement = {o: worker.metric("muleguard_shadow_agreement_total", outcome=o)
                 for o in ("both_hold", "champion_only", "challenger_only", "neither")}
    assert sum(agreement.values()) == shadowed
    # The challenger decides with its own threshold: it holds nothing the champion held.
    assert agreement["champion_only"] >= 1 and agreement["both_hold"] == agreement["challenger_only"] == 0

    # A model for another feature engine is refused; the worker keeps scoring with the current one.
    bad = model_variant(setup["second"], setup["work"] / "bad", "m-bad",
                   feature_names=list(reversed(registry.read_meta(setup["second"]).feature_names)))
    control.publish(broker.bootstrap, Change("promote", "m-bad", "m-second", bad))
    _wait("the refusal", lambda: worker.metric("muleguard_model_refused_total", reason="mismatch") >= 1, worker)
    assert _model_info(worker, "m-second") and not _model_info(worker, "m-bad")
    assert "trained on other features" in setup["worker"].log.read_text()

    # Roll back: the first model scores again, and new freeze requests carry it.
    assert main(["models", "rollback", "--registry", root, "--broker", broker.url]) == 0
    _wait("the rollback", lambda: _model_info(worker, first), worker)
    before = {r["request_id"] for r in requests}
    held_before = worker.metric("muleguard_freeze_requests_total", action="hold", reason="model")
    world = _messages(setup["worlds"][1])
    produce(broker.bootstrap, world)
    inputs += len(world)
    settle(worker, inputs)
    _wait("a model hold on the second world",
          lambda: worker.metric("muleguard_freeze_requests_total", action="hold", reason="model") > held_before, worker)

    def _new_model_holds(values: list[bytes]) -> list[dict]:
        return [r for r in decoded(values) if r["request_id"] not in before and r["reason"] == "model"]

    later = _new_model_holds(consume_all(broker.bootstrap, FREEZE_REQUESTS.name,
                                         until=lambda values: bool(_new_model_holds(values[-1:]))))
    assert later, "the second world should give the model something to hold"
    assert {r["model_version"] for r in later} == {first}

    audit = _audit(broker.bootstrap)
    kinds = [(a["kind"], a["subject"]) for a in audit]
    assert ("model_promotion", "m-second") in kinds and ("model_rollback", first) in kinds
    for record in audit:
        assert set(record) == {"audit_id", "kind", "ts", "subject", "request_id", "details"}
        assert record["ts"].endswith("+07:00")


def test_a_restarted_worker_takes_only_the_rollout_outcome_into_use(setup: dict, tmp_path: Path) -> None:
    """After promote m-second, shadow m-strict, a refused promote and a rollback, a worker
    started with the rolled-back model (``--model`` m-second) and a backlog waiting never
    scores with m-second and never loads m-bad: it starts on the rollback's model."""
    broker, first = setup["broker"], setup["first"]
    stop_process(setup["worker"].process)  # the new worker gets every partition
    world = tmp_path / "world"
    sink.write_dir(World(WorldConfig(accounts=500, days=0.5, seed=33, start_ts_ms=live_start_ms(0.5))), world)
    backlog = _messages(world)
    produce(broker.bootstrap, backlog)
    port = free_port()
    process = spawn_worker(broker.url, setup["second"], tmp_path / "state", port, tmp_path / "worker.log")
    try:
        wait_ready(port, 120, process)
        worker = RunningWorker(process, port, tmp_path / "worker.log")
        assert _model_info(worker, first) and not _model_info(worker, "m-second")
        settle(worker, len(backlog))
        assert worker.metric("muleguard_scores_count", model_version=first) > 0
        assert worker.metric("muleguard_scores_count", model_version="m-second") == 0
        switches = {a: worker.metric("muleguard_model_switches_total", action=a)
                    for a in ("promote", "rollback", "shadow")}
        assert switches == {"promote": 0, "rollback": 1, "shadow": 1}
        assert worker.metric("muleguard_model_refused_total", reason="mismatch") == 0
        assert worker.metric("muleguard_shadow_decisions_total", model_version="m-strict") > 0
    finally:
        stop_process(process)
