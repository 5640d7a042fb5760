"""The engine, fed one event at a time, matches a naive numpy computation over the full history."""

from __future__ import annotations

import numpy as np

from features.engine import FEATURE_NAMES
from features.replay import Replayer
from features.routing import route
from streams.contracts import Transfer

WINDOWS = {"10m": 600_000, "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000}


def random_transfers(rng, n: int = 600, accounts: int = 25) -> list[Transfer]:
    times = sorted(rng.randrange(0, 10 * 86_400_000) for _ in range(n))
    out = []
    for i, ts in enumerate(times):
        src, dst = rng.sample(range(accounts), 2)
        out.append(Transfer(f"t{i}", 1_793_491_200_000 + ts, "KTB", str(src), "SCB", str(dst),
                            rng.randrange(100, 5_000_000), "mobile"))
    return out


def test_velocity_and_pass_through_match_reference(rng) -> None:
    transfers = random_transfers(rng)
    rows: list[tuple[str, str, np.ndarray]] = []
    replayer = Replayer(on_scored=lambda key, _s, sig, vec: rows.append((key, sig.transfer_id, vec)) or [])
    for t in transfers:
        replayer.settle(route(t, t.ts_ms))

    ts = np.array([t.ts_ms for t in transfers])
    amount = np.array([t.amount_satang for t in transfers])
    src = np.array([t.src_key for t in transfers])
    dst = np.array([t.dst_key for t in transfers])
    by_id = {t.transfer_id: i for i, t in enumerate(transfers)}
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    assert len(rows) == 2 * len(transfers)

    for key, transfer_id, vec in rows:
        i = by_id[transfer_id]
        now = ts[i]
        seen = np.arange(len(transfers)) <= i  # the past, including this event
        for direction, mine, other in (("in", dst, src), ("out", src, dst)):
            for w, span in WINDOWS.items():
                sel = seen & (mine == key) & (ts > now - span) & (ts <= now)
                assert vec[col[f"{direction}_count_{w}"]] == sel.sum()
                assert vec[col[f"{direction}_sum_thb_{w}"]] == amount[sel].sum() / 100
                if f"{direction}_max_thb_{w}" in col:
                    assert vec[col[f"{direction}_max_thb_{w}"]] == (amount[sel].max() / 100 if sel.any() else 0)
                if f"{direction}_distinct_{w}" in col:
                    assert vec[col[f"{direction}_distinct_{w}"]] == len(set(other[sel]))
        received = amount[seen & (dst == key) & (ts > now - 2 * 86_400_000)].sum()
        sent = amount[seen & (src == key) & (ts > now - 2 * 86_400_000)].sum()
        expected = min(sent / received, 5.0) if received else np.nan
        np.testing.assert_equal(vec[col["pass_through_48h"]], expected)
        if dst[i] == key:
            paid_before = ((src[:i] == src[i]) & (dst[:i] == key)).any()
            assert vec[col["first_time_pair"]] == float(not paid_before)
