"""Web views served by the Faust web server: metrics, health and readiness."""

from __future__ import annotations

import logging

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from features import cases as case_logic
from models import drift
from streams import privacy
from streams.topics import HOLD_INPUT_TOPICS, INPUT_TOPICS, INTERNAL_TOPICS
from topologies import auth, runtime
from topologies.app import Pipeline
from topologies.consumer_health import RecoveryClock, consumer_lag

logger = logging.getLogger(__name__)

GAUGE_INTERVAL_S = 5.0
CASES_INTERVAL_S = 15.0


def register(p: Pipeline) -> None:
    app = p.app
    recovery = RecoveryClock()
    recovery.started()  # the first assignment after start is a recovery too

    @app.on_partitions_revoked.connect
    async def rebalance_started(sender: object, *args: object, **kwargs: object) -> None:  # noqa: ARG001
        recovery.started()

    @app.on_rebalance_complete.connect
    async def count_rebalance(sender: object, **kwargs: object) -> None:  # noqa: ARG001
        p.metrics.rebalances.inc()
        took = recovery.completed()
        if took is not None:
            p.metrics.recovery_seconds.set(took)

    @app.timer(interval=GAUGE_INTERVAL_S)
    async def measure_lag() -> None:
        lags = consumer_lag(app)
        p.metrics.consumer_lag.clear()  # partitions moved away must not linger
        for (topic, partition), lag in lags.items():
            p.metrics.consumer_lag.labels(topic, str(partition)).set(lag)

    for name, in_use in development_keys().items():
        p.metrics.development_keys.labels(name).set(int(in_use))

    for spec in (*INPUT_TOPICS, *HOLD_INPUT_TOPICS, *INTERNAL_TOPICS):  # what workers consume:
        p.metrics.partition_rewinds.labels(spec.name)  # zero from the start, so a rewind shows as an increase

    @app.timer(interval=runtime.STALL_AFTER_S)
    async def report_stalled_acks() -> None:
        """Offsets that stopped moving say why in the log, every 30 s while they do (lag
        alone shows that they stopped, not whether sends, changelog writes or one
        unfinished message hold them: docs/reliability.md)."""
        for line in runtime.stalled_acks():
            logger.warning("Offsets not moving: %s", line)
        for tp, line in runtime.rewind_holes():  # a hole nothing will fill: read it again
            logger.warning("Offsets not moving: %s", line)
            p.metrics.partition_rewinds.labels(tp.topic).inc()

    @app.timer(interval=GAUGE_INTERVAL_S)
    async def score_drift() -> None:
        """PSI of this worker's live scores (since start) against the model card's reference."""
        meta = p.scorer.meta
        value = live_psi(p.metrics, meta.version, meta.metrics.get("score_reference"))
        if value is not None:
            p.metrics.score_psi.labels(meta.version).set(value)

    @app.timer(interval=CASES_INTERVAL_S)
    async def count_cases() -> None:
        """Cases by status over this worker's active partitions (cases are few: a scan is cheap)."""
        if p.cases is None:
            return
        counts = dict.fromkeys(case_logic.STATUSES, 0)
        for raw in p.cases.values():
            if raw:
                status = case_logic.from_bytes(raw, "", 0)["status"]
                counts[status] = counts.get(status, 0) + 1
        for status, count in counts.items():
            p.metrics.cases.labels(status).set(count)

    @app.timer(interval=GAUGE_INTERVAL_S)
    async def count_state() -> None:
        """Accounts with feature state per local partition (RocksDB's own estimate: no scans)."""
        for partition, count in _state_sizes(p.accounts).items():
            p.metrics.accounts_in_state.labels(str(partition)).set(count)

    @app.page("/metrics")
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            body = generate_latest(p.metrics.registry)
            return self.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/progress")
    class Progress(View):
        """Messages consumed and internal signals sent, per topic: the two counters of
        ``/metrics`` that tell whether the worker has caught up, without rendering every
        metric (a ``/metrics`` render costs the event loop about 7 ms; the demo, the
        benchmarks and the tests poll this to see when traffic has settled)."""

        async def get(self, request: Request) -> Response:
            return self.json(progress(p.metrics))

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            assigned = bool(app.consumer.assignment()) if app.consumer else False
            settled = p.rollout is None or p.rollout.settled.is_set()  # scoring with the rollout's model
            ready = assigned and not app.rebalancing and settled
            return self.json({"ready": ready, "model_version": p.scorer.version},
                             status=200 if ready else 503)


def development_keys() -> dict[str, bool]:
    """Which secret keys this worker uses at their public development default (read once at
    start: the keys are too). With the token key anyone can mint case, investigator and bank
    tokens; with the pseudonym key anyone can reverse phone and ID pseudonyms."""
    return {"token": auth.using_development_key(), "pseudonym": privacy.using_development_key()}


def progress(metrics: object) -> dict[str, dict[str, float]]:
    """``{"consumed": {topic: n}, "sent": {topic: n}}`` from the consumed and sent counters."""
    counts: dict[str, dict[str, float]] = {"consumed": {}, "sent": {}}
    for name, counter in (("consumed", metrics.events_consumed), ("sent", metrics.signals_sent)):  # type: ignore[attr-defined]
        for family in counter.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    counts[name][sample.labels["topic"]] = sample.value
    return counts


def live_psi(metrics: object, version: str, reference: list[float] | None) -> float | None:
    """PSI from the ``muleguard_scores`` histogram of ``version``; None without data or reference."""
    if not reference:
        return None
    cumulative = [sample.value for family in metrics.scores.collect() for sample in family.samples  # type: ignore[attr-defined]
                  if sample.name.endswith("_bucket") and sample.labels.get("model_version") == version]
    shares = drift.shares_from_cumulative(cumulative) if cumulative else None
    if shares is None or len(shares) != len(reference):
        return None
    return drift.psi(reference, shares)


def _state_sizes(table: object) -> dict[int, int]:
    data = getattr(table, "data", None)
    dbs = getattr(data, "_dbs", None)
    if dbs is None:  # memory store (tests): count keys directly
        return {}
    sizes = {}
    for partition, db in dict(dbs).items():
        try:
            sizes[partition] = int(db.property_int_value("rocksdb.estimate-num-keys") or 0)
        except Exception:  # noqa: BLE001 - a metric must never break the worker
            continue
    return sizes
