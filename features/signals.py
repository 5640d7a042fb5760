"""Internal signals: what one keyed state tells another, through a repartition topic.

Every change to an account's or identity's state arrives as one of these, keyed by the
state it changes, so each state has exactly one writer (the worker owning its partition).
Encoded as compact JSON arrays with a one-letter tag: cheap, debuggable with kcat.

Signals are plain slotted records, not frozen ones: a frozen dataclass's ``__init__`` goes
through ``object.__setattr__`` once per field (about 8 times the cost of a plain one) and
a signal is built for nearly every keyed event. Nothing changes a signal once made.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from operator import attrgetter
from typing import ClassVar

import orjson

LINK, UNLINK, RELEASED = "link", "unlink", "released"  # what a ``Link`` tells an identity


@dataclass(slots=True)
class Signal:
    TAG: ClassVar[str] = ""
    ts_ms: int  # event time of what caused it
    ingest_ms: int  # broker time the triggering input arrived, for end-to-end latency


# (target topic, key of the state it is for, signal): what an update asks to be sent.
Emit = tuple[str, str, Signal]


@dataclass(slots=True)
class TransferOut(Signal):
    """This account sent money (to the payer's partition)."""

    TAG: ClassVar[str] = "o"
    transfer_id: str
    counterparty: str  # dst account key
    amount_satang: int
    channel: str
    device_id: str | None
    msisdn_hash: str | None


@dataclass(slots=True)
class TransferIn(Signal):
    """This account received money, with what the payer's side knew at that moment."""

    TAG: ClassVar[str] = "i"
    transfer_id: str
    counterparty: str  # src account key
    amount_satang: int
    channel: str
    first_time_pair: bool
    payer_amount_ratio: float  # amount / payer's mean outgoing amount (0 = no history)
    payer_risky_call_age_ms: int  # -1: no risky call to the payer's phone in the last hour
    payer_held: bool
    payer_taint_hops: int  # hops from a held/traced account, -1 = none


@dataclass(slots=True)
class RegistryUpdate(Signal):
    TAG: ClassVar[str] = "r"
    opened_ts_ms: int
    msisdn_hash: str | None
    national_id_hash: str | None
    device_id: str | None


@dataclass(slots=True)
class IdentityCount(Signal):
    """How many accounts share one of this account's phone, device or national-ID hashes."""

    TAG: ClassVar[str] = "n"
    identity: str
    accounts_count: int
    held_accounts_count: int


@dataclass(slots=True)
class PhoneContext(Signal):
    """Telecom facts about a phone linked to this account, pushed by the phone's owner."""

    TAG: ClassVar[str] = "p"
    identity: str
    risky_call_ts_ms: int  # last call/SMS from a scam-like number, -1 none
    risky_caller_calls_24h: int
    sim_change_ts_ms: int  # last SIM swap or registration, -1 unknown
    calls_24h: int  # the linked phone's own outgoing call velocity


@dataclass(slots=True)
class Link(Signal):
    """An account uses this identity (phone, device, national ID), or stopped using it, or its
    holds ended: ``change`` is ``link`` (``held`` says whether it is held now), ``unlink`` (a
    registry record moved it to another identity) or ``released`` (nothing holds it any more),
    so the identity's counts can fall as well as rise."""

    TAG: ClassVar[str] = "l"
    account: str
    held: bool
    change: str = LINK  # written before unlinking existed: a link


@dataclass(slots=True)
class CallMade(Signal):
    TAG: ClassVar[str] = "c"
    event_id: str
    callee: str
    kind: str


@dataclass(slots=True)
class CallReceived(Signal):
    TAG: ClassVar[str] = "k"
    event_id: str
    caller: str
    caller_calls_24h: int
    caller_distinct_24h: int
    caller_reports: int
    caller_sim_age_ms: int  # -1 unknown


@dataclass(slots=True)
class SimChange(Signal):
    TAG: ClassVar[str] = "s"
    event_id: str
    kind: str  # sim_swap, sim_register


@dataclass(slots=True)
class ScamReported(Signal):
    TAG: ClassVar[str] = "x"
    event_id: str


@dataclass(slots=True)
class VictimReported(Signal):
    """A victim's report, at the victim's account, which remembers where its money went."""

    TAG: ClassVar[str] = "v"
    report_id: str
    transfer_ids: tuple[str, ...]
    channel: str
    police_complaint_ref: str | None


@dataclass(slots=True)
class Taint(Signal):
    """Traced money of a case reached this account through ``transfer_id``."""

    TAG: ClassVar[str] = "t"
    case_id: str
    hop: int  # 1 = received straight from the victim
    amount_satang: int
    transfer_id: str
    from_account: str
    credit_ts_ms: int
    report_ts_ms: int
    police: bool
    transfer_satang: int  # the transfer's untraced part when this money was traced, for the trail
    via: str  # which traced credit of the sender this part came from ("" at hop 1): fan-in parts differ


# -- hold lifecycle (to the held account) ---------------------------------------------------


@dataclass(slots=True)
class HoldAcked(Signal):
    """The bank answered one of this account's requests (``freeze.acks.v1``)."""

    TAG: ClassVar[str] = "a"
    request_id: str
    status: str  # held, rejected, empty, released, refunded
    held_satang: int  # -1: not given
    reason: str | None
    proposal_id: str = ""  # refunded: the proposal paid ("": not given, or written before it existed)


@dataclass(slots=True)
class HoldAppealed(Signal):
    """An appeal against one of this account's holds, or a police extension (``hold.appeals.v1``)."""

    TAG: ClassVar[str] = "q"
    appeal_id: str
    request_id: str
    outcome: str  # filed, approved, denied, police_extension
    decided_by: str
    police_ref: str | None


@dataclass(slots=True)
class ExpiryCheck(Signal):
    """The worker clock says it is ``ts_ms``: release this account's holds that expired by then."""

    TAG: ClassVar[str] = "e"


@dataclass(slots=True)
class ExtendHold(Signal):
    """A police complaint reached the case: run this hold 7 days from the complaint."""

    TAG: ClassVar[str] = "m"
    case_id: str
    request_id: str
    police_ref: str
    complaint_ts_ms: int


@dataclass(slots=True)
class Confirmed(Signal):
    """At an identity: a linked account is a confirmed mule; its ring goes to review."""

    TAG: ClassVar[str] = "g"
    account: str
    case_id: str


@dataclass(slots=True)
class RingReview(Signal):
    """This account shares ``identity`` with confirmed mule ``source``: review it, don't hold it."""

    TAG: ClassVar[str] = "w"
    source: str
    identity: str
    case_id: str


# -- case updates (to the case, keyed by case id) ------------------------------------------


@dataclass(slots=True)
class CaseReported(Signal):
    TAG: ClassVar[str] = "R"
    case_id: str
    victim: str
    report_id: str
    reported_satang: int
    police_ref: str | None


@dataclass(slots=True)
class CaseHop(Signal):
    """Traced money reached ``account``: an edge of the trail and what was decided there."""

    TAG: ClassVar[str] = "H"
    case_id: str
    account: str
    hop: int
    role: str  # mule, endpoint, cash
    traced_satang: int
    transfer_id: str
    from_account: str
    credit_ts_ms: int
    transfer_satang: int
    action: str  # hold, review, none
    request_id: str
    requested_satang: int
    expires_ts_ms: int
    legal_basis: str


@dataclass(slots=True)
class CaseHold(Signal):
    """One of the case's holds changed status (acknowledged, extended, released)."""

    TAG: ClassVar[str] = "S"
    case_id: str
    account: str
    request_id: str
    status: str
    held_satang: int  # -1: unknown
    released_satang: int
    expires_ts_ms: int
    legal_basis: str


@dataclass(slots=True)
class CaseRefund(Signal):
    TAG: ClassVar[str] = "F"
    case_id: str
    account: str
    proposal_id: str
    amount_satang: int


@dataclass(slots=True)
class CaseRefunded(Signal):
    """The bank paid ``amount_satang`` of the money held at ``account`` back to this case's victim,
    as proposed in ``proposal_id`` (one payout each: a redelivered one is not counted twice)."""

    TAG: ClassVar[str] = "D"
    case_id: str
    account: str
    amount_satang: int
    proposal_id: str = ""  # "": written before payouts were told apart (one per account)


SIGNAL_TYPES: dict[str, type[Signal]] = {
    cls.TAG: cls
    for cls in (TransferOut, TransferIn, RegistryUpdate, IdentityCount, PhoneContext, Link,
                CallMade, CallReceived, SimChange, ScamReported, VictimReported, Taint,
                HoldAcked, HoldAppealed, ExpiryCheck, ExtendHold, Confirmed, RingReview,
                CaseReported, CaseHop, CaseHold, CaseRefund, CaseRefunded)
}
_FIELDS = {cls: tuple(f.name for f in fields(cls)) for cls in SIGNAL_TYPES.values()}
_ARITY = {cls.TAG: len(names) for cls, names in _FIELDS.items()}
# Fields added later have defaults, so a signal written before them (still in a topic) decodes.
_MIN_ARITY = {cls.TAG: sum(f.default is MISSING and f.default_factory is MISSING for f in fields(cls))
              for cls in SIGNAL_TYPES.values()}
# The tag and every field, in order, as one tuple (a JSON array once encoded).
_ROW = {cls: attrgetter("TAG", *names) for cls, names in _FIELDS.items()}


def encode_signal(signal: Signal) -> bytes:
    """Examples:
    >>> s = SimChange(5, 6, "e1", "sim_swap")
    >>> encode_signal(s)
    b'["s",5,6,"e1","sim_swap"]'
    >>> decode_signal(encode_signal(s)) == s
    True
    """
    return orjson.dumps(_ROW[type(signal)](signal))


def decode_signal(raw: bytes) -> Signal:
    """Raises ValueError on anything that is not a signal we wrote."""
    items = orjson.loads(raw)  # orjson.JSONDecodeError is a ValueError
    if not isinstance(items, list) or not items or items[0] not in SIGNAL_TYPES:
        raise ValueError("not a muleguard signal")
    tag = items[0]
    if not _MIN_ARITY[tag] <= len(items) - 1 <= _ARITY[tag]:
        raise ValueError(f"signal {tag!r} has {len(items) - 1} fields, expected {_ARITY[tag]}")
    if tag == VictimReported.TAG:  # JSON has no tuples
        ids_at = 1 + _FIELDS[VictimReported].index("transfer_ids")
        items[ids_at] = tuple(items[ids_at])
    return SIGNAL_TYPES[tag](*items[1:])
