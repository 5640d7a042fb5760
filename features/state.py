"""Everything kept per account and per identity, with a compact, versioned byte encoding.

State is bytes in a RocksDB-backed Table (never pickles, never JSON dicts of floats). A
worker decodes a key's state once per batch and encodes it once per batch, so the layout
is built for that: one ``struct`` header holding every integer and every section length,
then the flows as packed ``int64`` arrays (one array each), the bounded counterparty sets
as ``uint32`` arrays, and last the *trace memory* (recent outgoing transfers, taints,
reports: strings, read by few signals) as a compact JSON object that is parsed only when
one of its parts is touched, encoded again only if one was touched since the last encode,
and copied through unparsed otherwise.

Extending: a new per-account item that few signals read goes into the trace memory under
a new key (absent = empty; no version bump, old state stays readable). Changing the header
or the flows bumps ``STATE_VERSION``; the table name carries it, so old state is never read
as new.
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import orjson

from features.windows import Flow

STATE_VERSION = 4
MAX_KNOWN_COUNTERPARTIES = 64
MAX_LINKED_ACCOUNTS = 32
MAX_DEVICES = 8
MAX_RECENT_OUT = 24  # outgoing transfers kept for tracing reports that arrive hours later
MAX_TAINTS = 8
MAX_REPORTED = 16
MAX_UNMATCHED_REPORTS = 16  # reported transfers not seen yet at the victim's account
MAX_HOLDS = 16  # hold lifecycle rows per account (active ones are never dropped)
# Hold rows (features/holds.py owns the logic): (request_id, case_id ("" none), reason,
# legal_basis, status, hop (0 none), traced_satang, requested_satang, held_satang (-1 unknown),
# created_ts_ms, expires_ts_ms, released_satang, trigger)
HOLD_LAYOUT = "sssssqqqqqqqs"
SCORE_SUMMARY_NONE = (-1, -1, 0, -1)  # last score ppm, max score ppm, scored count, last scored ts
_ACCOUNT, _IDENTITY = 1, 2
_NONE = 255  # string length byte of a missing string

_ACCOUNT_INTS = (
    "opened_ts_ms", "first_seen_ts_ms", "last_event_ts_ms", "burst_start_ts_ms",
    "dormant_gap_ms", "out_count_total", "out_sum_total", "phone_accounts", "device_accounts",
    "nid_accounts", "held_identity_links", "phone_held", "nid_held", "device_held", "risky_call_ts_ms",
    "risky_caller_calls_24h",
    "sim_change_ts_ms", "phone_calls_24h", "taint_hops", "taint_until_ms", "held_until_ms", "phone_context_ts_ms",
    "score_last_ppm", "score_max_ppm", "scored_count", "scored_last_ts_ms",
)
_IDENTITY_INTS = (
    "sim_change_ts_ms", "sim_register_ts_ms", "scam_reports", "risky_call_ts_ms",
    "risky_caller_calls_24h", "pushed_velocity_level",
)
_STRINGS = ("msisdn_hash", "device_id", "national_id_hash")
_SETS = ("payees", "payers", "devices")
_FLOWS = ("inflow", "outflow", "first_inflow", "tainted_inflow")
# version, kind, ints, string lengths, flow sizes, set sizes, applied pairs, trace-memory length
_ACCOUNT_HEAD = struct.Struct(f"<BB{len(_ACCOUNT_INTS)}q3B4H3BBI")
# version, kind, ints, applied pairs, links length
_IDENTITY_HEAD = struct.Struct(f"<BB{len(_IDENTITY_INTS)}qBI")
_TUPLE_ROWS = ("o", "t", "r", "h", "u")  # trace-memory parts whose rows are tuples
_PART_KEYS = {part: f'"{part}":'.encode() for part in (*_TUPLE_ROWS, "k", "p")}  # how a part's key is encoded


def _setter(names: tuple[str, ...]):  # noqa: ANN202
    """``f(obj, values)`` assigning ``values`` to ``names`` in one statement (no setattr loop)."""
    targets = "".join(f"o.{name}, " for name in names)
    scope: dict[str, Any] = {}
    exec(f"def assign(o, v):\n    {targets} = v\n", scope)  # noqa: S102 - generated from constants
    return scope["assign"]


def _check_version(buf: memoryview, kind: int) -> None:
    if len(buf) < 2 or buf[0] != STATE_VERSION or buf[1] != kind:
        got = f"{buf[0]}/{buf[1]}" if len(buf) >= 2 else "empty"
        raise ValueError(f"state version {got} is not {STATE_VERSION}/{kind}")


class _TraceMemory:
    """The lazily parsed JSON section: ``doc`` is None until a part is read."""

    @staticmethod
    def parse(raw: bytes) -> dict[str, list]:
        if not raw:
            return {}
        doc = orjson.loads(raw)
        for key in _TUPLE_ROWS:
            if key in doc:
                doc[key] = [tuple(row) for row in doc[key]]
        return doc

    @staticmethod
    def dump(doc: dict[str, list]) -> bytes:
        kept = {k: v for k, v in doc.items() if v}
        return orjson.dumps(kept) if kept else b""


@dataclass(slots=True)
class AccountState:
    """One bank account's memory: its flows, who it pays, its identities and telecom context.

    ``-1`` means unknown for times and counts, so "no registry record" stays distinguishable
    from "opened at epoch 0" and features can be missing rather than zero.
    """

    opened_ts_ms: int = -1
    first_seen_ts_ms: int = -1
    last_event_ts_ms: int = -1
    burst_start_ts_ms: int = -1
    dormant_gap_ms: int = -1
    out_count_total: int = 0
    out_sum_total: int = 0
    phone_accounts: int = -1
    device_accounts: int = -1
    nid_accounts: int = -1
    held_identity_links: int = 0  # the largest of the three below
    phone_held: int = 0  # held accounts other than this one behind its phone, as the phone told
    nid_held: int = 0
    device_held: int = 0  # the largest over its devices
    risky_call_ts_ms: int = -1
    risky_caller_calls_24h: int = 0
    sim_change_ts_ms: int = -1
    phone_calls_24h: int = -1
    taint_hops: int = -1  # as of the latest taint learned; read through network.taint_hops_at
    taint_until_ms: int = -1  # event time the taint lapses (features/network.py)
    held_until_ms: int = -1
    phone_context_ts_ms: int = -1
    score_last_ppm: int = -1
    score_max_ppm: int = -1
    scored_count: int = 0
    scored_last_ts_ms: int = -1
    msisdn_hash: str | None = None
    device_id: str | None = None
    national_id_hash: str | None = None
    inflow: Flow = field(default_factory=Flow)
    outflow: Flow = field(default_factory=Flow)
    first_inflow: Flow = field(default_factory=Flow)
    tainted_inflow: Flow = field(default_factory=Flow)
    payees: array = field(default_factory=lambda: array("I"))
    payers: array = field(default_factory=lambda: array("I"))
    devices: array = field(default_factory=lambda: array("I"))
    # which signals this state applied, to skip them when delivered again (features/origin.py)
    applied: array = field(default_factory=lambda: array("q"))
    # The trace memory (see module docstring): parsed on first access of a part below.
    _memory: dict[str, list] | None = field(default=None, repr=False)
    _memory_raw: bytes = field(default=b"", repr=False)
    _memory_touched: bool = field(default=False, repr=False)  # handed out since the last encode

    def memory(self) -> dict[str, list]:
        """The trace memory, parsed now if it was not yet (parts: ``o``, ``t``, ``r``, ...)."""
        if self._memory is None:
            self._memory = _TraceMemory.parse(self._memory_raw)
        self._memory_touched = True  # the caller may change it: encode it again
        return self._memory

    def peek(self, part: str) -> list | tuple:
        """One part of the trace memory to read only (never change what it returns).

        Unlike ``memory`` it does not mark the memory for encoding again, and an absent part
        is not even parsed for: the worker asks every account it touches for its next hold
        expiry twice per batch, and most accounts have no hold rows.
        """
        memory = self._memory
        if memory is None:
            raw = self._memory_raw
            if not raw or _PART_KEYS[part] not in raw:
                return ()
            memory = self._memory = _TraceMemory.parse(raw)
        return memory.get(part) or ()

    # (transfer_id, ts_ms, dst account key, amount_satang), oldest first
    @property
    def recent_out(self) -> list[tuple[str, int, str, int]]:
        return self.memory().setdefault("o", [])

    @recent_out.setter
    def recent_out(self, rows: list[tuple[str, int, str, int]]) -> None:
        self.memory()["o"] = rows

    # (case_id, credit transfer_id, hop, remaining_satang, credit_ts_ms, report_ts_ms, police)
    @property
    def taints(self) -> list[tuple[str, str, int, int, int, int, int]]:
        return self.memory().setdefault("t", [])

    @taints.setter
    def taints(self, rows: list[tuple[str, str, int, int, int, int, int]]) -> None:
        self.memory()["t"] = rows

    # (reported transfer_id, case_id): a second report of the same money joins the first case
    @property
    def reported(self) -> list[tuple[str, str]]:
        return self.memory().setdefault("r", [])

    @reported.setter
    def reported(self, rows: list[tuple[str, str]]) -> None:
        self.memory()["r"] = rows

    # (transfer_id, report_id, report_ts_ms, police): reported before the transfer
    # itself reached this (the victim's) account; traced when it does (features/trace.py)
    @property
    def unmatched_reports(self) -> list[tuple[str, str, int, int]]:
        return self.memory().setdefault("u", [])

    @unmatched_reports.setter
    def unmatched_reports(self, rows: list[tuple[str, str, int, int]]) -> None:
        self.memory()["u"] = rows

    # device -> [accounts linked to it, held ones other than this account], as the device last
    # told (IdentityCount); only this account's current devices (features/engine.py)
    @property
    def identity_counts(self) -> dict[str, list[int]]:
        return self.memory().setdefault("k", {})  # type: ignore[return-value]

    def identities(self) -> list[str]:
        """Every identity this account is linked to: the registry's, and devices it transferred
        from (known by name once the device told it its counts)."""
        named = [ident for ident in (self.msisdn_hash, self.device_id, self.national_id_hash) if ident]
        return named + [ident for ident in self.peek("k") if ident not in named]  # type: ignore[union-attr]

    # HOLD_LAYOUT rows, oldest first (features/holds.py)
    @property
    def holds(self) -> list[tuple]:
        return self.memory().setdefault("h", [])

    @holds.setter
    def holds(self, rows: list[tuple]) -> None:
        self.memory()["h"] = rows

    @property
    def score_summary(self) -> tuple[int, int, int, int]:
        """(last score ppm, max score ppm, scored count, last scored ts), SCORE_SUMMARY_NONE if never."""
        return (self.score_last_ppm, self.score_max_ppm, self.scored_count, self.scored_last_ts_ms)

    @score_summary.setter
    def score_summary(self, value: tuple[int, int, int, int]) -> None:
        self.score_last_ppm, self.score_max_ppm, self.scored_count, self.scored_last_ts_ms = value

    def to_bytes(self) -> bytes:
        memory = self._memory_raw
        if self._memory_touched:
            memory = self._memory_raw = _TraceMemory.dump(self._memory)  # type: ignore[arg-type]
            self._memory_touched = False
        phone, device, nid = self.msisdn_hash, self.device_id, self.national_id_hash
        phone_raw = phone.encode() if phone is not None else b""
        device_raw = device.encode() if device is not None else b""
        nid_raw = nid.encode() if nid is not None else b""
        inflow, outflow, first_inflow, tainted_inflow = _flows_of(self)
        payees, payers, devices, applied = self.payees, self.payers, self.devices, self.applied
        head = _ACCOUNT_HEAD.pack(
            STATE_VERSION, _ACCOUNT, *_account_ints(self),
            len(phone_raw) if phone is not None else _NONE, len(device_raw) if device is not None else _NONE,
            len(nid_raw) if nid is not None else _NONE,
            inflow.n, outflow.n, first_inflow.n, tainted_inflow.n, len(payees), len(payers), len(devices),
            (len(applied) + 1) // 2, len(memory))
        return b"".join((head, phone_raw, device_raw, nid_raw, inflow.data.tobytes(), outflow.data.tobytes(),
                         first_inflow.data.tobytes(), tainted_inflow.data.tobytes(), payees.tobytes(),
                         payers.tobytes(), devices.tobytes(), _applied_bytes(applied), memory))

    @classmethod
    def from_bytes(cls, raw: bytes) -> AccountState:
        """Examples:
        >>> s = AccountState(opened_ts_ms=5, msisdn_hash="ph_1"); s.inflow.add(9, 100, 3)
        >>> s.recent_out.append(("t1", 9, "KTB:2", 100))
        >>> t = AccountState.from_bytes(s.to_bytes())
        >>> (t.opened_ts_ms, t.msisdn_hash, t.inflow.window(9, 10), t.device_id, t.recent_out)
        (5, 'ph_1', (1, 100, 100, 1), None, [('t1', 9, 'KTB:2', 100)])
        """
        buf = memoryview(raw)
        _check_version(buf, _ACCOUNT)
        head = _ACCOUNT_HEAD.unpack_from(buf)
        state = cls.__new__(cls)
        _set_account_ints(state, head[2:_N_ACCOUNT_INTS])
        pos = _ACCOUNT_HEAD.size
        strings = []
        for n in head[_N_ACCOUNT_INTS:_N_ACCOUNT_INTS + 3]:
            if n == _NONE:
                strings.append(None)
            else:
                strings.append(str(buf[pos:pos + n], "utf-8"))
                pos += n
        _set_strings(state, strings)
        flows = []
        for n in head[_N_ACCOUNT_INTS + 3:_N_ACCOUNT_INTS + 7]:
            flow, pos = Flow.from_columns(buf, pos, n)
            flows.append(flow)
        _set_flows(state, flows)
        sets = []
        for n in head[_N_ACCOUNT_INTS + 7:_N_ACCOUNT_INTS + 10]:
            values = array("I")
            values.frombytes(buf[pos:pos + 4 * n])
            sets.append(values)
            pos += 4 * n
        _set_sets(state, sets)
        state.applied = _applied_from(buf[pos:pos + 16 * head[-2]])
        pos += 16 * head[-2]
        state._memory = None
        state._memory_raw = bytes(buf[pos:pos + head[-1]])
        state._memory_touched = False
        return state


_PAD_KEY = -1  # fills the redelivery memory to whole pairs (features/origin.py keys are >= 0)
_PAD = array("q", [_PAD_KEY]).tobytes()


def _applied_bytes(applied: array) -> bytes:
    """The redelivery memory as whole 16-byte pairs, as the header counts it (engine 4 kept
    pairs; now it is a sorted array of keys, padded when their number is odd)."""
    return applied.tobytes() + _PAD if len(applied) & 1 else applied.tobytes()


def _applied_from(raw: memoryview) -> array:
    applied = array("q")
    applied.frombytes(raw)
    if applied and applied[-1] == _PAD_KEY:
        del applied[-1]
    return applied


_N_ACCOUNT_INTS = 2 + len(_ACCOUNT_INTS)
_account_ints = attrgetter(*_ACCOUNT_INTS)
_flows_of = attrgetter(*_FLOWS)
_set_account_ints = _setter(_ACCOUNT_INTS)
_set_strings = _setter(_STRINGS)
_set_sets = _setter(_SETS)
_set_flows = _setter(_FLOWS)


@dataclass(slots=True)
class IdentityState:
    """A phone, device or national ID: the accounts behind it and, for phones, call behaviour.

    The linked accounts are parsed on first access: call events, most of a phone's
    traffic, usually do not need them.
    """

    sim_change_ts_ms: int = -1
    sim_register_ts_ms: int = -1
    scam_reports: int = 0
    risky_call_ts_ms: int = -1
    risky_caller_calls_24h: int = 0
    pushed_velocity_level: int = 0
    calls_out: Flow = field(default_factory=Flow)
    applied: array = field(default_factory=lambda: array("q"))  # as AccountState.applied
    _links: list[list[str]] | None = field(default=None, repr=False)
    _links_raw: bytes = field(default=b"", repr=False)
    _links_touched: bool = field(default=False, repr=False)  # changed since the last encode

    def _linked(self) -> list[list[str]]:
        if self._links is None:
            self._links = orjson.loads(self._links_raw) if self._links_raw else [[], []]
        return self._links

    @property
    def accounts(self) -> list[str]:
        """The linked accounts, oldest first (read only: ``link`` changes them)."""
        return self._linked()[0]

    @property
    def held_accounts(self) -> list[str]:
        """The linked accounts known to be held (read only: ``link`` changes them)."""
        return self._linked()[1]

    def link(self, account: str, held: bool) -> bool:
        """Add ``account`` (and to the held ones if ``held``), each bounded by
        ``MAX_LINKED_ACCOUNTS``; True if anything changed. Only a change is encoded again:
        most signals at an identity just read who is behind it."""
        accounts, held_accounts = self._linked()
        changed = False
        if account not in accounts and len(accounts) < MAX_LINKED_ACCOUNTS:
            accounts.append(account)
            changed = True
        if held and account not in held_accounts and len(held_accounts) < MAX_LINKED_ACCOUNTS:
            held_accounts.append(account)
            changed = True
        self._links_touched |= changed
        return changed

    def unlink(self, account: str) -> bool:
        """Forget ``account`` (a registry record moved it elsewhere); True if it was linked."""
        accounts, held_accounts = self._linked()
        changed = False
        for linked in (accounts, held_accounts):
            if account in linked:
                linked.remove(account)
                changed = True
        self._links_touched |= changed
        return changed

    def release(self, account: str) -> bool:
        """``account`` is no longer held; True if it was counted as held."""
        held_accounts = self._linked()[1]
        if account not in held_accounts:
            return False
        held_accounts.remove(account)
        self._links_touched = True
        return True

    def to_bytes(self) -> bytes:
        links = self._links_raw
        if self._links_touched:
            links = self._links_raw = orjson.dumps(self._links) if any(self._links) else b""  # type: ignore[arg-type]
            self._links_touched = False
        head = _IDENTITY_HEAD.pack(STATE_VERSION, _IDENTITY, *_identity_ints(self), (len(self.applied) + 1) // 2,
                                   len(links))
        return b"".join((head, self.calls_out.to_bytes(), _applied_bytes(self.applied), links))

    @classmethod
    def from_bytes(cls, raw: bytes) -> IdentityState:
        """Examples:
        >>> s = IdentityState(scam_reports=2); s.link("KTB:1", False); s.calls_out.add(5, 1, 9)
        True
        >>> t = IdentityState.from_bytes(s.to_bytes())
        >>> (t.scam_reports, t.accounts, t.held_accounts, len(t.calls_out))
        (2, ['KTB:1'], [], 1)
        """
        buf = memoryview(raw)
        _check_version(buf, _IDENTITY)
        head = _IDENTITY_HEAD.unpack_from(buf)
        state = cls.__new__(cls)
        _set_identity_ints(state, head[2:-2])
        state.calls_out, pos = Flow.from_bytes(buf, _IDENTITY_HEAD.size)
        state.applied = _applied_from(buf[pos:pos + 16 * head[-2]])
        pos += 16 * head[-2]
        state._links = None
        state._links_raw = bytes(buf[pos:pos + head[-1]])
        state._links_touched = False
        return state


_identity_ints = attrgetter(*_IDENTITY_INTS)
_set_identity_ints = _setter(_IDENTITY_INTS)


class DecodedStates:
    """Decoded states kept between batches, so a busy key is not decoded every batch.

    An entry is the state object and the exact bytes it was encoded to. It is used only
    while the stored bytes are still those bytes, so it can never go stale: a write by
    another worker after a rebalance, or a batch whose writes were lost, leaves different
    bytes in the table and the key is decoded afresh. ``load`` removes the entry (a state
    being changed is never in the cache); ``put`` returns it after the batch encoded it.
    The oldest entries go first beyond ``capacity``.

    Examples:
        >>> cache = DecodedStates(AccountState, capacity=1)
        >>> s = AccountState(opened_ts_ms=5); raw = s.to_bytes(); cache.put("a", raw, s)
        >>> cache.load("a", raw) is s, cache.load("a", raw) is s  # the second one decodes
        (True, False)
        >>> cache.put("a", raw, s); cache.load("a", AccountState(opened_ts_ms=6).to_bytes()).opened_ts_ms
        6
    """

    __slots__ = ("cls", "capacity", "_entries", "hits", "misses")

    def __init__(self, cls: type[AccountState] | type[IdentityState], capacity: int = 20_000) -> None:
        self.cls, self.capacity = cls, capacity
        self._entries: dict[Any, tuple[bytes, AccountState | IdentityState]] = {}
        self.hits = self.misses = 0

    def load(self, key: Any, raw: bytes | None) -> Any:
        """The state stored as ``raw`` (a new one for None), from the cache when it matches."""
        entry = self._entries.pop(key, None)
        if entry is not None and entry[0] == raw:
            self.hits += 1
            return entry[1]
        self.misses += 1
        return self.cls.from_bytes(raw) if raw else self.cls()

    def put(self, key: Any, raw: bytes, state: AccountState | IdentityState) -> None:
        """Keep ``state``, just encoded to ``raw`` (and stored as that), for later batches."""
        entries = self._entries
        entries[key] = (raw, state)
        if len(entries) > self.capacity:
            del entries[next(iter(entries))]
