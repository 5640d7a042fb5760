"""Follow the money of a victim report, hop by hop, with one documented taint rule.

Taint rule ("tainted first"): when traced money reaches an account, every later outgoing
transfer of that account carries taint first, up to the traced amount still there. So the
amount traced into the next hop is ``min(remaining taint, untraced part of the transfer)``,
in time order. Each outgoing transfer remembers how much of it is not yet attributed to
traced money, so fan-in (two traced credits leaving through one transfer) never traces more
than the transfer carried. It is simple to explain to a bank officer and never traces more
than arrived.

Each hop is handled by the worker owning that account (a ``Taint`` signal keyed by it).
Accounts keep a bounded history of their recent outgoing transfers, so a report hours
later still finds where the money went, and keep each taint's remainder, so money moved
after the report is traced live. The report and the transfer come by different topics,
so a report can reach the victim's account first: the transfers it names that are not
there yet are kept (``unmatched_reports``) and traced when they arrive.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from operator import itemgetter

from features.holds import request_id
from features.signals import CaseHop, CaseReported, Emit, Taint, TransferOut, VictimReported
from features.state import MAX_RECENT_OUT, MAX_REPORTED, MAX_TAINTS, MAX_UNMATCHED_REPORTS, AccountState
from features.windows import DAY_MS
from streams.topics import ACCOUNT_SIGNALS, CASE_UPDATES

TRACE_HISTORY_MS = 3 * DAY_MS
MAX_HOPS = 4
MERCHANT_DISTINCT_PAYERS_7D = 20  # fan-in this wide is a shop, biller or exchange: review, don't hold
CASH_CHANNELS = frozenset({"atm", "counter"})  # money that left as cash: nothing further to hold
# Traced parts under 100 THB are attributed (tainted first) but neither followed nor held;
# cash withdrawals still show on the trail. A mule's small leftover cut otherwise taints its
# next bill or shop payment: on simulated data such crumbs (median 7 THB) were 80% of the
# honest accounts held by tracing (docs/tracing.md).
MIN_TRACED_SATANG = 10_000
# The longest hold traced money can justify: 7 days from a police complaint (the report's
# time when the report carried it; models.policy.POLICE_COMPLAINT_HOLD_MS). A victim-report
# hold lasts 72 h, but a complaint may still come, so money is followed until report + 7 days
# and no longer: a hold requested later would already have run out (docs/tracing.md).
TAINT_LIFETIME_MS = 7 * DAY_MS


CASHED_OUT = ""  # recent_out destination of a cash withdrawal
_row_ts = itemgetter(1)  # of a recent_out row


@dataclass(frozen=True, slots=True)
class TraceHit:
    """Traced money reached ``key``: the policy turns this into a hold or a review."""

    key: str
    case_id: str
    hop: int
    amount_satang: int
    transfer_id: str
    from_account: str
    credit_ts_ms: int
    report_ts_ms: int
    police: bool
    merchant_like: bool
    ingest_ms: int
    transfer_satang: int = 0
    via: str = ""


def remember_out(state: AccountState, s: TransferOut) -> None:
    """Keep this outgoing transfer for later reports; forget what is too old or too many."""
    dst = CASHED_OUT if s.channel in CASH_CHANNELS else s.counterparty
    rows = state.recent_out
    rows.append((s.transfer_id, s.ts_ms, dst, s.amount_satang))
    if len(rows) > 1 and s.ts_ms < rows[-2][1]:
        rows.sort(key=_row_ts)
    horizon = state.last_event_ts_ms - TRACE_HISTORY_MS
    if rows[0][1] < horizon or len(rows) > MAX_RECENT_OUT:  # rebuilt only when something goes
        state.recent_out = [row for row in rows if row[1] >= horizon][-MAX_RECENT_OUT:]


def on_report(state: AccountState, key: str, s: VictimReported) -> list[Emit]:
    """At the victim's account: send a hop-1 taint to every account the reported money reached.

    A transfer already in a case (traced, or waiting for its transfer to arrive) joins that
    case: only the case hears of the report, which may carry a police complaint. Its money
    was traced once already; sending the taint again would retrace it wherever the receiver
    no longer remembers it.
    """
    known = dict(state.reported)
    known.update((row[0], row[1]) for row in state.unmatched_reports if row[0] not in known)
    emits: list[Emit] = []
    by_id = {row[0]: row for row in state.recent_out}
    reported: dict[str, int] = {}  # case -> satang reported in it
    for transfer_id in s.transfer_ids:
        row = by_id.get(transfer_id)
        if transfer_id in known:
            reported.setdefault(known[transfer_id], 0)
            continue
        known[transfer_id] = s.report_id
        if row is None:
            _keep_unmatched(state, transfer_id, s)
            reported.setdefault(s.report_id, 0)
            continue
        if row[2] == CASHED_OUT:
            continue
        reported[s.report_id] = reported.get(s.report_id, 0) + row[3]
        state.reported.append((transfer_id, s.report_id))
        emits.append(_first_hop(key, s.report_id, row, s.ts_ms, s.ingest_ms, s.police_complaint_ref is not None))
    state.reported = state.reported[-MAX_REPORTED:]
    # The case hears of the report (a repeat carrying a police complaint extends its holds).
    for case_id, satang in (reported or {s.report_id: 0}).items():
        emits.append((CASE_UPDATES.name, case_id, CaseReported(
            s.ts_ms, s.ingest_ms, case_id, key, s.report_id, satang, s.police_complaint_ref)))
    return emits


def _first_hop(victim: str, case_id: str, sent: tuple[str, int, str, int], report_ts_ms: int, ingest_ms: int,
               police: bool) -> Emit:
    """The hop-1 taint of one reported transfer (a ``recent_out`` row), to its receiver."""
    transfer_id, ts, dst, amount = sent
    return (ACCOUNT_SIGNALS.name, dst, Taint(
        report_ts_ms, ingest_ms, case_id, 1, amount, transfer_id, victim, ts, report_ts_ms, police, amount, ""))


def _keep_unmatched(state: AccountState, transfer_id: str, s: VictimReported) -> None:
    unmatched = state.unmatched_reports
    if all(row[0] != transfer_id for row in unmatched):
        unmatched.append((transfer_id, s.report_id, s.ts_ms, int(s.police_complaint_ref is not None)))
        state.unmatched_reports = unmatched[-MAX_UNMATCHED_REPORTS:]


def trace_late_transfer(state: AccountState, key: str, s: TransferOut) -> list[Emit]:
    """The victim's transfer arrived after the report naming it: trace it now, as the report
    would have; the case hears of its amount under ``<report_id>+<transfer_id>``.

    Call after :func:`remember_out`. The other rows whose report is older than the trace
    history (behind the account's newest event) are forgotten here; the row this transfer
    matches is traced first, whatever its age (a reported transfer was made before its
    report, so its own time never makes the report look old).
    """
    memory = state.memory()
    unmatched = memory.get("u")
    if not unmatched:
        return []
    horizon = state.last_event_ts_ms - TRACE_HISTORY_MS
    row = next((r for r in unmatched if r[0] == s.transfer_id), None)
    state.unmatched_reports = [r for r in unmatched if r is not row and r[2] >= horizon]
    if row is None or s.channel in CASH_CHANNELS:
        return []
    transfer_id, case_id, report_ts, police = row  # an unmatched transfer's case is its first report
    state.reported.append((transfer_id, case_id))
    state.reported = state.reported[-MAX_REPORTED:]
    sent = (transfer_id, s.ts_ms, s.counterparty, s.amount_satang)  # as remember_out keeps it
    return [
        _first_hop(key, case_id, sent, report_ts, s.ingest_ms, bool(police)),
        (CASE_UPDATES.name, case_id, CaseReported(
            report_ts, s.ingest_ms, case_id, key, f"{case_id}+{transfer_id}", s.amount_satang, None)),
    ]


def _forward(state: AccountState, key: str, entry: list, outs: list[int], ingest_ms: int, at_ms: int) -> list[Emit]:
    """Apply the tainted-first rule along ``state.recent_out[i] for i in outs`` (time order).

    Updates ``entry``'s remainder and each transfer's untraced amount in place: when two
    traced credits (fan-in) leave through the same transfer, together they never trace more
    than the transfer carried.
    """
    case_id, credit, hop, remaining, _, report_ts, police = entry
    emits: list[Emit] = []
    if hop >= MAX_HOPS:
        return emits
    via = hashlib.sha256(credit.encode()).hexdigest()[:12]
    for i in outs:
        transfer_id, ts, dst, untraced = state.recent_out[i]
        if remaining <= 0 or ts >= report_ts + TAINT_LIFETIME_MS:
            break
        part = min(remaining, untraced)
        if part <= 0:
            continue
        remaining -= part
        state.recent_out[i] = (transfer_id, ts, dst, untraced - part)
        if dst == CASHED_OUT:  # withdrawn in cash: the trail ends, the amount is no longer holdable
            emits.append((CASE_UPDATES.name, case_id, CaseHop(
                max(at_ms, ts), ingest_ms, case_id, f"CASH:{transfer_id}", hop + 1, "cash", part, transfer_id,
                key, ts, untraced, "none", "", 0, -1, "")))
            continue
        if part < MIN_TRACED_SATANG:
            continue
        emits.append((ACCOUNT_SIGNALS.name, dst, Taint(
            max(at_ms, ts), ingest_ms, case_id, hop + 1, part, transfer_id, key, ts, report_ts, bool(police),
            untraced, via)))
    entry[3] = remaining
    return emits


def credit_key(s: Taint) -> str:
    """What identifies one part of traced money at its receiver: the transfer, and for fan-in
    parts of one transfer, which traced credit of the sender funded it.

    Examples:
        >>> credit_key(Taint(0, 0, "c", 2, 5, "t9", "KTB:1", 0, 0, False, 5, "ab12"))
        't9<ab12'
    """
    return f"{s.transfer_id}<{s.via}" if s.via else s.transfer_id


def on_taint(state: AccountState, key: str, s: Taint, endpoints: frozenset[str] = frozenset(),
             ) -> tuple[list[Emit], TraceHit | None]:
    """Record traced money; forward it along transfers already made; report the hit once.

    ``endpoints`` are allow-listed accounts (cash-out endpoints, merchants, payroll): the
    trail stops there and the policy flags them for review instead of holding them. Their
    taint is kept with nothing left to forward, so their later payments are not traced
    either, and a repeat is still recognised.
    """
    credit = credit_key(s)
    if _known(state, key, s.case_id, credit):
        return [], None  # the same money reported again, retried or replayed: nothing new
    entry = [s.case_id, credit, s.hop, s.amount_satang, s.credit_ts_ms, s.report_ts_ms, int(s.police)]
    merchant = key in endpoints or \
        state.inflow.window(s.credit_ts_ms, 7 * DAY_MS)[3] >= MERCHANT_DISTINCT_PAYERS_7D
    emits: list[Emit] = []
    if merchant:
        entry[3] = 0
    else:
        later = [i for i, row in enumerate(state.recent_out) if row[1] >= s.credit_ts_ms]
        emits = _forward(state, key, entry, later, s.ingest_ms, s.ts_ms)
    state.taints.append(tuple(entry))  # type: ignore[arg-type]
    _trim_taints(state, s.ts_ms)
    hit = TraceHit(key, s.case_id, s.hop, s.amount_satang, s.transfer_id, s.from_account,
                   s.credit_ts_ms, s.report_ts_ms, s.police, merchant, s.ingest_ms, s.transfer_satang, s.via)
    return emits, hit


def _known(state: AccountState, key: str, case_id: str, credit: str) -> bool:
    """This money of this case reached here before: its taint, or else the hold or review it
    got (whose request id the policy derives from the account, the case and the credit).
    Active holds are never dropped, so a repeat is recognised after its taint was trimmed.
    """
    if any(t[0] == case_id and t[1] == credit for t in state.taints):
        return True
    rows = [row[0] for row in state.peek("h") if row[1] == case_id]
    return bool(rows) and any(request_id(key, f"{case_id}/{credit}", action) in rows for action in ("hold", "review"))


def _trim_taints(state: AccountState, now_ms: int) -> None:
    """Keep ``MAX_TAINTS``: drop spent taints first (used up, or past ``TAINT_LIFETIME_MS``),
    oldest first, then the oldest; taints with money still to follow are what is worth keeping."""
    taints = state.taints
    excess = len(taints) - MAX_TAINTS
    if excess <= 0:
        return
    spent = [i for i, t in enumerate(taints) if t[3] <= 0 or t[5] + TAINT_LIFETIME_MS <= now_ms][:excess]
    if spent:
        taints = [t for i, t in enumerate(taints) if i not in spent]
    state.taints = taints[-MAX_TAINTS:]


def forward_live(state: AccountState, key: str, s: TransferOut) -> list[Emit]:
    """A tainted account moving money after the report taints the receiver at once."""
    emits: list[Emit] = []
    if not state.taints:  # the usual case: no traced money here to forward
        return emits
    row = next((i for i in range(len(state.recent_out) - 1, -1, -1) if state.recent_out[i][0] == s.transfer_id), None)
    if row is None:
        return emits
    for i, taint in enumerate(state.taints):
        if taint[3] > 0 and taint[4] <= s.ts_ms < taint[5] + TAINT_LIFETIME_MS:
            entry = list(taint)
            emits += _forward(state, key, entry, [row], s.ingest_ms, s.ts_ms)
            state.taints[i] = tuple(entry)  # type: ignore[assignment]
    return emits
