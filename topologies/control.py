"""Model rollout without restarts: control messages on ``muleguard.control.v1``.

Every worker must see every control message, so this is not a consumer-group
subscription (a group would give each message to one worker only): each worker runs its own
confluent-kafka consumer, assigned every partition of the topic from the beginning, with no
group offsets. On start a worker reads the rollout history to its end and takes only its
outcome into use: the last champion (promote or rollback) and the last shadow change, so a
model that was promoted and later rolled back never scores again, not even for a moment.
Until then the accounts agent does not score (``Rollout.settled``) and ``/ready`` says 503.
The topic is kept forever (``retention_ms=-1``): a restart months after the last promotion
still ends on the registry's current model, whatever ``--model`` the worker was started with.

A message names a model directory. The worker loads it aside (in a thread), checks its
manifest against the running feature engine, and only then swaps it in, in the event loop,
between batches. A refused model (other features, missing directory, unreadable) leaves the
old one scoring, is logged, and counts ``muleguard_model_refused_total{reason}``.

``publish`` is the other end: ``muleguard models promote|rollback|shadow`` sends the control
message and, for promotions and rollbacks, an audit record on ``muleguard.audit.v1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models import shadow
from models.decision import Outcome
from models.registry import ModelMismatchError
from models.scorer import Scorer
from models.versions import Change
from streams.timefmt import format_ts
from streams.topics import BY_NAME, CONTROL, TopicSpec

log = logging.getLogger(__name__)

CONTROL_KEY = b"model"
AUDIT_TOPIC = "muleguard.audit.v1"  # contract owned by the cases helper (streams/contracts.py)
AUDIT_KINDS = {"promote": "model_promotion", "rollback": "model_rollback"}
CHAMPION_ACTIONS = ("promote", "rollback")
HISTORY_TIMEOUT_S = 30.0  # reading where the rollout history ends; past it the worker scores with --model


@dataclass(frozen=True, slots=True)
class ControlMessage:
    action: str  # promote, rollback, shadow, shadow_off
    version: str | None
    model_dir: str | None
    previous: str | None
    ts: str

    def to_bytes(self) -> bytes:
        return json.dumps({"action": self.action, "version": self.version, "model_dir": self.model_dir,
                           "previous": self.previous, "ts": self.ts}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ControlMessage | None:
        """``None`` for anything that is not a well-formed control message (never raises)."""
        try:
            obj = json.loads(raw)
            if obj["action"] not in (*CHAMPION_ACTIONS, "shadow", "shadow_off"):
                return None
            if obj["action"] != "shadow_off" and not obj.get("model_dir"):
                return None
            return cls(obj["action"], obj.get("version"), obj.get("model_dir"), obj.get("previous"), str(obj.get("ts")))
        except (ValueError, KeyError, TypeError):
            return None


def message_for(change: Change, now_ms: int) -> ControlMessage:
    return ControlMessage(change.action, change.version,
                          str(Path(change.model_dir).resolve()) if change.model_dir else None,
                          change.previous, format_ts(now_ms))


def audit_record(message: ControlMessage, registry_root: str | None) -> dict[str, Any] | None:
    """The shared audit shape (COMMON.md) for a promotion or rollback; ``None`` for shadow changes."""
    kind = AUDIT_KINDS.get(message.action)
    if kind is None:
        return None
    digest = hashlib.sha256(f"{kind}|{message.version}|{message.previous}|{message.ts}".encode()).hexdigest()
    return {"audit_id": digest[:32], "kind": kind, "ts": message.ts, "subject": message.version,
            "request_id": None,
            "details": {"previous_version": message.previous, "model_dir": message.model_dir,
                        "registry": registry_root}}


def _audit_spec() -> TopicSpec:
    return BY_NAME.get(AUDIT_TOPIC) or TopicSpec(AUDIT_TOPIC, "subject", "out", None)


def publish(bootstrap: str, change: Change, registry_root: str | Path | None = None,
            now_ms: int | None = None, security: dict[str, str] | None = None) -> ControlMessage:
    """Send the control message (and its audit record) and wait until the broker has them.

    ``security``: librdkafka settings of a secured cluster; by default the ``MULEGUARD_KAFKA_*``
    environment, as the workers use (a rollback must reach the cluster the workers read)."""
    from confluent_kafka import Producer

    from topologies.broker import create_topics
    from topologies.settings import KafkaSecurity

    security = KafkaSecurity.from_env().librdkafka() if security is None else security
    message = message_for(change, now_ms if now_ms is not None else int(time.time() * 1000))
    create_topics(bootstrap, (CONTROL, _audit_spec()), security=security)
    producer = Producer({**security, "bootstrap.servers": bootstrap, "linger.ms": 0, "enable.idempotence": True})
    errors: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    producer.produce(CONTROL.name, message.to_bytes(), key=CONTROL_KEY, on_delivery=delivered)
    record = audit_record(message, str(registry_root) if registry_root else None)
    if record is not None:
        producer.produce(AUDIT_TOPIC, json.dumps(record, sort_keys=True).encode(),
                         key=str(record["subject"]).encode(), on_delivery=delivered)
    if producer.flush(30) or errors:
        raise RuntimeError(f"control message not delivered to {bootstrap}: {errors or 'timeout'}")
    return message


class Rollout:
    """The worker's side: the champion (``pipeline.scorer``, swapped in place) and a shadow."""

    def __init__(self, pipeline: Any) -> None:  # topologies.app.Pipeline (import cycle)
        self.p = pipeline
        self.challenger: Scorer | None = None
        self.settled = asyncio.Event()  # set once the rollout history has been taken into use
        m = pipeline.metrics
        self._agreement = {outcome: m.shadow_agreement.labels(outcome) for outcome in shadow.AGREEMENT}
        self._shadow_counts: dict[str, Any] = {}

    def observe(self, outcome: Outcome, vector: np.ndarray) -> None:
        """Score the challenger on the champion's event and count what it would have done."""
        challenger = self.challenger
        if challenger is None:
            return
        champion = shadow.champion_action(outcome)
        if champion is None:
            return
        action = shadow.would_decide(challenger, vector)
        counter = self._shadow_counts.get(action)
        if counter is None:
            counter = self._shadow_counts[action] = self.p.metrics.shadow_decisions.labels(challenger.version, action)
        counter.inc()
        self._agreement[shadow.agreement(champion, action)].inc()

    async def apply(self, message: ControlMessage) -> bool:
        """Take the message's model into use; ``False`` (old model kept) if it is refused."""
        m = self.p.metrics
        if message.action == "shadow_off":
            self.challenger = None
            m.model_switches.labels("shadow_off").inc()
            return True
        current = self.p.scorer.version if message.action in CHAMPION_ACTIONS else (
            self.challenger.version if self.challenger else None)
        if message.version is not None and message.version == current:
            return True
        try:
            loaded = await asyncio.get_running_loop().run_in_executor(None, Scorer(message.model_dir).load)
        except ModelMismatchError as exc:
            return self._refuse("mismatch", message, exc)
        except FileNotFoundError as exc:
            return self._refuse("missing", message, exc)
        except Exception as exc:  # noqa: BLE001 - a bad model must never take the worker down
            return self._refuse("error", message, exc)
        if message.action in CHAMPION_ACTIONS:
            previous = self.p.scorer.version
            self.p.scorer.swap(loaded)
            m.model_info.info({"version": loaded.version})
            self._shadow_counts.clear()
            log.warning("model %s: now scoring with %s (was %s)", message.action, loaded.version, previous)
        else:
            self.challenger = loaded
            self._shadow_counts.clear()
            log.warning("shadow: challenger %s scored alongside %s", loaded.version, self.p.scorer.version)
        m.model_switches.labels(message.action).inc()
        return True

    async def apply_history(self, history: list[bytes]) -> None:
        """Take the outcome of the rollout history into use, then let scoring start."""
        for message in outcome(history, self.malformed):
            await self.apply(message)
        self.settled.set()

    def malformed(self, raw: bytes) -> None:
        self.p.metrics.model_refused.labels("malformed").inc()
        log.error("ignored a malformed control message: %r", raw[:200])

    def _refuse(self, reason: str, message: ControlMessage, exc: BaseException) -> bool:
        self.p.metrics.model_refused.labels(reason).inc()
        log.error("refused %s of model %s from %s, keeping %s: %s", message.action, message.version,
                  message.model_dir, self.p.scorer.version, exc)
        return False


