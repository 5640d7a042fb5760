"""Every Prometheus metric muleguard exports, declared once, against a swappable registry.

Base units and standard suffixes (``_total``, ``_seconds``); no account ids in labels.
Latency objectives are 0.25 s, 1 s and 5 s, so each is an exact histogram bucket.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, GCCollector, Histogram, Info, ProcessCollector

from models.drift import SCORE_BUCKETS  # the model card's reference uses the same buckets

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, memory, fds for the SRE dashboard
        GCCollector(registry=r)  # python_gc_collections_total by generation (runtime.tune_gc)
        self.events_consumed = Counter(
            "muleguard_events_consumed_total", "Input and internal messages consumed.", ["topic"], registry=r)
        self.signals_sent = Counter(
            "muleguard_signals_sent_total", "Messages sent to internal repartition topics.", ["topic"], registry=r)
        self.events_rejected = Counter(
            "muleguard_events_rejected_total", "Messages sent to the dead-letter topic.", ["topic", "reason"], registry=r)
        self.freeze_requests = Counter(
            "muleguard_freeze_requests_total", "Freeze requests emitted.", ["action", "reason"], registry=r)
        self.reviews = Counter(
            "muleguard_review_decisions_total", "Accounts queued for human review instead of a hold.", ["reason"], registry=r)
        self.held_thb = Counter(
            "muleguard_held_amount_thb_total", "THB requested to be held.", ["reason"], registry=r)
        self.event_to_freeze = Histogram(
            "muleguard_event_to_freeze_seconds",
            "From the triggering input reaching the broker to the freeze request being sent.",
            buckets=LATENCY_BUCKETS, registry=r)
        self.event_time_lag = Histogram(
            "muleguard_event_time_lag_seconds", "Wall clock minus event time of scored events.",
            buckets=LATENCY_BUCKETS, registry=r)
        self.stage_seconds = Histogram(
            "muleguard_stage_seconds", "Processing time per stage.", ["stage"], buckets=STAGE_BUCKETS, registry=r)
        self.scores = Histogram(
            "muleguard_scores", "Model scores of scored events.", ["model_version"], buckets=SCORE_BUCKETS, registry=r)
        self.model_info = Info("muleguard_model", "The model currently scoring.", registry=r)
        self.model_switches = Counter(
            "muleguard_model_switches_total", "Models taken into use from control messages.", ["action"], registry=r)
        self.model_refused = Counter(
            "muleguard_model_refused_total", "Control messages whose model was refused (old model kept).", ["reason"], registry=r)
        self.shadow_decisions = Counter(
            "muleguard_shadow_decisions_total", "Would-be decisions of the shadow challenger (never emitted).", ["model_version", "action"], registry=r)
        self.shadow_agreement = Counter(
            "muleguard_shadow_agreement_total", "Champion vs shadow challenger hold decisions on the same events.", ["outcome"], registry=r)
        self.accounts_in_state = Gauge(
            "muleguard_feature_state_accounts", "Accounts with feature state, per partition.", ["partition"], registry=r)
        self.state_cache_lookups = Counter(
            "muleguard_state_cache_lookups_total",
            "Keyed states looked up per batch: decoded state reused (hit) or decoded from the table (miss).",
            ["table", "result"], registry=r)
        self.last_event_ts = Gauge(
            "muleguard_last_event_timestamp_seconds", "Event time of the newest input per topic.", ["topic"], registry=r)
        self.score_psi = Gauge(
            "muleguard_score_psi", "Population stability index of live scores against the model's validation scores.",
            ["model_version"], registry=r)
        self.consumer_lag = Gauge(
            "muleguard_consumer_lag_messages",
            "Messages not yet processed and committed, per assigned partition (see consumer_health.py).",
            ["topic", "partition"], registry=r)
        self.recovery_seconds = Gauge(
            "muleguard_recovery_seconds",
            "Seconds the last rebalance took, from its start to processing again (tables recovered).",
            registry=r)
        # -- hold lifecycle, cases, refunds, rings, audit (docs/tracing.md) --
        self.hold_lifecycle_requests = Counter(
            "muleguard_hold_lifecycle_requests_total", "Release and extend requests emitted, by why.",
            ["action", "reason"], registry=r)
        self.hold_events = Counter(
            "muleguard_hold_events_total", "Bank answers, appeals, extensions and expiries applied to holds.",
            ["event"], registry=r)
        self.trace_hops = Histogram(
            "muleguard_trace_hops", "Hop at which traced money reached an account.",
            buckets=(1, 2, 3, 4, 5, 6), registry=r)
        self.cases = Gauge(
            "muleguard_cases", "Cases held by this worker's partitions, by current status.", ["status"], registry=r)
        self.case_status = Counter(
            "muleguard_case_status_changes_total", "Cases entering each status.", ["status"], registry=r)
        self.refund_proposals = Counter(
            "muleguard_refund_proposals_total", "Refund proposals emitted.", registry=r)
        self.refund_proposed_thb = Counter(
            "muleguard_refund_proposed_thb_total", "THB proposed for refund to victims.", registry=r)
        self.ring_reviews = Counter(
            "muleguard_ring_reviews_total", "Accounts sent to review because a linked account was confirmed.",
            registry=r)
        self.audit_records = Counter(
            "muleguard_audit_records_total", "Audit records written.", ["kind"], registry=r)
        self.expiry_checks = Counter(
            "muleguard_expiry_checks_total", "Expiry checks the worker clock sent to accounts with due holds.",
            registry=r)
        self.redelivered_skipped = Counter(
            "muleguard_redelivered_skipped_total",
            "Signals delivered again after a crash or rebalance and recognised as already applied.",
            ["topic"], registry=r)
        self.rebalances = Counter(
            "muleguard_rebalances_total", "Consumer group rebalances seen by this worker.", registry=r)
        self.development_keys = Gauge(
            "muleguard_development_keys_in_use",
            "1 while the worker runs with a public development default for a secret key (anyone can mint "
            "tokens or reverse pseudonyms); alert MuleguardDevelopmentKeyInUse.",
            ["key"], registry=r)
        self.partition_rewinds = Counter(
            "muleguard_partition_rewinds_total",
            "Partitions read again from their committed offset: acked offsets above a hole would "
            "never have been committed (runtime.rewind_holes).",
            ["topic"], registry=r)


METRICS = Metrics()
