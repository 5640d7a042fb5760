"""``/progress``: the consumed and sent counters that tell the demo, benchmarks and tests
when a worker has caught up."""

from __future__ import annotations

from topologies.demo import settled
from topologies.metrics import Metrics
from topologies.views import progress


def test_progress_reports_each_topics_consumed_and_sent_counts() -> None:
    metrics = Metrics()
    metrics.events_consumed.labels("bank.transfers.v1").inc(3)
    metrics.events_consumed.labels("muleguard.account-signals.v1").inc(5)
    metrics.signals_sent.labels("muleguard.account-signals.v1").inc(6)
    counts = progress(metrics)
    assert counts == {"consumed": {"bank.transfers.v1": 3.0, "muleguard.account-signals.v1": 5.0},
                      "sent": {"muleguard.account-signals.v1": 6.0}}
    assert not settled(counts["consumed"], counts["sent"], 3)  # one signal still in flight
    metrics.events_consumed.labels("muleguard.account-signals.v1").inc()
    counts = progress(metrics)
    assert settled(counts["consumed"], counts["sent"], 3)
    assert not settled(counts["consumed"], counts["sent"], 4)  # an input not yet consumed
