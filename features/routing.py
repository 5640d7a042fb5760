"""Where each decoded input record goes: which keyed state must hear about it first."""

from __future__ import annotations

from features.signals import CallMade, Emit, RegistryUpdate, ScamReported, SimChange, TransferOut, VictimReported
from streams.contracts import RegistryLink, TelecomEvent, Transfer, VictimReport, account_key
from streams.topics import ACCOUNT_SIGNALS, IDENTITY_SIGNALS


def route(record: Transfer | TelecomEvent | RegistryLink | VictimReport, ingest_ms: int) -> list[Emit]:
    """Transfers go to the payer, registry records to the account, telecom to the phone,
    victim reports to the victim's account (which remembers where its money went)."""
    if isinstance(record, VictimReport):
        key = account_key(record.victim_bank, record.victim_account)
        return [(ACCOUNT_SIGNALS.name, key, VictimReported(
            record.ts_ms, ingest_ms, record.report_id, record.transfer_ids, record.channel,
            record.police_complaint_ref))]
    if isinstance(record, Transfer):
        return [(ACCOUNT_SIGNALS.name, record.src_key, TransferOut(
            record.ts_ms, ingest_ms, record.transfer_id, record.dst_key, record.amount_satang,
            record.channel, record.src_device_id, record.src_msisdn_hash,
        ))]
    if isinstance(record, RegistryLink):
        return [(ACCOUNT_SIGNALS.name, record.key, RegistryUpdate(
            record.ts_ms, ingest_ms, record.opened_ts_ms, record.msisdn_hash,
            record.national_id_hash, record.device_id,
        ))]
    a, ts = record.msisdn_a_hash, record.ts_ms
    if record.kind in ("call", "sms") and record.msisdn_b_hash:
        return [(IDENTITY_SIGNALS.name, a, CallMade(ts, ingest_ms, record.event_id, record.msisdn_b_hash, record.kind))]
    if record.kind in ("sim_swap", "sim_register"):
        return [(IDENTITY_SIGNALS.name, a, SimChange(ts, ingest_ms, record.event_id, record.kind))]
    if record.kind == "scam_report":
        return [(IDENTITY_SIGNALS.name, a, ScamReported(ts, ingest_ms, record.event_id))]
    return []
