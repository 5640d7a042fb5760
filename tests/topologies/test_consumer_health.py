"""The lag gauge's source: every stream partition this worker holds, its changelogs left out.

The integration test sees the gauge fall to zero after a burst; this one pins what the
figures are made of, which a zero at the end cannot show.
"""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from topologies.consumer_health import consumer_lag

TRANSFERS_0 = TP("bank.transfers.v1", 0)
TRANSFERS_1 = TP("bank.transfers.v1", 1)
REGISTRY_2 = TP("registry.accounts.v1", 2)
CHANGELOG_0 = TP("muleguard-accounts_v3-changelog", 0)


class _Consumer:
    def __init__(self, assigned: set[TP] | None) -> None:
        self._assigned = assigned
        # Faust's own bookkeeping: newest offset fetched, next offset committed.
        self._read_offset = {TRANSFERS_0: 119, TRANSFERS_1: 40, CHANGELOG_0: 500}
        self._committed_offset = {TRANSFERS_0: 90, TRANSFERS_1: 41, CHANGELOG_0: None}

    def assignment(self) -> set[TP]:
        if self._assigned is None:
            raise RuntimeError("not started")
        return self._assigned


def _app(consumer: object) -> SimpleNamespace:
    return SimpleNamespace(
        consumer=consumer,
        monitor=SimpleNamespace(tp_end_offsets={TRANSFERS_0: 100, TRANSFERS_1: 41, REGISTRY_2: 7}),
        tables=SimpleNamespace(changelog_topics={CHANGELOG_0.topic}))


def test_lag_per_assigned_stream_partition_from_end_and_commit() -> None:
    lag = consumer_lag(_app(_Consumer({TRANSFERS_0, TRANSFERS_1, REGISTRY_2, CHANGELOG_0})))
    assert lag == {
        ("bank.transfers.v1", 0): 30,  # fetched up to 119 (the broker's watermark said 100), committed 90
        ("bank.transfers.v1", 1): 0,  # everything fetched is committed
        ("registry.accounts.v1", 2): 7,  # nothing processed yet: the whole partition
    }  # the changelog partition is read by recovery, never committed: not lag


def test_no_figures_while_the_consumer_is_absent_or_between_assignments() -> None:
    assert consumer_lag(SimpleNamespace()) == {}
    assert consumer_lag(_app(_Consumer(None))) == {}
