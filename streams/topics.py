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
    "muleguard.control.v1", "model", "internal", None, partitions=1,
    doc="Model rollout: promote, rollback and shadow commands; every worker reads all of it.",
)

INPUT_TOPICS: tuple[TopicSpec, ...] = (TRANSFERS, TELECOM, REGISTRY, VICTIM_REPORTS)
OUTPUT_TOPICS: tuple[TopicSpec, ...] = (FREEZE_REQUESTS, DEADLETTER)
INTERNAL_TOPICS: tuple[TopicSpec, ...] = (ACCOUNT_SIGNALS, IDENTITY_SIGNALS, CONTROL)
ALL_TOPICS: tuple[TopicSpec, ...] = INPUT_TOPICS + OUTPUT_TOPICS + INTERNAL_TOPICS
BY_NAME: dict[str, TopicSpec] = {t.name: t for t in ALL_TOPICS}
