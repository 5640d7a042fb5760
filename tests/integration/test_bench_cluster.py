"""`muleguard bench pipeline --broker`: the pipeline benchmark on a Kafka cluster kept for it.

The latency target of the throughput issue has to be measured on a real Kafka cluster
(docs/benchmarks.md, fifth round), so the benchmark must run on one: wipe what an earlier
run left there (a backlog would be consumed and timed, old changelogs restored), run the
workers under their own app id, and leave other teams' topics alone. The "cluster" here is
a broker process started on its own, as a cluster would be.
"""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka_helpers import read_to_end

from streams.topics import TRANSFERS
from topologies.bench_pipeline import BENCH_APP_PREFIX
from topologies.broker import EmbeddedBroker
from topologies.cli import main

pytestmark = pytest.mark.integration

STALE_CHANGELOG = f"{BENCH_APP_PREFIX}1-accounts-changelog"
OTHER_TEAMS_TOPIC = "payments.settlements.v1"


def _create(admin: AdminClient, *names: str) -> None:
    for future in admin.create_topics([NewTopic(n, num_partitions=1, replication_factor=1) for n in names]).values():
        future.result()


def _keys_on(bootstrap: str, topic: str) -> set[bytes | None]:
    return {key for key, _ in read_to_end(bootstrap, topic)}


def test_a_cluster_is_wiped_of_what_earlier_runs_left_and_every_figure_is_measured(model_dir, tmp_path):
    with EmbeddedBroker(log_path=tmp_path / "cluster.log") as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        _create(admin, STALE_CHANGELOG, OTHER_TEAMS_TOPIC)
        producer = Producer({"bootstrap.servers": cluster.bootstrap})
        producer.produce(TRANSFERS.name, b"{}", key=b"left-over-backlog")
        producer.flush(10)
        assert b"left-over-backlog" in _keys_on(cluster.bootstrap, TRANSFERS.name)

        report = tmp_path / "bench.json"
        assert main(["bench", "pipeline", "--broker", cluster.url, "--reset-topics",
                     "--capacity-workers", "", "--loads", "100", "--seconds", "5",
                     "--accounts", "500", "--model", str(model_dir), "--work-dir", str(tmp_path / "bench"),
                     "--report", str(report)]) == 0

        results = json.loads(report.read_text())
        assert results["broker"] == cluster.url and results["capacity"] == []
        [load] = results["loads"]
        assert load["workers"] == 1 and load["events"] == 500 and load["sustained"]
        assert load["freeze_requests"] > 0 and load["latency_ms"]["p99"] > 0
        assert load["broker_cpu_cores"] is None  # another machine's process: not ours to read

        topics = set(admin.list_topics(timeout=10).topics)
        assert STALE_CHANGELOG not in topics  # an earlier run's state is never restored
        assert OTHER_TEAMS_TOPIC in topics
        assert any(t.startswith(BENCH_APP_PREFIX) for t in topics)  # this run's workers, own app id
        # The backlog was gone before the first measurement: only this run's events are there.
        assert b"left-over-backlog" not in _keys_on(cluster.bootstrap, TRANSFERS.name)


def test_a_broker_is_never_wiped_without_being_told_to(capsys):
    assert main(["bench", "pipeline", "--broker", "kafka://127.0.0.1:1"]) == 2
    assert "--reset-topics" in capsys.readouterr().err