def outcome(history: list[bytes], malformed: Any = None) -> list[ControlMessage]:
    """What a rollout history leaves in force: its last champion change, then its last shadow
    change (``shadow_off`` included); malformed messages go to ``malformed(raw)``.

    Examples:
        >>> msg = lambda action, v: ControlMessage(action, v, f"/m/{v}", None, "t").to_bytes()
        >>> [(m.action, m.version) for m in outcome([msg("promote", "a"), msg("shadow", "s"),
        ...     msg("promote", "bad"), msg("rollback", "a"), b"junk"])]
        [('rollback', 'a'), ('shadow', 's')]
    """
    champion = shadow_change = None
    for raw in history:
        message = ControlMessage.from_bytes(raw)
        if message is None:
            if malformed is not None:
                malformed(raw)
        elif message.action in CHAMPION_ACTIONS:
            champion = message
        else:
            shadow_change = message
    return [m for m in (champion, shadow_change) if m is not None]


def _follow(bootstrap: str, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue, stop: threading.Event) -> None:
    """Thread: read the control topic from the start; hand the history up to the end it had
    when we started to the loop as one list, then every later message on its own."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"muleguard-control-{time.time_ns()}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "fetch.wait.max.ms": 100})
    history: list[bytes] | None = []
    try:
        partitions = [TopicPartition(CONTROL.name, n, OFFSET_BEGINNING) for n in range(CONTROL.partitions)]
        try:
            ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=HISTORY_TIMEOUT_S)[1]
                    for tp in partitions}
        except Exception as exc:  # noqa: BLE001 - then every message is applied as it comes, as live ones are
            log.warning("could not read where the rollout history ends (%s): applying it message by message", exc)
            ends = {}
        consumer.assign(partitions)
        behind = {n for n, end in ends.items() if end > 0}
        while not stop.is_set():
            if history is not None and not behind:
                loop.call_soon_threadsafe(queue.put_nowait, history)
                history = None
            message = consumer.poll(0.25)
            if message is None or message.error():
                continue
            if history is None:
                loop.call_soon_threadsafe(queue.put_nowait, message.value())
                continue
            history.append(message.value())
            if message.offset() + 1 >= ends[message.partition()]:
                behind.discard(message.partition())
    except Exception:  # noqa: BLE001 - logged; the worker keeps scoring with its current model
        log.exception("control topic follower stopped")
        if history is not None:  # never leave scoring waiting for a history that will not come
            loop.call_soon_threadsafe(queue.put_nowait, history)
    finally:
        consumer.close()


def register(p: Any) -> Rollout:
    """Attach a ``Rollout`` to the pipeline and follow the control topic while the app runs."""
    from topologies.broker import bootstrap_of, create_topics

    rollout = Rollout(p)

    @p.app.task
    async def follow_control() -> None:
        bootstrap = bootstrap_of(p.settings.broker)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, create_topics, bootstrap, (CONTROL,))
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        stop = threading.Event()
        thread = threading.Thread(target=_follow, args=(bootstrap, loop, queue, stop), daemon=True,
                                  name="muleguard-control")
        thread.start()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, list):
                    await rollout.apply_history(item)
                    continue
                message = ControlMessage.from_bytes(item)
                if message is None:
                    rollout.malformed(item)
                    continue
                await rollout.apply(message)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await loop.run_in_executor(None, thread.join, 2.0)

    return rollout
