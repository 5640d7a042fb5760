"""Columns to wire records: a dict per record (``World.events``) or its compact JSON line (sinks).

Two spellings of one format, kept side by side in this module: building a dict and then
``json.dumps`` costs ~10 us a record, formatting the same text directly ~2 us, which decides
whether a month of a million accounts takes minutes or an hour. A test holds the two
byte-identical (``json.dumps(value, separators=(",", ":"))`` == line) on a whole world.
All strings here are generated from [A-Za-z0-9:-], so no JSON escaping is ever needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.simulator.columns import CHANNEL_CODES, TELECOM_KIND_CODES, TelecomCols, TransferCols
from streams.simulator.naming import (
    device_codes,
    event_ids,
    hex_strings,
    imei_numbers,
    national_ids,
    phone_numbers,
    transfer_ids,
)
from streams.simulator.population import Population

Keyed = tuple[str, int, dict[str, Any]]  # key, ts, value
KeyedLine = tuple[str, int, str]  # key, ts, JSON line


@dataclass(slots=True)
class RegistryRows:
    """Registry records due in a window: account, ts, and the device/phone linked then."""

    ts: np.ndarray
    acc: np.ndarray
    device: np.ndarray
    msisdn: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, index: np.ndarray) -> RegistryRows:
        return RegistryRows(self.ts[index], self.acc[index], self.device[index], self.msisdn[index])


def _optional_phones(idx: np.ndarray, salt: int) -> list[int]:
    return np.where(idx >= 0, phone_numbers(np.maximum(idx, 0), salt), -1).tolist()


def _transfer_columns(
    pop: Population, tx: TransferCols, rows: np.ndarray
) -> Iterator[tuple[Any, ...]]:
    amount = tx.amount[rows]
    return zip(
        transfer_ids(tx.seq[rows], pop.salt),
        tx.ts[rows].tolist(),
        tx.src[rows].tolist(),
        tx.dst[rows].tolist(),
        (amount // 100).tolist(),
        (amount % 100).tolist(),
        tx.channel[rows].tolist(),
        device_codes(tx.device[rows], pop.salt).tolist(),
        _optional_phones(tx.msisdn[rows], pop.salt),
        strict=True,
    )


def transfer_values(pop: Population, tx: TransferCols, rows: np.ndarray) -> list[Keyed]:
    bank, acct = pop.bank_str, pop.acct_str
    out = []
    for tid, ts, s, d, thb, satang, ch, dv, ph in _transfer_columns(pop, tx, rows):
        sb, sa = bank[s], acct[s]
        value = {
            "transfer_id": tid,
            "ts": ts,
            "src_bank": sb,
            "src_account": sa,
            "dst_bank": bank[d],
            "dst_account": acct[d],
            "amount": f"{thb}.{satang:02d}",
            "channel": CHANNEL_CODES[ch],
        }
        if dv >= 0:
            value["src_device_id"] = f"dv-{dv:012x}"
        if ph >= 0:
            value["src_msisdn"] = f"0{ph}"
        out.append((f"{sb}:{sa}", ts, value))
    return out


def transfer_lines(pop: Population, tx: TransferCols, rows: np.ndarray) -> list[KeyedLine]:
    bank, acct = pop.bank_str, pop.acct_str
    out = []
    for tid, ts, s, d, thb, satang, ch, dv, ph in _transfer_columns(pop, tx, rows):
        sb, sa = bank[s], acct[s]
        line = (
            f'{{"transfer_id":"{tid}","ts":{ts},"src_bank":"{sb}","src_account":"{sa}",'
            f'"dst_bank":"{bank[d]}","dst_account":"{acct[d]}","amount":"{thb}.{satang:02d}",'
            f'"channel":"{CHANNEL_CODES[ch]}"'
        )
        if dv >= 0:
            line += f',"src_device_id":"dv-{dv:012x}"'
        if ph >= 0:
            line += f',"src_msisdn":"0{ph}"'
        out.append((f"{sb}:{sa}", ts, line + "}"))
    return out


_CENTS = [f"{c:02d}" for c in range(100)]


def _optional_texts(values: np.ndarray, render: Any) -> list[str]:
    """``render(v)`` where ``v >= 0``, else "" (absent optional field), one entry per row."""
    out = [""] * len(values)
    has = np.flatnonzero(values >= 0)
    for i, v in zip(has.tolist(), render(values[has]), strict=True):
        out[i] = v
    return out


def transfer_text(pop: Population, tx: TransferCols) -> list[str]:
    """``transfer_lines`` without keys, for files: same bytes, about a third cheaper.

    The per-account ``"src_bank":..,"src_account":..`` fragments are built once per
    population (``Population.json_parts``) and the optional fields are rendered only where
    present, so each row is one f-string over ready-made pieces.
    """
    salt = pop.salt
    src_part, dst_part = pop.json_parts()
    amount = tx.amount
    dev = device_codes(tx.device, salt)
    devices = _optional_texts(
        dev, lambda v: [h + '"' for h in hex_strings(v.astype(np.uint64), ',"src_device_id":"dv-')]
    )
    phones = _optional_texts(
        tx.msisdn,
        lambda v: [f',"src_msisdn":"0{p}"' for p in phone_numbers(v, salt).tolist()],
    )
    cents = _CENTS
    return [
        f'{{"transfer_id":"{tid}","ts":{ts},{src_part[s]},{dst_part[d]},"amount":"{thb}.{cents[c]}",'
        f'"channel":"{CHANNEL_CODES[ch]}"{dv}{ph}}}'
        for tid, ts, s, d, thb, c, ch, dv, ph in zip(
            transfer_ids(tx.seq, salt),
            tx.ts.tolist(),
            tx.src.tolist(),
            tx.dst.tolist(),
            (amount // 100).tolist(),
            (amount % 100).tolist(),
            tx.channel.tolist(),
            devices,
            phones,
            strict=True,
        )
    ]


def _telecom_columns(
    pop: Population, tel: TelecomCols, rows: np.ndarray
) -> Iterator[tuple[Any, ...]]:
    salt = pop.salt
    return zip(
        event_ids(tel.seq[rows], salt),
        tel.ts[rows].tolist(),
        tel.kind[rows].tolist(),
        phone_numbers(tel.a[rows], salt).tolist(),
        _optional_phones(tel.b[rows], salt),
        tel.duration[rows].tolist(),
        tel.cell[rows].tolist(),
        imei_numbers(tel.imei[rows], salt).tolist(),
        strict=True,
    )


def telecom_text(pop: Population, tel: TelecomCols) -> list[str]:
    """``telecom_lines`` without keys, for files: same bytes, optional fields rendered apart."""
    salt = pop.salt
    callee = _optional_texts(
        tel.b, lambda v: [f',"msisdn_b":"0{p}"' for p in phone_numbers(v, salt).tolist()]
    )
    duration = _optional_texts(tel.duration, lambda v: [f',"duration_s":{d}' for d in v.tolist()])
    cell = _optional_texts(tel.cell, lambda v: [f',"cell_id":"cell-{c:06d}"' for c in v.tolist()])
    imei = _optional_texts(
        tel.imei, lambda v: [f',"imei":"{i}"' for i in imei_numbers(v, salt).tolist()]
    )
    kinds = TELECOM_KIND_CODES
    return [
        f'{{"event_id":"{eid}","ts":{ts},"kind":"{kinds[k]}","msisdn_a":"0{a}"{b}{d}{c}{i}}}'
        for eid, ts, k, a, b, d, c, i in zip(
            event_ids(tel.seq, salt),
            tel.ts.tolist(),
            tel.kind.tolist(),
            phone_numbers(tel.a, salt).tolist(),
            callee,
            duration,
            cell,
            imei,
            strict=True,
        )
    ]


def telecom_values(pop: Population, tel: TelecomCols, rows: np.ndarray) -> list[Keyed]:
    out = []
    for eid, ts, kind, a, b, dur, cell, imei in _telecom_columns(pop, tel, rows):
        a_str = f"0{a}"
        value: dict[str, Any] = {
            "event_id": eid,
            "ts": ts,
            "kind": TELECOM_KIND_CODES[kind],
            "msisdn_a": a_str,
        }
        if b >= 0:
            value["msisdn_b"] = f"0{b}"
        if dur >= 0:
            value["duration_s"] = dur
        if cell >= 0:
            value["cell_id"] = f"cell-{cell:06d}"
        if imei >= 0:
            value["imei"] = str(imei)
        out.append((a_str, ts, value))
    return out


def telecom_lines(pop: Population, tel: TelecomCols, rows: np.ndarray) -> list[KeyedLine]:
    out = []
    for eid, ts, kind, a, b, dur, cell, imei in _telecom_columns(pop, tel, rows):
        line = (
            f'{{"event_id":"{eid}","ts":{ts},"kind":"{TELECOM_KIND_CODES[kind]}","msisdn_a":"0{a}"'
        )
        if b >= 0:
            line += f',"msisdn_b":"0{b}"'
        if dur >= 0:
            line += f',"duration_s":{dur}'
        if cell >= 0:
            line += f',"cell_id":"cell-{cell:06d}"'
        if imei >= 0:
            line += f',"imei":"{imei}"'
        out.append((f"0{a}", ts, line + "}"))
    return out


def _registry_columns(
    pop: Population, reg: RegistryRows, rows: np.ndarray
) -> Iterator[tuple[Any, ...]]:
    acc = reg.acc[rows]
    person = pop.person[acc]
    return zip(
        acc.tolist(),
        reg.ts[rows].tolist(),
        pop.opened_ts[acc].tolist(),
        _optional_phones(reg.msisdn[rows], pop.salt),
        np.where(person >= 0, national_ids(np.maximum(person, 0), pop.salt), -1).tolist(),
        device_codes(reg.device[rows], pop.salt).tolist(),
        strict=True,
    )


def registry_values(pop: Population, reg: RegistryRows, rows: np.ndarray) -> list[Keyed]:
    out = []
    for a, ts, opened, ph, nid, dv in _registry_columns(pop, reg, rows):
        bank, account = pop.bank_str[a], pop.acct_str[a]
        value: dict[str, Any] = {"bank": bank, "account": account, "opened_ts": opened, "ts": ts}
        if ph >= 0:
            value["msisdn"] = f"0{ph}"
        if nid >= 0:
            value["national_id"] = str(nid)
        if dv >= 0:
            value["device_id"] = f"dv-{dv:012x}"
        out.append((f"{bank}:{account}", ts, value))
    return out


def registry_lines(pop: Population, reg: RegistryRows, rows: np.ndarray) -> list[KeyedLine]:
    out = []
    for a, ts, opened, ph, nid, dv in _registry_columns(pop, reg, rows):
        bank, account = pop.bank_str[a], pop.acct_str[a]
        line = f'{{"bank":"{bank}","account":"{account}","opened_ts":{opened},"ts":{ts}'
        if ph >= 0:
            line += f',"msisdn":"0{ph}"'
        if nid >= 0:
            line += f',"national_id":"{nid}"'
        if dv >= 0:
            line += f',"device_id":"dv-{dv:012x}"'
        out.append((f"{bank}:{account}", ts, line + "}"))
    return out
