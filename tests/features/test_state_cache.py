"""States reused between batches (``DecodedStates``) give exactly what states decoded from
their stored bytes give: the worker's cache must never change a feature vector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.state import AccountState, DecodedStates
from topologies.bench import bench_features


@pytest.mark.parametrize("capacity", [50, 1_000_000])  # evicting constantly / keeping every key
def test_cached_states_score_every_event_as_fresh_decodes_do(stream_world: Path, capacity: int) -> None:
    fresh, fresh_vectors = bench_features(stream_world, batch_records=7, cache_capacity=0)
    cached, cached_vectors = bench_features(stream_world, batch_records=7, cache_capacity=capacity)
    assert fresh["cache_hit_ratio"] == 0.0 and cached["cache_hit_ratio"] > 0.1
    assert len(cached_vectors) == len(fresh_vectors) > 1_000
    np.testing.assert_array_equal(np.vstack(cached_vectors), np.vstack(fresh_vectors))  # NaN == NaN here


def test_a_state_is_reused_only_while_the_table_holds_its_bytes() -> None:
    cache = DecodedStates(AccountState)
    state = AccountState(opened_ts_ms=1)
    state.recent_out.append(("t1", 5, "KTB:2", 100))
    raw = state.to_bytes()
    cache.put("KTB:1", raw, state)
    assert cache.load("KTB:1", raw) is state
    cache.put("KTB:1", raw, state)
    other = AccountState(opened_ts_ms=2).to_bytes()  # written meanwhile, e.g. by another worker
    loaded = cache.load("KTB:1", other)
    assert loaded is not state and loaded.opened_ts_ms == 2
    assert cache.load("KTB:1", raw) is not state  # taken out on load: a state in use is never cached
    assert (cache.hits, cache.misses) == (1, 2)


def test_a_reused_state_encodes_its_trace_memory_again_only_once_touched() -> None:
    state = AccountState()
    state.recent_out.append(("t1", 5, "KTB:2", 100))
    raw = state.to_bytes()
    DecodedStates(AccountState).put("KTB:1", raw, state)
    assert state.to_bytes() == raw == AccountState.from_bytes(raw).to_bytes()
    state.recent_out.append(("t2", 6, "KTB:3", 200))
    assert AccountState.from_bytes(state.to_bytes()).recent_out == [("t1", 5, "KTB:2", 100), ("t2", 6, "KTB:3", 200)]


def test_reading_the_next_hold_expiry_neither_parses_nor_encodes_what_it_does_not_need(monkeypatch) -> None:
    """The worker asks every account it touches for its next hold expiry, twice per batch."""
    from features import holds
    from features import state as state_module

    calls = {"parse": 0, "dump": 0}

    def counted(name: str):  # noqa: ANN202
        original = getattr(state_module._TraceMemory, name)

        def call(arg):  # noqa: ANN001, ANN202
            calls[name] += 1
            return original(arg)
        return staticmethod(call)

    for name in calls:
        monkeypatch.setattr(state_module._TraceMemory, name, counted(name))
    payer = AccountState()
    payer.recent_out.append(("t1", 5, "KTB:2", 100))
    raw = payer.to_bytes()
    payer = AccountState.from_bytes(raw)
    calls.update(parse=0, dump=0)
    assert holds.next_expiry_ms(payer) == -1 and payer.to_bytes() == raw
    assert calls == {"parse": 0, "dump": 0}  # no hold rows: the memory is not even parsed

    hold = holds.Hold("r1", "", "model", "bank_suspicion_3d", "requested", 0, 0, 500, -1, 10, 9_000, 0, "t9")
    assert holds.open_row(payer, hold)
    assert holds.next_expiry_ms(payer) == 9_000
    raw = payer.to_bytes()
    assert calls["dump"] == 1
    held = AccountState.from_bytes(raw)
    assert holds.next_expiry_ms(held) == 9_000 and held.to_bytes() == raw
    assert calls["dump"] == 1  # read, not encoded again
    assert [row[0] for row in held.holds] == ["r1"] and held.recent_out == [("t1", 5, "KTB:2", 100)]
