"""One table of every topic muleguard reads or writes; everything else takes names from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["in", "out", "internal"]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A Kafka topic: its name, what keys it, and which JSON Schema its values follow."""

    name: str
    key: str
    direction: Direction
    schema: str | None
    partitions: int = 4
    doc: str = ""
    retention_ms: int | None = None  # None: the cluster's default for muleguard topics; -1: forever


TRANSFERS = TopicSpec(
    "bank.transfers.v1", "src_bank:src_account", "in", "bank.transfers.v1.json",
    doc="Bank transfers as they settle, from every participating bank.",
)
TELECOM = TopicSpec(
    "telecom.events.v1", "msisdn_a", "in", "telecom.events.v1.json",
    doc="Calls, SMS, SIM swaps and registrations, and scam-number reports from operators.",
)
REGISTRY = TopicSpec(
    "registry.accounts.v1", "bank:account", "in", "registry.accounts.v1.json",
    doc="KYC registry: account opening and links to phone, national ID and device.",
)
VICTIM_REPORTS = TopicSpec(
    "victim.reports.v1", "victim_bank:victim_account", "in", "victim.reports.v1.json",
    doc="Victim reports from the 1441 hotline, online forms and bank branches.",
)
FREEZE_REQUESTS = TopicSpec(
    "freeze.requests.v1", "bank:account", "out", "freeze.requests.v1.json",
    doc="Hold and release requests to the banks, each explained and with its legal expiry.",
)
DEADLETTER = TopicSpec(
    "deadletter.v1", "source topic", "out", "deadletter.v1.json",
    doc="Every rejected input message, raw, with where it came from and why.",
)
ACCOUNT_SIGNALS = TopicSpec(
    "muleguard.account-signals.v1", "bank:account", "internal", None,
    doc="Repartition: everything that changes one account's features, keyed by that account.",
)
IDENTITY_SIGNALS = TopicSpec(
    "muleguard.identity-signals.v1", "phone, device or national-ID hash", "internal", None,
    doc="Repartition: calls, SIM changes and account links keyed by a pseudonymised identity.",
)
CONTROL = TopicSpec(
    "muleguard.control.v1", "model", "internal", None, partitions=1, retention_ms=-1,
    doc="Model rollout: promote, rollback and shadow commands; every worker reads all of it (kept forever).",
)

FREEZE_ACKS = TopicSpec(
    "freeze.acks.v1", "bank:account", "in", "freeze.acks.v1.json",
    doc="Banks' answers to hold, extend and release requests: held (actual amount), rejected, empty, released.",
)
HOLD_APPEALS = TopicSpec(
    "hold.appeals.v1", "bank:account", "in", "hold.appeals.v1.json",
    doc="Owners' appeals against holds and their outcome (bank or AOC), and police extensions of holds.",
)
REFUND_PROPOSALS = TopicSpec(
    "refund.proposals.v1", "bank:account", "out", "refund.proposals.v1.json",
    doc="Held money of one account divided among the cases whose traced money reached it, pro rata.",
)
AUDIT = TopicSpec(
    "muleguard.audit.v1", "subject (bank:account or model version)", "out", "muleguard.audit.v1.json",
    doc="Append-only audit trail: one record per decision (hold, release, extend, review, appeal outcome, model).",
)
FEATURE_LOG = TopicSpec(
    "muleguard.feature-log.v1", "bank:account", "out", "muleguard.feature-log.v1.json",
    doc="Opt-in (MULEGUARD_FEATURE_LOG=1): every scored event's feature vector and score, for skew checks and parity.",
)
CASE_UPDATES = TopicSpec(
    "muleguard.case-updates.v1", "case_id", "internal", None,
    doc="Repartition: what each traced account tells a victim's case (hops, holds, refunds), keyed by case.",
)

# The world's events (what the simulator writes); hold answers and appeals come back from banks.
INPUT_TOPICS: tuple[TopicSpec, ...] = (TRANSFERS, TELECOM, REGISTRY, VICTIM_REPORTS)
HOLD_INPUT_TOPICS: tuple[TopicSpec, ...] = (FREEZE_ACKS, HOLD_APPEALS)
OUTPUT_TOPICS: tuple[TopicSpec, ...] = (FREEZE_REQUESTS, DEADLETTER, REFUND_PROPOSALS, AUDIT, FEATURE_LOG)
INTERNAL_TOPICS: tuple[TopicSpec, ...] = (ACCOUNT_SIGNALS, IDENTITY_SIGNALS, CASE_UPDATES, CONTROL)
ALL_TOPICS: tuple[TopicSpec, ...] = INPUT_TOPICS + HOLD_INPUT_TOPICS + OUTPUT_TOPICS + INTERNAL_TOPICS
BY_NAME: dict[str, TopicSpec] = {t.name: t for t in ALL_TOPICS}
