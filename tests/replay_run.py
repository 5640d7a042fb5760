"""Events through the offline engine (``features.replay``), keeping each scored event's vector."""

from __future__ import annotations

from features.engine import FEATURE_NAMES
from features.replay import Replayer
from streams.contracts import Transfer

COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


class OfflineRun:
    """Transfers (and any other record) through the offline engine; the vector of each scored
    event by (account key, transfer id)."""

    def __init__(self) -> None:
        self.vectors: dict[tuple[str, str], list[float]] = {}
        self.replayer = Replayer(on_scored=self._scored)

    def _scored(self, key, state, signal, vector):  # noqa: ANN001, ANN202
        self.vectors[(key, signal.transfer_id)] = vector
        return []

    def send(self, transfer_id: str, ts_ms: int, src: str, dst: str, thb: int = 500, device: str | None = None,
             ) -> None:
        self.replayer.feed(Transfer(transfer_id, ts_ms, "KTB", src, "KTB", dst, thb * 100, "mobile", device, None))

    def feature(self, account: str, transfer_id: str, name: str) -> float:
        return float(self.vectors[(f"KTB:{account}", transfer_id)][COLUMN[name]])
