"""Builds the Faust app: topics from ``streams.topics``, tables, agents and web views.

A factory, not a module-level app: the settings (broker, model, ports) are known only when
a worker or a test asks for an app, and tests want a fresh app each time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import faust

from models.scorer import Scorer
from streams import topics as specs
from topologies.metrics import METRICS, Metrics
from topologies.sender import ConfluentSender
from topologies.settings import WorkerSettings

ROCKSDB_OPTIONS = {"block_cache_size": 64 * 1024 * 1024, "block_cache_compressed_size": 0}


@dataclass
class Pipeline:
    """What the agents share: the app, its topics and tables, the scorer and metrics."""

    app: faust.App
    settings: WorkerSettings
    topics: dict[str, faust.TopicT]
    accounts: faust.Table
    identities: faust.Table
    scorer: Scorer
    metrics: Metrics
    endpoints: frozenset[str] = frozenset()
    rollout: Any = None  # topologies.control.Rollout: hot model swaps and the shadow challenger
    cases: faust.Table | None = None  # case id -> features.cases JSON
    hold_timers: faust.Table | None = None  # account key -> next hold expiry (epoch ms, ASCII)
    _sender: ConfluentSender | None = None

    @property
    def sender(self) -> ConfluentSender:
        """Created on first use, inside the running worker (librdkafka starts a thread)."""
        if self._sender is None:
            self._sender = ConfluentSender(self.settings.broker)
        return self._sender


def _topic(app: faust.App, spec: specs.TopicSpec, partitions: int) -> faust.TopicT:
    return app.topic(spec.name, key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw", partitions=partitions)


def _table(app: faust.App, name: str, settings: WorkerSettings) -> faust.Table:
    options = ROCKSDB_OPTIONS if settings.store.startswith("rocksdb") else None
    table = app.Table(name, default=None, partitions=settings.partitions, key_type=bytes,
                      value_type=bytes, options=options)
    # Faust derives a table's codec from its key/value *types* and falls back to JSON for
    # plain bytes; state is our own binary encoding, so both sides are raw bytes.
    table.key_serializer = table.value_serializer = "raw"
    return table


def create_app(settings: WorkerSettings, scorer: Scorer | None = None, metrics: Metrics = METRICS) -> Pipeline:
    from features.replay import read_endpoints
    from features.state import STATE_VERSION
    from topologies import case_views, control, runtime, views
    from topologies.agents import cases, ingest, score

    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    runtime.install()
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        store=settings.store,
        datadir=str(settings.data_dir),
        web_port=settings.web_port,
        web_host=settings.web_host,
        web_enabled=True,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        producer_linger=0.005,
        table_standby_replicas=1,
        autodiscover=False,
        **settings.extra,  # type: ignore[arg-type]
    )
    pipeline = Pipeline(
        app=app,
        settings=settings,
        topics={s.name: _topic(app, s, s.partitions) for s in specs.ALL_TOPICS},
        accounts=_table(app, f"accounts_v{STATE_VERSION}", settings),
        identities=_table(app, f"identities_v{STATE_VERSION}", settings),
        scorer=scorer or Scorer(settings.model_dir).load(),
        metrics=metrics,
        endpoints=read_endpoints(settings.endpoints_path),
        cases=_table(app, "cases_v1", settings),
        hold_timers=_table(app, "hold_timers_v1", settings),
    )
    metrics.model_info.info({"version": pipeline.scorer.version})
    pipeline.rollout = control.register(pipeline)
    ingest.register(pipeline)
    score.register(pipeline)
    cases.register(pipeline)
    views.register(pipeline)
    case_views.register(pipeline)
    return pipeline
