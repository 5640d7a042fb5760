"""Offline twin of the live workers: the same routing, updates and vectors, in event-time order.

The live pipeline moves signals between keyed states through Kafka; here they move through
an in-process FIFO queue, each input record's consequences settled before the next record.
Given the same events in the same order, every scored event gets the same vector online
and offline (tests/parity checks it), which is what makes training rows honest.
"""

from __future__ import annotations

import heapq
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from features import engine, identity
from features.routing import route
from features.signals import Emit, Signal, TransferIn, TransferOut
from features.state import AccountState, IdentityState
from features.trace import TraceHit
from streams import codec
from streams.contracts import Rejection
from streams.timefmt import parse_ts
from streams.topics import ACCOUNT_SIGNALS, IDENTITY_SIGNALS, REGISTRY, TELECOM, TRANSFERS, VICTIM_REPORTS

# Order of topics for events with the same timestamp: links before calls before money.
REPLAYED_TOPICS = (REGISTRY.name, TELECOM.name, TRANSFERS.name, VICTIM_REPORTS.name)
_ACCOUNTS, _IDENTITIES = ACCOUNT_SIGNALS.name, IDENTITY_SIGNALS.name
DECODERS = {
    REGISTRY.name: codec.decode_registry,
    TELECOM.name: codec.decode_telecom,
    TRANSFERS.name: codec.decode_transfer,
    VICTIM_REPORTS.name: codec.decode_report,
}

OnScored = Callable[[str, AccountState, TransferIn | TransferOut, np.ndarray], list[Emit]]
OnTrace = Callable[[AccountState, TraceHit], list[Emit]]


def _ts_of(line: bytes) -> int:
    """Event time of a raw line for ordering; unparseable lines sort first (they get rejected)."""
    try:
        ts = json.loads(line).get("ts")
    except (ValueError, AttributeError):
        return -1
    if isinstance(ts, int):
        return ts
    parsed = parse_ts(ts)
    return -1 if parsed is None else parsed


def _raw_topic(path: Path, rank: int) -> Iterator[tuple[int, int, int, bytes]]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines):
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield _ts_of(line), rank, number, line


def _is_sorted(path: Path) -> bool:
    last = -1
    for ts, *_ in _raw_topic(path, 0):
        if ts < last:
            return False
        last = ts
    return True


def raw_records(data_dir: str | Path) -> Iterator[tuple[str, bytes]]:
    """Raw lines of every input topic present, merged in event-time order.

    Ties break by topic (registry, telecom, transfers, reports) then line number, so the
    order is total and the same for replay and for tests that stream a directory live.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory {data_dir} does not exist")
    streams = []
    for rank, topic in enumerate(REPLAYED_TOPICS):
        path = data_dir / f"{topic}.jsonl"
        if path.exists():
            lines = _raw_topic(path, rank)
            streams.append(lines if _is_sorted(path) else iter(sorted(lines, key=lambda r: r[:3])))
    if not streams:
        raise FileNotFoundError(f"{data_dir} holds none of {', '.join(f'{t}.jsonl' for t in REPLAYED_TOPICS)}")
    for _, rank, _, line in heapq.merge(*streams, key=lambda r: r[:3]):
        yield REPLAYED_TOPICS[rank], line


def first_event_ms(data_dir: str | Path) -> int:
    """Event time of the earliest readable record in ``data_dir``."""
    for _topic, line in raw_records(data_dir):
        ts = _ts_of(line)
        if ts >= 0:
            return ts
    raise ValueError(f"{data_dir} holds no record with a readable time")


def read_data_dir(data_dir: str | Path) -> Iterator[tuple[str, object]]:
    """Decoded records (or ``Rejection``s) of every input topic present, in event-time order."""
    for topic, line in raw_records(data_dir):
        yield topic, DECODERS[topic](line)


@dataclass
class Replayer:
    """Holds every account's and identity's state in memory and runs signals through them."""

    on_scored: OnScored | None = None
    on_trace: OnTrace | None = None
    endpoints: frozenset[str] = frozenset()
    accounts: dict[str, AccountState] = field(default_factory=dict)
    identities: dict[str, IdentityState] = field(default_factory=dict)
    rejected: int = 0
    late: int = 0  # transfers beyond the allowed lateness (live: dead-lettered as late_event)
    duplicates: int = 0  # transfers whose id the payer already applied (live: dead-lettered as duplicate_id)
    records: int = 0

    def feed(self, record: object) -> None:
        """Route one decoded input record and settle everything it causes."""
        self.records += 1
        if isinstance(record, Rejection):
            self.rejected += 1
            return
        ts = record.ts_ms  # type: ignore[attr-defined]
        self.settle(route(record, ts))  # type: ignore[arg-type]

    def settle(self, emits: Iterable[Emit]) -> None:
        queue: deque[Emit] = deque(emits)
        while queue:
            topic, key, signal = queue.popleft()
            queue.extend(self.apply(topic, key, signal))

    def apply(self, topic: str, key: str, signal: Signal) -> list[Emit]:
        """One signal into one keyed state: exactly what a live agent does per message."""
        if topic == _ACCOUNTS:
            state = self.accounts.get(key)
            if state is None:
                state = self.accounts[key] = AccountState()
            reason = engine.rejection(state, signal)
            if reason is not None:
                if reason == "late_event":
                    self.late += 1
                else:
                    self.duplicates += 1
                return []
            emits, hit = engine.update(state, key, signal, self.endpoints)
            if hit is not None and self.on_trace is not None:
                emits += self.on_trace(state, hit)
            if self.on_scored is not None and engine.is_scored(signal):
                vec = engine.vector(state, signal)  # type: ignore[arg-type]
                emits += self.on_scored(key, state, signal, vec)  # type: ignore[arg-type]
            return emits
        if topic != _IDENTITIES:
            return []  # case updates: a victim's case is a live view, not an input to features
        ident = self.identities.get(key)
        if ident is None:
            ident = self.identities[key] = IdentityState()
        return identity.update(ident, key, signal)

    def run(self, data_dir: str | Path, until_ms: int | None = None) -> None:
        for _, record in read_data_dir(data_dir):
            if until_ms is not None and not isinstance(record, Rejection) and record.ts_ms >= until_ms:  # type: ignore[attr-defined]
                break
            self.feed(record)


def read_endpoints(path: str | Path | None) -> frozenset[str]:
    """Allow-listed accounts from a ``bank,account[,kind]`` CSV; empty when there is no file."""
    if path is None or not Path(path).is_file():
        return frozenset()
    import csv

    with Path(path).open(newline="") as fh:
        return frozenset(f"{row['bank']}:{row['account']}" for row in csv.DictReader(fh))
