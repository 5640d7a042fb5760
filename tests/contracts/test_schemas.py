"""Each wire dataclass and its published JSON Schema describe the same fields, both ways."""

from __future__ import annotations

import dataclasses
import json

import jsonschema
import pytest
from factories import T0_MS, make_registry, make_report, make_telecom, make_transfer

from streams import codec
from streams.contracts import (
    AuditRecord,
    DeadLetter,
    FeatureLogRecord,
    FreezeRequest,
    HoldAck,
    HoldAppeal,
    RefundProposal,
    RegistryLink,
    TelecomEvent,
    Transfer,
    VictimReport,
)
from streams.schemas_path import schema_for
from streams.topics import ALL_TOPICS

# Wire name -> dataclass field, where decoding changes the name (units, pseudonymisation).
RENAMES = {
    "ts": "ts_ms", "amount": "amount_satang", "opened_ts": "opened_ts_ms", "src_msisdn": "src_msisdn_hash",
    "msisdn_a": "msisdn_a_hash", "msisdn_b": "msisdn_b_hash", "imei": "imei_hash", "msisdn": "msisdn_hash",
    "national_id": "national_id_hash", "event_ts": "event_ts_ms", "emitted_ts": "emitted_ts_ms",
    "expires_ts": "expires_ts_ms", "rejected_ts": "rejected_ts_ms",
}
# ... and where the same wire name decodes to different fields on different topics.
TOPIC_RENAMES = {"freeze.acks.v1": {"held_amount": "held_amount_satang"},
                 "refund.proposals.v1": {"held_amount": "held_satang"}}
CONTRACTS = {
    "bank.transfers.v1": Transfer, "telecom.events.v1": TelecomEvent, "registry.accounts.v1": RegistryLink,
    "victim.reports.v1": VictimReport, "freeze.requests.v1": FreezeRequest, "deadletter.v1": DeadLetter,
    "freeze.acks.v1": HoldAck, "hold.appeals.v1": HoldAppeal, "refund.proposals.v1": RefundProposal,
    "muleguard.audit.v1": AuditRecord, "muleguard.feature-log.v1": FeatureLogRecord,
}


@pytest.mark.parametrize("topic", sorted(CONTRACTS))
def test_dataclass_and_schema_name_the_same_fields(topic: str) -> None:
    renames = RENAMES | TOPIC_RENAMES.get(topic, {})
    wire = {renames.get(name, name) for name in schema_for(topic)["properties"]}
    fields = {f.name for f in dataclasses.fields(CONTRACTS[topic])}
    assert wire == fields


def test_every_topic_with_a_schema_file_has_one() -> None:
    for spec in ALL_TOPICS:
        if spec.schema:
            assert schema_for(spec.name)["title"] == spec.name


def test_encoded_freeze_request_has_exactly_the_schema_fields() -> None:
    request = FreezeRequest(
        request_id="0" * 32, bank="SCB", account="1", action="hold", amount_satang=12_345, reason="model",
        score=0.97, model_version="m1", top_reasons=("x",), case_id=None, hop=None,
        trigger_event_id="t1", event_ts_ms=T0_MS, emitted_ts_ms=T0_MS + 5, legal_basis="bank_suspicion_3d",
        expires_ts_ms=T0_MS + 3 * 86_400_000,
    )
    encoded = json.loads(codec.encode_freeze_request(request))
    jsonschema.validate(encoded, schema_for("freeze.requests.v1"))
    assert set(encoded) == set(schema_for("freeze.requests.v1")["properties"])
    assert "__faust" not in encoded
    assert encoded["amount"] == "123.45"
    assert codec.decode_freeze_request(codec.encode_freeze_request(request)) == request


INPUT_DECODERS = {"bank.transfers.v1": (codec.decode_transfer, make_transfer),
                  "telecom.events.v1": (codec.decode_telecom, make_telecom),
                  "registry.accounts.v1": (codec.decode_registry, make_registry),
                  "victim.reports.v1": (codec.decode_report, make_report)}


@pytest.mark.parametrize("topic", sorted(INPUT_DECODERS))
def test_an_optional_input_field_sent_as_null_is_valid_for_schema_and_decoder_alike(topic: str) -> None:
    """A producer validating with the published schema and the worker agree on ``null``."""
    decode, make = INPUT_DECODERS[topic]
    schema = schema_for(topic)
    example = make()
    optional = [name for name in schema["properties"] if name not in schema.get("required", ())]
    assert optional
    for name in optional:
        message = {**example, name: None}
        valid = jsonschema.Draft202012Validator(schema).is_valid(message)
        assert valid == (not isinstance(decode(json.dumps(message).encode()), codec.Rejection)), name
        assert valid or (topic, name) == ("telecom.events.v1", "msisdn_b")  # a call's callee is required
