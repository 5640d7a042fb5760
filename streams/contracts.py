"""Wire contracts: one frozen, slotted dataclass per topic.

Money is integer satang, time is UTC epoch milliseconds. Phone numbers, national IDs and
IMEIs only ever appear here pseudonymised (see ``streams.privacy``): the codec hashes them
on the way in, so nothing downstream can store or emit a raw identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

BANKS: frozenset[str] = frozenset({
    "BBL", "KBANK", "KTB", "SCB", "BAY", "TTB", "GSB", "BAAC", "GHB",
    "UOBT", "CIMBT", "KKP", "LHB", "TISCO", "ICBCT",
})
CHANNELS: frozenset[str] = frozenset({"mobile", "internet", "promptpay", "atm", "counter", "other"})
TELECOM_KINDS: frozenset[str] = frozenset({"call", "sms", "sim_swap", "sim_register", "scam_report"})
REPORT_CHANNELS: frozenset[str] = frozenset({"hotline_1441", "online", "bank"})

Action = Literal["hold", "release", "extend"]
Reason = Literal["model", "trace", "ring"]


def account_key(bank: str, account: str) -> str:
    """The one spelling of an account as a Kafka key and a table key.

    Examples:
        >>> account_key("KBANK", "123-4-56789")
        'KBANK:123-4-56789'
    """
    return f"{bank}:{account}"


@dataclass(frozen=True, slots=True)
class Transfer:
    transfer_id: str
    ts_ms: int
    src_bank: str
    src_account: str
    dst_bank: str
    dst_account: str
    amount_satang: int
    channel: str
    src_device_id: str | None = None
    src_msisdn_hash: str | None = None

    @property
    def src_key(self) -> str:
        return account_key(self.src_bank, self.src_account)

    @property
    def dst_key(self) -> str:
        return account_key(self.dst_bank, self.dst_account)


@dataclass(frozen=True, slots=True)
class TelecomEvent:
    event_id: str
    ts_ms: int
    kind: str
    msisdn_a_hash: str
    msisdn_b_hash: str | None = None
    duration_s: int | None = None
    cell_id: str | None = None
    imei_hash: str | None = None


@dataclass(frozen=True, slots=True)
class RegistryLink:
    """An account's KYC record: when it was opened and who/what it is linked to."""

    bank: str
    account: str
    opened_ts_ms: int
    ts_ms: int
    msisdn_hash: str | None = None
    national_id_hash: str | None = None
    device_id: str | None = None

    @property
    def key(self) -> str:
        return account_key(self.bank, self.account)


@dataclass(frozen=True, slots=True)
class VictimReport:
    report_id: str
    ts_ms: int
    victim_bank: str
    victim_account: str
    transfer_ids: tuple[str, ...]
    channel: str
    police_complaint_ref: str | None = None


@dataclass(frozen=True, slots=True)
class FreezeRequest:
    request_id: str
    bank: str
    account: str
    action: Action
    amount_satang: int | None
    reason: Reason
    score: float | None
    model_version: str | None
    top_reasons: tuple[str, ...]
    case_id: str | None
    hop: int | None
    trigger_event_id: str
    event_ts_ms: int
    emitted_ts_ms: int
    legal_basis: str
    expires_ts_ms: int | None

    @property
    def key(self) -> str:
        return account_key(self.bank, self.account)


ACK_STATUSES: frozenset[str] = frozenset({"held", "rejected", "empty", "released", "refunded"})
APPEAL_OUTCOMES: frozenset[str] = frozenset({"filed", "approved", "denied", "police_extension"})
APPEAL_DECIDERS: frozenset[str] = frozenset({"owner", "bank", "aoc", "police"})
AUDIT_KINDS: frozenset[str] = frozenset({
    "hold", "release", "extend", "review", "appeal_outcome", "model_promotion", "model_rollback",
})


@dataclass(frozen=True, slots=True)
class HoldAck:
    """A bank's answer to one request: ``held`` (with the amount actually held, which may be
    less than requested), ``rejected`` (with a reason), ``empty`` (nothing left), ``released``,
    ``refunded`` (paid out to victims, naming the proposal paid)."""

    request_id: str
    ts_ms: int
    bank: str
    account: str
    status: str
    held_amount_satang: int | None = None
    reason: str | None = None
    proposal_id: str | None = None  # with ``refunded``: the refund proposal the bank paid out

    @property
    def key(self) -> str:
        return account_key(self.bank, self.account)


@dataclass(frozen=True, slots=True)
class HoldAppeal:
    """An owner's appeal against a hold and what became of it; police extend holds here too."""

    appeal_id: str
    ts_ms: int
    bank: str
    account: str
    request_id: str
    outcome: str
    decided_by: str
    police_complaint_ref: str | None = None
    note: str | None = None

    @property
    def key(self) -> str:
        return account_key(self.bank, self.account)


@dataclass(frozen=True, slots=True)
class RefundShare:
    case_id: str
    traced_satang: int
    amount_satang: int


@dataclass(frozen=True, slots=True)
class RefundProposal:
    """Money held at one account divided among the cases whose traced money reached it."""

    proposal_id: str
    ts_ms: int
    bank: str
    account: str
    held_satang: int
    method: str
    shares: tuple[RefundShare, ...]

    @property
    def key(self) -> str:
        return account_key(self.bank, self.account)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One decision, with enough in ``details`` to reproduce it."""

    audit_id: str
    kind: str
    ts_ms: int
    subject: str
    request_id: str | None
    details: dict


@dataclass(frozen=True, slots=True)
class FeatureLogRecord:
    """What the model saw for one scored event: the vector, in ``feature_names`` order.

    Opt-in on the worker; lets a data scientist compare serving with training (skew) and
    lets the parity test compare live vectors with the offline replay's.
    """

    account: str  # BANK:ACCOUNT
    transfer_id: str
    direction: Literal["in", "out"]
    ts_ms: int
    engine_version: str
    model_version: str
    score: float | None  # None: the account was already held, so it was not scored
    features: dict[str, float | None]  # None: missing (NaN in the vector)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source_topic: str
    partition: int | None
    offset: int | None
    reason: str
    detail: str
    raw: str
    raw_encoding: Literal["utf-8", "base64"]
    rejected_ts_ms: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message could not be decoded; ``reason`` is a short stable code used as a metric label."""

    reason: str
    detail: str
