"""Kafka security settings: parsed and checked once (``KafkaSecurity``), handed to every client,
and exercised against a real Tansu broker that requires SASL/SCRAM.

What the embedded broker (Tansu 0.6.0, memory storage) can and cannot show, from its source:
with ``--authentication`` it requires SASL and verifies SCRAM-SHA-256/512 against users in
its storage, but users can only be created through the Kafka API by an authenticated client,
so a memory-only broker never has a user: a login can be exercised up to the broker's SCRAM
verdict (``unknown-user``), never to success. TLS (``--cert/--key``) is parsed but not served.
So these tests prove that each client speaks SCRAM with the configured credentials, and the
TLS settings are checked by building real TLS contexts from real certificate files.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from topologies.broker import EmbeddedBroker, free_port
from topologies.sender import ConfluentSender
from topologies.settings import KafkaSecurity, WorkerSettings
from topologies.worker import spawn_worker, stop_process

SCRAM_ENV = {
    "MULEGUARD_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "MULEGUARD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "MULEGUARD_KAFKA_SASL_USERNAME": "muleguard-worker",
    "MULEGUARD_KAFKA_SASL_PASSWORD": "s3cret-not-logged",
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, str]:
    """A CA, and a client certificate and key it signed (openssl, as an operator would)."""
    d = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=muleguard-test-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
            "-subj", "/CN=muleguard-worker")
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.pem", "-days", "2")
    return {name: str(d / f"{name}") for name in ("ca.pem", "client.pem", "client.key")}


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    security = KafkaSecurity.from_env({})
    assert not security.enabled and security.faust_credentials() is None
    assert security.librdkafka() == {"security.protocol": "PLAINTEXT"}
    assert "broker_credentials" not in WorkerSettings.from_env(broker="kafka://x:1", security=security).extra


def test_scram_settings_reach_faust_and_librdkafka_and_hide_the_password(tmp_path: Path) -> None:
    import faust
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    secret = tmp_path / "password"
    secret.write_text("from-a-mounted-secret\n")
    env = {**SCRAM_ENV, "MULEGUARD_KAFKA_SASL_PASSWORD": "", "MULEGUARD_KAFKA_SASL_PASSWORD_FILE": str(secret)}
    security = KafkaSecurity.from_env(env)
    assert security.librdkafka() == {
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "muleguard-worker", "sasl.password": "from-a-mounted-secret"}
    settings = WorkerSettings.from_env(broker="kafka://x:1", security=security)
    credentials = settings.extra["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    aiokafka = credentials_to_aiokafka_auth(credentials)
    assert aiokafka["security_protocol"] == "SASL_PLAINTEXT" and aiokafka["sasl_mechanism"] == "SCRAM-SHA-512"
    assert aiokafka["sasl_plain_username"] == "muleguard-worker"
    assert aiokafka["sasl_plain_password"] == "from-a-mounted-secret"
    assert "from-a-mounted-secret" not in repr(security) + repr(settings) + repr(credentials)


def test_mutual_tls_settings_build_a_verifying_context_with_the_client_certificate(pki: dict[str, str]) -> None:
    import faust

    security = KafkaSecurity.from_env({
        "MULEGUARD_KAFKA_SECURITY_PROTOCOL": "SSL", "MULEGUARD_KAFKA_SSL_CAFILE": pki["ca.pem"],
        "MULEGUARD_KAFKA_SSL_CERTFILE": pki["client.pem"], "MULEGUARD_KAFKA_SSL_KEYFILE": pki["client.key"]})
    assert security.librdkafka() == {
        "security.protocol": "SSL", "ssl.ca.location": pki["ca.pem"],
        "ssl.certificate.location": pki["client.pem"], "ssl.key.location": pki["client.key"]}
    context = security.ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "muleguard-test-ca"),),)]
    assert isinstance(security.faust_credentials(), faust.SSLCredentials)
    sasl_ssl = KafkaSecurity.from_env({**SCRAM_ENV, "MULEGUARD_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                                       "MULEGUARD_KAFKA_SSL_CAFILE": pki["ca.pem"]})
    assert sasl_ssl.faust_credentials().ssl_context is not None


@pytest.mark.parametrize(("env", "complaint"), [
    ({"MULEGUARD_KAFKA_SECURITY_PROTOCOL": "SASL_TLS"}, "SECURITY_PROTOCOL must be one of"),
    ({**SCRAM_ENV, "MULEGUARD_KAFKA_SASL_MECHANISM": "GSSAPI"}, "SASL_MECHANISM must be one of"),
    ({**SCRAM_ENV, "MULEGUARD_KAFKA_SASL_PASSWORD": ""}, "SASL_PASSWORD are required"),
    ({"MULEGUARD_KAFKA_SASL_USERNAME": "u"}, "ignores them"),
    ({"MULEGUARD_KAFKA_SSL_CAFILE": "/etc/hostname"}, "ignores them"),
    ({"MULEGUARD_KAFKA_SECURITY_PROTOCOL": "SSL", "MULEGUARD_KAFKA_SSL_CERTFILE": "/etc/hostname"}, "go together"),
    ({"MULEGUARD_KAFKA_SECURITY_PROTOCOL": "SSL", "MULEGUARD_KAFKA_SSL_CAFILE": "/nope.pem"}, "is not a file"),
])
def test_half_configured_security_is_refused_with_the_variable_to_fix(env: dict, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        KafkaSecurity.from_env(env)


@pytest.fixture(scope="module")
def auth_broker(tmp_path_factory):
    """Tansu requiring SASL authentication (no topics: creating them needs a login too)."""
    broker = EmbeddedBroker(log_path=tmp_path_factory.mktemp("auth") / "broker.log",
                            extra_args=("--authentication",))
    broker.start(create=False)
    try:
        yield broker
    finally:
        broker.stop()


def _errors_of(client_errors: list, until_s: float) -> list[str]:
    deadline = time.monotonic() + until_s
    while not client_errors and time.monotonic() < deadline:
        time.sleep(0.1)
    return [str(e) for e in client_errors]


@pytest.mark.integration
def test_the_sender_logs_in_with_scram_and_the_broker_judges_the_credentials(auth_broker) -> None:
    """The librdkafka sender runs the SCRAM exchange: the verdict comes from the broker's user store."""
    errors: list = []
    sender = ConfluentSender(auth_broker.url, extra={"error_cb": errors.append},
                             security=KafkaSecurity.from_env(SCRAM_ENV))
    try:
        sender.producer.produce("bank.transfers.v1", b"{}")
        seen = _errors_of(errors, 30)
    finally:
        sender._stop.set()
    assert any("SASL SCRAM authentication failed" in e and "unknown-user" in e for e in seen), seen


