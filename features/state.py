"""Everything kept per account and per identity, with a compact, versioned byte encoding.

State is bytes in a RocksDB-backed Table (never pickles, never JSON dicts of floats): a
fixed block of integers, a few identity hashes, then the flows as packed arrays. Changing
what is kept bumps ``STATE_VERSION``; the table name carries it, so old state is never
read as new.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from features.windows import Flow

STATE_VERSION = 1
MAX_KNOWN_COUNTERPARTIES = 64
MAX_LINKED_ACCOUNTS = 32
MAX_DEVICES = 8
MAX_RECENT_OUT = 24  # outgoing transfers kept for tracing reports that arrive hours later
MAX_TAINTS = 8
MAX_REPORTED = 16
MAX_HOLDS = 16  # hold lifecycle rows per account (active ones are never dropped)

_ACCOUNT_INTS = (
    "opened_ts_ms", "first_seen_ts_ms", "last_event_ts_ms", "burst_start_ts_ms",
    "dormant_gap_ms", "out_count_total", "out_sum_total", "phone_accounts", "device_accounts",
    "nid_accounts", "held_identity_links", "risky_call_ts_ms", "risky_caller_calls_24h",
    "sim_change_ts_ms", "phone_calls_24h", "taint_hops", "held_until_ms", "phone_context_ts_ms",
)
_IDENTITY_INTS = (
    "sim_change_ts_ms", "sim_register_ts_ms", "scam_reports", "risky_call_ts_ms",
    "risky_caller_calls_24h", "pushed_velocity_level",
)


def _put_str(out: list[bytes], value: str | None) -> None:
    raw = b"" if value is None else value.encode()
    out.append(bytes((len(raw) if value is not None else 255,)) + raw)


def _get_str(buf: memoryview, pos: int) -> tuple[str | None, int]:
    n = buf[pos]
    if n == 255:
        return None, pos + 1
    return bytes(buf[pos + 1:pos + 1 + n]).decode(), pos + 1 + n


def _put_u32s(out: list[bytes], values: array) -> None:
    out.append(len(values).to_bytes(2, "little") + values.tobytes())


def _get_u32s(buf: memoryview, pos: int) -> tuple[array, int]:
    n = int.from_bytes(buf[pos:pos + 2], "little")
    values = array("I")
    values.frombytes(buf[pos + 2:pos + 2 + 4 * n])
    return values, pos + 2 + 4 * n


def _put_rows(out: list[bytes], rows: list[tuple], layout: str) -> None:
    """Small tuples of strings (``s``) and int64s (``q``), count-prefixed."""
    out.append(bytes((len(rows),)))
    for row in rows:
        for kind, value in zip(layout, row, strict=True):
            if kind == "s":
                _put_str(out, value)
            else:
                out.append(int(value).to_bytes(8, "little", signed=True))


def _get_rows(buf: memoryview, pos: int, layout: str) -> tuple[list[tuple], int]:
    count, pos = buf[pos], pos + 1
    rows = []
    for _ in range(count):
        row: list[object] = []
        for kind in layout:
            if kind == "s":
                value, pos = _get_str(buf, pos)
            else:
                value, pos = int.from_bytes(buf[pos:pos + 8], "little", signed=True), pos + 8
            row.append(value)
        rows.append(tuple(row))
    return rows, pos


# -- extension sections -------------------------------------------------------------------
# After the fixed layout come optional sections: tag byte, u32 length, payload. Readers skip
# tags they do not know and an account without a section pays nothing, so a section can be
# added without bumping STATE_VERSION (old bytes still decode; the table keeps its name).
SECTION_HOLDS = 1
# (request_id, case_id ("" none), reason, legal_basis, status, hop (0 none), traced_satang,
#  requested_satang, held_satang (-1 unknown), created_ts_ms, expires_ts_ms, released_satang, trigger)
HOLD_LAYOUT = "sssssqqqqqqqs"
SCORE_SUMMARY_NONE = (-1, -1, 0, -1)  # last score ppm, max score ppm, scored count, last scored ts


def _put_section(out: list[bytes], tag: int, payload: list[bytes]) -> None:
    body = b"".join(payload)
    out.append(bytes((tag,)) + len(body).to_bytes(4, "little") + body)


def _holds_payload(state: AccountState) -> list[bytes]:
    out = [array("q", state.score_summary).tobytes()]
    _put_rows(out, state.holds, HOLD_LAYOUT)
    return out


def _read_sections(state: AccountState, buf: memoryview, pos: int) -> None:
    while pos + 5 <= len(buf):
        tag, size = buf[pos], int.from_bytes(buf[pos + 1:pos + 5], "little")
        body = buf[pos + 5:pos + 5 + size]
        if tag == SECTION_HOLDS:
            summary = array("q")
            summary.frombytes(body[:32])
            state.score_summary = tuple(summary)  # type: ignore[assignment]
            state.holds, _ = _get_rows(body, 32, HOLD_LAYOUT)
        pos += 5 + size


def _check_version(buf: memoryview, kind: int) -> None:
    if buf[0] != STATE_VERSION or buf[1] != kind:
        raise ValueError(f"state version {buf[0]}/{buf[1]} is not {STATE_VERSION}/{kind}")


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
    held_identity_links: int = 0
    risky_call_ts_ms: int = -1
    risky_caller_calls_24h: int = 0
    sim_change_ts_ms: int = -1
    phone_calls_24h: int = -1
    taint_hops: int = -1
    held_until_ms: int = -1
    phone_context_ts_ms: int = -1
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
    # (transfer_id, ts_ms, dst account key, amount_satang), oldest first
    recent_out: list[tuple[str, int, str, int]] = field(default_factory=list)
    # (case_id, credit transfer_id, hop, remaining_satang, credit_ts_ms, report_ts_ms, police)
    taints: list[tuple[str, str, int, int, int, int, int]] = field(default_factory=list)
    # (reported transfer_id, case_id): a second report of the same money joins the first case
    reported: list[tuple[str, str]] = field(default_factory=list)
    # -- section SECTION_HOLDS (features/holds.py owns the logic) --
    holds: list[tuple] = field(default_factory=list)  # HOLD_LAYOUT rows, oldest first
    score_summary: tuple[int, int, int, int] = SCORE_SUMMARY_NONE

    def to_bytes(self) -> bytes:
        out = [bytes((STATE_VERSION, 1)), array("q", [getattr(self, n) for n in _ACCOUNT_INTS]).tobytes()]
        for value in (self.msisdn_hash, self.device_id, self.national_id_hash):
            _put_str(out, value)
        for flow in (self.inflow, self.outflow, self.first_inflow, self.tainted_inflow):
            out.append(flow.to_bytes())
        for values in (self.payees, self.payers, self.devices):
            _put_u32s(out, values)
        _put_rows(out, self.recent_out, "sqsq")
        _put_rows(out, self.taints, "ssqqqqq")
        _put_rows(out, self.reported, "ss")
        if self.holds or self.score_summary != SCORE_SUMMARY_NONE:
            _put_section(out, SECTION_HOLDS, _holds_payload(self))
        return b"".join(out)

    @classmethod
    def from_bytes(cls, raw: bytes) -> AccountState:
        """Examples:
        >>> s = AccountState(opened_ts_ms=5, msisdn_hash="ph_1"); s.inflow.add(9, 100, 3)
        >>> t = AccountState.from_bytes(s.to_bytes())
        >>> (t.opened_ts_ms, t.msisdn_hash, t.inflow.window(9, 10), t.device_id)
        (5, 'ph_1', (1, 100, 100, 1), None)
        """
        buf = memoryview(raw)
        _check_version(buf, 1)
        pos = 2 + 8 * len(_ACCOUNT_INTS)
        ints = array("q")
        ints.frombytes(buf[2:pos])
        state = cls(**dict(zip(_ACCOUNT_INTS, ints, strict=True)))
        state.msisdn_hash, pos = _get_str(buf, pos)
        state.device_id, pos = _get_str(buf, pos)
        state.national_id_hash, pos = _get_str(buf, pos)
        state.inflow, pos = Flow.from_bytes(buf, pos)
        state.outflow, pos = Flow.from_bytes(buf, pos)
        state.first_inflow, pos = Flow.from_bytes(buf, pos)
        state.tainted_inflow, pos = Flow.from_bytes(buf, pos)
        state.payees, pos = _get_u32s(buf, pos)
        state.payers, pos = _get_u32s(buf, pos)
        state.devices, pos = _get_u32s(buf, pos)
        state.recent_out, pos = _get_rows(buf, pos, "sqsq")
        state.taints, pos = _get_rows(buf, pos, "ssqqqqq")
        state.reported, pos = _get_rows(buf, pos, "ss")
        _read_sections(state, buf, pos)
        return state


@dataclass(slots=True)
class IdentityState:
    """A phone, device or national ID: the accounts behind it and, for phones, call behaviour."""

    sim_change_ts_ms: int = -1
    sim_register_ts_ms: int = -1
    scam_reports: int = 0
    risky_call_ts_ms: int = -1
    risky_caller_calls_24h: int = 0
    pushed_velocity_level: int = 0
    accounts: list[str] = field(default_factory=list)
    held_accounts: list[str] = field(default_factory=list)
    calls_out: Flow = field(default_factory=Flow)

    def to_bytes(self) -> bytes:
        out = [bytes((STATE_VERSION, 2)), array("q", [getattr(self, n) for n in _IDENTITY_INTS]).tobytes()]
        for group in (self.accounts, self.held_accounts):
            out.append(bytes((len(group),)))
            for account in group:
                _put_str(out, account)
        out.append(self.calls_out.to_bytes())
        return b"".join(out)

    @classmethod
    def from_bytes(cls, raw: bytes) -> IdentityState:
        """Examples:
        >>> s = IdentityState(scam_reports=2, accounts=["KTB:1"]); s.calls_out.add(5, 1, 9)
        >>> t = IdentityState.from_bytes(s.to_bytes())
        >>> (t.scam_reports, t.accounts, t.held_accounts, len(t.calls_out))
        (2, ['KTB:1'], [], 1)
        """
        buf = memoryview(raw)
        _check_version(buf, 2)
        pos = 2 + 8 * len(_IDENTITY_INTS)
        ints = array("q")
        ints.frombytes(buf[2:pos])
        state = cls(**dict(zip(_IDENTITY_INTS, ints, strict=True)))
        for name in ("accounts", "held_accounts"):
            n, pos = buf[pos], pos + 1
            group = getattr(state, name)
            for _ in range(n):
                value, pos = _get_str(buf, pos)
                group.append(value)
        state.calls_out, pos = Flow.from_bytes(buf, pos)
        return state
