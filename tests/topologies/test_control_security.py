"""Model switches reach a secured cluster: the control message is sent with the same
``MULEGUARD_KAFKA_*`` settings the workers read it with (docs/reliability.md)."""

from __future__ import annotations

import argparse
from typing import Any

import confluent_kafka
import confluent_kafka.admin
import pytest

from models.versions import Change
from topologies import broker, cli_models, control

SECURED = {
    "MULEGUARD_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "MULEGUARD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "MULEGUARD_KAFKA_SASL_USERNAME": "muleguard-ops",
    "MULEGUARD_KAFKA_SASL_PASSWORD": "s3cret",
}
EXPECTED = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "muleguard-ops", "sasl.password": "s3cret"}


class RecordingProducer:
    """Takes every message and reports it delivered, keeping the client configuration."""

    configs: list[dict[str, Any]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.configs.append(config)

    def produce(self, _topic: str, _value: bytes, key: bytes, on_delivery: Any) -> None:
        on_delivery(None, None)

    def flush(self, _timeout: float) -> int:
        return 0


class RecordingAdmin:
    configs: list[dict[str, Any]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.configs.append(config)

    def list_topics(self, timeout: float) -> object:
        return argparse.Namespace(topics={})


@pytest.fixture
def secured(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    for name, value in SECURED.items():
        monkeypatch.setenv(name, value)
    created: list[dict[str, str] | None] = []
    RecordingProducer.configs, RecordingAdmin.configs = [], []
    monkeypatch.setattr(confluent_kafka, "Producer", RecordingProducer)
    monkeypatch.setattr(confluent_kafka.admin, "AdminClient", RecordingAdmin)
    monkeypatch.setattr(broker, "create_topics", lambda _bootstrap, _specs, security=None: created.append(security))
    return {"producers": RecordingProducer.configs, "admins": RecordingAdmin.configs, "created": created}


def _has_security(config: dict[str, Any] | None) -> bool:
    return config is not None and all(config.get(k) == v for k, v in EXPECTED.items())


def test_a_promotion_is_published_with_the_clusters_credentials(secured: dict[str, list]) -> None:
    control.publish("kafka-1:9093", Change("promote", "m2", "m1", None))
    assert secured["created"] and all(map(_has_security, secured["created"]))
    assert secured["producers"] and all(map(_has_security, secured["producers"]))


def test_the_cli_looks_for_the_broker_with_the_clusters_credentials(secured: dict[str, list]) -> None:
    args = argparse.Namespace(broker="kafka://kafka-1:9093", registry=None)
    cli_models._announce(args, Change("rollback", "m1", "m2", None))
    assert secured["admins"] and all(map(_has_security, secured["admins"]))
    assert all(map(_has_security, secured["producers"]))
