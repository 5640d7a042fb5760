"""The cases agent (one state per victim's case) and the hold-expiry timer with its clock.

Cases: traced accounts on many partitions send case updates keyed by case id, so one worker
owns each case and writes it (table ``cases_v1``); a police complaint on a case sends an
``ExtendHold`` back to each held account.

Expiry: the accounts agent is the only writer of holds. It keeps each account's next
expiry in ``hold_timers_v1``; a timer on every worker looks at its own active partitions and
sends an ``ExpiryCheck`` (carrying the worker clock's "now") to accounts with a due hold,
through the account-signals topic like any other change. The clock is wall time, or the
epoch milliseconds in ``MULEGUARD_CLOCK_FILE`` when set, so a test can move time forward.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from faust import StreamT

from features import cases as case_logic
from features.signals import ExpiryCheck, decode_signal
from streams.topics import ACCOUNT_SIGNALS, CASE_UPDATES
from topologies import runtime
from topologies.agents.score import BATCH_MAX, BATCH_WITHIN_S, dead_letter_failure, send_signals
from topologies.app import Pipeline

log = logging.getLogger(__name__)


class WorkerClock:
    """Now, in epoch ms: the wall clock, or what ``path`` says (a test's controllable clock)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    def now_ms(self) -> int:
        if self.path is not None:
            try:
                return int(self.path.read_text().strip())
            except (OSError, ValueError):
                log.warning("clock file %s unreadable: using the wall clock", self.path)
        return int(time.time() * 1000)


def due_accounts(timers: object, now_ms: int) -> list[bytes]:
    """Accounts (of this worker's active partitions) with a hold expiring by ``now_ms``."""
    return [key for key, value in timers.items() if value and int(value) <= now_ms]  # type: ignore[attr-defined]


def register(p: Pipeline) -> None:
    m = p.metrics
    consumed = m.events_consumed.labels(CASE_UPDATES.name)
    clock = WorkerClock(p.settings.clock_path)

    @runtime.agent(p.app, p.topics[CASE_UPDATES.name], name="cases")
    async def cases(stream: StreamT) -> None:
        """Per event: 1. merge the update into its case. Per batch: 2. write each changed case
        once; 3. send hold extensions a police complaint asks for."""
        staged, channel = runtime.StagedTable(p.cases), p.sender.channel()
        async for events in runtime.batches(stream, BATCH_MAX, BATCH_WITHIN_S, flush=[staged, channel]):
            consumed.inc(len(events))
            cache: dict[bytes, tuple[dict, object]] = {}
            outbox: list = []
            for event in events:
                key_bytes: bytes = event.key
                try:
                    signal = decode_signal(event.value)
                    if key_bytes in cache:
                        case = cache[key_bytes][0]
                    else:
                        raw = staged.get(event, key_bytes, None)
                        case = case_logic.from_bytes(raw, key_bytes.decode(), signal.ts_ms)
                        if raw is None:
                            m.case_status.labels(case["status"]).inc()
                    before = case["status"]
                    outbox += case_logic.apply(case, signal)
                except Exception as exc:  # noqa: BLE001 - see dead_letter_failure
                    dead_letter_failure(p, channel, event, CASE_UPDATES.name, exc)
                    continue
                if case["status"] != before:
                    m.case_status.labels(case["status"]).inc()
                cache[key_bytes] = (case, event)
            for key_bytes, (case, event) in cache.items():
                staged.set(event, key_bytes, case_logic.to_bytes(case))
            send_signals(p, channel, outbox)

    @p.app.timer(interval=p.settings.expiry_check_s)
    async def expire_holds() -> None:
        """Send an expiry check to every local account whose next hold expiry has passed.

        Repeats are harmless (a released hold is not released twice), so a check that races
        with the account's own update just finds nothing to do.
        """
        now_ms = clock.now_ms()
        due = due_accounts(p.hold_timers, now_ms)
        if not due:
            return
        channel = p.sender.channel()
        check = ExpiryCheck(now_ms, int(time.time() * 1000))
        send_signals(p, channel, [(ACCOUNT_SIGNALS.name, key.decode(), check) for key in due])
        m.expiry_checks.inc(len(due))
        await (await channel.flush())
