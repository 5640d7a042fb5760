"""Columnar batches of simulated transfers and telecom events (one numpy array per field).

Generating a day as arrays and formatting JSON only at emission is what makes a million
accounts affordable: the per-event Python work is done once, in ``world``'s emit loop.

Identity columns use two sentinels: ``NONE`` (field absent on the wire) and ``OWN`` (resolve
to the payer's registered device/phone at the transfer's time, done in one vectorised step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

NONE = -1
OWN = -2

CHANNEL_CODES: tuple[str, ...] = ("mobile", "internet", "promptpay", "atm", "counter", "other")
CH_MOBILE, CH_INTERNET, CH_PROMPTPAY, CH_ATM, CH_COUNTER, CH_OTHER = range(6)
TELECOM_KIND_CODES: tuple[str, ...] = ("call", "sms", "sim_swap", "sim_register", "scam_report")
K_CALL, K_SMS, K_SIM_SWAP, K_SIM_REGISTER, K_SCAM_REPORT = range(5)


@dataclass(slots=True)
class TransferCols:
    """Transfers: account indices, satang amounts, channel codes, identity indices, id seqs."""

    ts: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    amount: np.ndarray
    channel: np.ndarray
    device: np.ndarray
    msisdn: np.ndarray
    seq: np.ndarray

    @classmethod
    def make(
        cls,
        ts: np.ndarray,
        src: np.ndarray,
        dst: np.ndarray,
        amount: np.ndarray,
        channel: np.ndarray | int,
        device: np.ndarray | int = OWN,
        msisdn: np.ndarray | int = OWN,
    ) -> TransferCols:
        """Broadcast scalars, fix dtypes, leave ``seq`` unassigned (-1) until emission order."""
        n = len(ts)
        return cls(
            ts=np.asarray(ts, dtype=np.int64),
            src=np.asarray(src, dtype=np.int32),
            dst=np.asarray(dst, dtype=np.int32),
            amount=np.asarray(amount, dtype=np.int64),
            channel=np.broadcast_to(np.asarray(channel, dtype=np.int8), (n,)).copy(),
            device=np.broadcast_to(np.asarray(device, dtype=np.int32), (n,)).copy(),
            msisdn=np.broadcast_to(np.asarray(msisdn, dtype=np.int32), (n,)).copy(),
            seq=np.full(n, -1, dtype=np.int64),
        )

    @classmethod
    def empty(cls) -> TransferCols:
        e = np.empty(0, dtype=np.int64)
        return cls.make(e, e, e, e, 0)

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, index: np.ndarray) -> TransferCols:
        return TransferCols(*(getattr(self, f.name)[index] for f in fields(self)))


@dataclass(slots=True)
class TelecomCols:
    """Telecom events: msisdn indices (a calls b), durations in s, cell and device indices."""

    ts: np.ndarray
    kind: np.ndarray
    a: np.ndarray
    b: np.ndarray
    duration: np.ndarray
    cell: np.ndarray
    imei: np.ndarray
    seq: np.ndarray

    @classmethod
    def make(
        cls,
        ts: np.ndarray,
        kind: np.ndarray | int,
        a: np.ndarray | int,
        b: np.ndarray | int = NONE,
        duration: np.ndarray | int = NONE,
        cell: np.ndarray | int = NONE,
        imei: np.ndarray | int = NONE,
    ) -> TelecomCols:
        n = len(ts)

        def col(v: np.ndarray | int, dtype: type) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=dtype), (n,)).copy()

        return cls(
            ts=np.asarray(ts, dtype=np.int64),
            kind=col(kind, np.int8),
            a=col(a, np.int32),
            b=col(b, np.int32),
            duration=col(duration, np.int32),
            cell=col(cell, np.int32),
            imei=col(imei, np.int32),
            seq=np.full(n, -1, dtype=np.int64),
        )

    @classmethod
    def empty(cls) -> TelecomCols:
        return cls.make(np.empty(0, dtype=np.int64), 0, 0)

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, index: np.ndarray) -> TelecomCols:
        return TelecomCols(*(getattr(self, f.name)[index] for f in fields(self)))


def concat_transfers(parts: Sequence[TransferCols]) -> TransferCols:
    parts = [p for p in parts if len(p)] or [TransferCols.empty()]
    return TransferCols(
        *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(TransferCols))
    )


def concat_telecom(parts: Sequence[TelecomCols]) -> TelecomCols:
    parts = [p for p in parts if len(p)] or [TelecomCols.empty()]
    return TelecomCols(
        *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(TelecomCols))
    )


def transfers_from_rows(rows: Sequence[tuple[int, ...]]) -> TransferCols:
    """Rows ``(ts, src, dst, amount, channel, device, msisdn, seq)`` from the scam engine."""
    if not rows:
        return TransferCols.empty()
    a = np.array(rows, dtype=np.int64)
    return TransferCols(
        a[:, 0],
        a[:, 1].astype(np.int32),
        a[:, 2].astype(np.int32),
        a[:, 3],
        a[:, 4].astype(np.int8),
        a[:, 5].astype(np.int32),
        a[:, 6].astype(np.int32),
        a[:, 7],
    )


def telecom_from_rows(rows: Sequence[tuple[int, ...]]) -> TelecomCols:
    """Rows ``(ts, kind, a, b, duration, cell, imei)`` from the scam engine."""
    if not rows:
        return TelecomCols.empty()
    a = np.array(rows, dtype=np.int64)
    return TelecomCols.make(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5], a[:, 6])
