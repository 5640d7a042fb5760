"""The hold lifecycle's wire contracts: schemas, dataclasses and codecs agree; bad input is a Rejection."""

from __future__ import annotations

import dataclasses
import json

import jsonschema
import pytest
from factories import NOW_MS, T0_MS

from features import holds
from streams import codec
from streams.contracts import AuditRecord, HoldAck, HoldAppeal, Rejection
from streams.schemas_path import schema_for

RENAMES = {"ts": "ts_ms", "held_amount": "held_amount_satang"}


@pytest.mark.parametrize(("topic", "cls"), [("freeze.acks.v1", HoldAck), ("hold.appeals.v1", HoldAppeal),
                                            ("muleguard.audit.v1", AuditRecord)])
def test_dataclass_and_schema_name_the_same_fields(topic: str, cls: type) -> None:
    assert {RENAMES.get(n, n) for n in schema_for(topic)["properties"]} == {f.name for f in dataclasses.fields(cls)}


def ack(**overrides: object) -> bytes:
    msg = {"request_id": "a" * 32, "ts": T0_MS, "bank": "SCB", "account": "9", "status": "held",
           "held_amount": "70000.00"}
    msg.update(overrides)
    return json.dumps({k: v for k, v in msg.items() if v is not None}).encode()


def test_valid_ack_and_appeal_follow_the_schema_and_decode() -> None:
    jsonschema.validate(json.loads(ack()), schema_for("freeze.acks.v1"))
    assert codec.decode_ack(ack(), NOW_MS) == HoldAck("a" * 32, T0_MS, "SCB", "9", "held", 7_000_000, None)
    appeal = {"appeal_id": "ap-1", "ts": T0_MS, "bank": "KTB", "account": "1", "request_id": "b" * 32,
              "outcome": "police_extension", "decided_by": "police", "police_complaint_ref": "POL-1"}
    jsonschema.validate(appeal, schema_for("hold.appeals.v1"))
    assert codec.decode_appeal(json.dumps(appeal).encode(), NOW_MS).police_complaint_ref == "POL-1"


@pytest.mark.parametrize(("raw", "reason"), [
    (ack(held_amount=None), "missing_field"),
    (ack(status="rejected"), "wrong_type"),  # an amount with a rejection
    (ack(status="maybe"), "unknown_status"),
    (ack(request_id="not-hex"), "bad_request_id"),
    (ack(held_amount="-5"), "non_positive_amount"),
    (b"[1, 2]", "not_an_object"),
])
def test_bad_acks_are_rejections_never_exceptions(raw: bytes, reason: str) -> None:
    result = codec.decode_ack(raw)
    assert isinstance(result, Rejection) and result.reason == reason


def test_appeal_extension_by_anyone_but_police_is_refused() -> None:
    appeal = {"appeal_id": "ap-1", "ts": T0_MS, "bank": "KTB", "account": "1", "request_id": "b" * 32,
              "outcome": "police_extension", "decided_by": "owner", "police_complaint_ref": "X"}
    assert codec.decode_appeal(json.dumps(appeal).encode()).reason == "not_police"  # type: ignore[union-attr]


def test_refund_proposal_and_audit_encode_to_their_schemas_and_back() -> None:
    from features.signals import HoldAcked, Taint
    from features.state import AccountState
    from features.trace import on_taint
    from models import policy

    state = AccountState()
    _, hit = on_taint(state, "SCB:m1", Taint(T0_MS, T0_MS, "c1", 1, 1_000_00, "t1", "KBANK:v", T0_MS, T0_MS,
                                             False, 1_000_00, ""))
    fx = policy.act(state, policy.decide_on_trace(hit), T0_MS)
    rid = fx.requests[0][0].request_id
    jsonschema.validate(json.loads(codec.encode_freeze_request(fx.requests[0][0])), schema_for("freeze.requests.v1"))
    fx2 = holds.on_ack(state, "SCB:m1", HoldAcked(T0_MS, T0_MS, rid, "held", 900_00, None), T0_MS)
    [proposal] = fx2.proposals
    encoded = codec.encode_refund_proposal(proposal)
    jsonschema.validate(json.loads(encoded), schema_for("refund.proposals.v1"))
    assert codec.decode_refund_proposal(encoded) == proposal
    assert fx.audits, "a hold is audited"
    for record in fx.audits:
        encoded = codec.encode_audit(record)
        jsonschema.validate(json.loads(encoded), schema_for("muleguard.audit.v1"))
        assert codec.decode_audit(encoded) == record
    expiry = holds.on_expiry(state, "SCB:m1", T0_MS + 10 * 86_400_000, T0_MS)
    jsonschema.validate(json.loads(codec.encode_freeze_request(expiry.requests[0][0])),
                        schema_for("freeze.requests.v1"))


def test_a_withdrawn_refund_proposal_follows_the_schema() -> None:
    """Held money released on appeal: the superseding proposal (nothing held, every share 0) is valid."""
    from features.signals import HoldAcked, HoldAppealed, Taint
    from features.state import AccountState
    from features.trace import on_taint
    from models import policy

    state = AccountState()
    _, hit = on_taint(state, "SCB:m1", Taint(T0_MS, T0_MS, "c1", 1, 1_000_00, "t1", "KBANK:v", T0_MS, T0_MS,
                                             False, 1_000_00, ""))
    rid = policy.act(state, policy.decide_on_trace(hit), T0_MS).requests[0][0].request_id
    holds.on_ack(state, "SCB:m1", HoldAcked(T0_MS, T0_MS, rid, "held", 900_00, None), T0_MS)
    fx = holds.on_appeal(state, "SCB:m1", HoldAppealed(T0_MS, T0_MS, "ap-1", rid, "approved", "aoc", None), T0_MS)
    [withdrawn] = fx.proposals
    encoded = codec.encode_refund_proposal(withdrawn)
    jsonschema.validate(json.loads(encoded), schema_for("refund.proposals.v1"))
    assert codec.decode_refund_proposal(encoded) == withdrawn
