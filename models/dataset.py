"""Point-in-time training rows: each row is an account at the moment of one of its transfers.

Rows come from ``features.replay``, the same code the workers run, so a row holds exactly
what a worker would have known then: nothing later can leak into it. Victim reports are
traced and the traced money held as the workers do it (no model takes part in that), so the
held-account and taint features hold in training what they hold live.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features import engine
from features.engine import FEATURE_NAMES
from features.replay import Replayer, read_endpoints
from features.signals import Emit, TransferIn, TransferOut
from features.state import AccountState
from features.trace import TraceHit
from models import decision
from models.labels import Label, is_mule_at


@dataclass(frozen=True)
class Rows:
    X: np.ndarray
    y: np.ndarray
    ts_ms: np.ndarray
    accounts: list[str]
    event_ids: list[str]

    def __len__(self) -> int:
        return len(self.y)

    def where(self, mask: np.ndarray) -> Rows:
        idx = np.flatnonzero(mask)
        return Rows(self.X[idx], self.y[idx], self.ts_ms[idx],
                    [self.accounts[i] for i in idx], [self.event_ids[i] for i in idx])


def build_rows(data_dir: str | Path, labels: dict[str, Label], until_ms: int | None = None,
               progress: Callable[[int], None] | None = None) -> Rows:
    """Replay ``data_dir`` (events before ``until_ms``) and label every event a worker scores.

    A worker does not score an account while it is held, so those events are not rows.
    """
    vectors: list[np.ndarray] = []
    ys: list[int] = []
    times: list[int] = []
    accounts: list[str] = []
    events: list[str] = []

    def collect(key: str, state: AccountState, signal: TransferIn | TransferOut, vec: np.ndarray) -> list[Emit]:
        if engine.is_held(state, signal.ts_ms):
            return []
        vectors.append(vec)
        ys.append(int(is_mule_at(labels, key, signal.ts_ms)))
        times.append(signal.ts_ms)
        accounts.append(key)
        events.append(signal.transfer_id)
        if progress is not None and len(ys) % 2000 == 0:
            progress(len(ys))
        return []

    def hold_traced(state: AccountState, hit: TraceHit) -> list[Emit]:
        return decision.on_trace(state, hit).emits

    endpoints = read_endpoints(Path(data_dir) / "endpoints.csv")
    Replayer(on_scored=collect, on_trace=hold_traced, endpoints=endpoints).run(data_dir, until_ms)
    X = np.vstack(vectors) if vectors else np.empty((0, len(FEATURE_NAMES)))
    return Rows(X, np.asarray(ys, dtype=np.int8), np.asarray(times, dtype=np.int64), accounts, events)


def fingerprint(data_dir: str | Path) -> str:
    """A hash of the data files' names, sizes and first/last bytes: cheap and change-sensitive."""
    digest = hashlib.sha256()
    for path in sorted(Path(data_dir).glob("*.jsonl")):
        digest.update(path.name.encode())
        size = path.stat().st_size
        digest.update(str(size).encode())
        with path.open("rb") as fh:
            digest.update(fh.read(65536))
            fh.seek(max(size - 65536, 0))
            digest.update(fh.read())
    return digest.hexdigest()[:16]