@pytest.mark.integration
def test_a_client_without_credentials_is_refused(auth_broker) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": auth_broker.bootstrap, "log_level": 0})
    with pytest.raises(Exception, match="transport|Transport"):
        admin.list_topics(timeout=5)


@pytest.mark.integration
def test_the_worker_hands_scram_credentials_to_faust(auth_broker, model_dir: Path, tmp_path: Path) -> None:
    """A worker started with MULEGUARD_KAFKA_* env runs aiokafka's SCRAM exchange with the broker.

    Its login is refused (no user can exist, see the module docstring) and it exits; aiokafka
    reports the broker's SCRAM error as ``KeyError('v')`` from ``authenticator_scram``.
    """
    log = tmp_path / "worker.log"
    process = spawn_worker(auth_broker.url, model_dir, tmp_path / "state", free_port(), log,
                           extra_env={**os.environ, **SCRAM_ENV})
    try:
        deadline = time.monotonic() + 90
        text = ""
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if process.poll() is not None:
                break
            time.sleep(0.5)
    finally:
        stop_process(process)
        text = log.read_text(errors="replace")
    assert process.returncode not in (None, 0), "a worker that cannot log in must not run"
    assert "_do_sasl_handshake" in text and "authenticator_scram" in text, text[-3000:]
    assert "s3cret-not-logged" not in text
