"""Docs generated from code, so they never drift: `python -m topologies.docs` rewrites them."""

from __future__ import annotations

import json
from pathlib import Path

from features.engine import ENGINE_VERSION, feature_table
from features.state import STATE_VERSION
from features.windows import ALLOWED_LATENESS_MS
from streams.schemas_path import schema_for
from streams.topics import ALL_TOPICS

DOCS = Path(__file__).parent.parent / "docs"

TOPICS_INTRO = """# Topic contracts

Banks and operators integrate with muleguard only through these Kafka topics. Every value is
one JSON object (UTF-8; UTF-16 and UTF-32 are read too). Accounts are the pair (bank, account); keys are `BANK:account`.
Money on the wire is THB as a JSON number or decimal string with at most 2 decimals
(muleguard keeps integer satang); times are RFC 3339 with an offset or epoch milliseconds
(muleguard emits RFC 3339 in Bangkok time, `+07:00`). Phone numbers, national IDs and IMEIs
may arrive raw: they are replaced by keyed hashes on decode and never stored or emitted.

Anything that does not decode goes to `deadletter.v1` with a reason; see the reasons below.
Freeze requests carry a deterministic `request_id`: the same decision on the same event
always has the same id, so consumers deduplicate on it (delivery is at-least-once).

The JSON Schemas in `streams/schemas/` are the normative contracts; this page is generated
from them by `python -m topologies.docs`.
"""

REJECTION_REASONS = """## Dead-letter reasons

| reason | meaning |
|---|---|
| `malformed_json` | not JSON in UTF-8, UTF-16 or UTF-32 (also a null value or an empty message) |
| `too_deep` | JSON nesting deeper than 8 levels (valid messages nest 2) |
| `not_an_object` | valid JSON but not an object |
| `oversized` | over 64 KiB |
| `missing_field` | a required field is absent or null |
| `wrong_type` | a field has the wrong type or shape |
| `too_long` | an identifier over 128 characters |
| `bad_amount` / `non_positive_amount` / `absurd_amount` | not a decimal with <= 2 places, <= 0, or over 1 bn THB |
| `unknown_bank` / `unknown_channel` / `unknown_kind` | not one of the listed codes |
| `bad_timestamp` / `timestamp_out_of_range` / `timestamp_in_future` | not RFC 3339 with an offset (nor epoch ms), outside 2015-2100, or more than 10 minutes ahead of the worker's clock |
| `timestamp_too_old` | an event time older than ingest accepts (`streams.codec.MAX_EVENT_AGE_MS`) |
| `unknown_status` / `bad_request_id` | a bank's answer (`freeze.acks.v1`) with a status not listed, or a request id not 32 lowercase hex digits |
| `unknown_outcome` / `unknown_decider` / `not_police` | an appeal with an outcome or decider not listed, or a police extension not decided by the police |
| `invalid` | the decoder's safety net: seeing it means a decoder bug, not bad input |
| `bad_msisdn` / `bad_national_id` | not a phone number / not 13 digits |
| `self_transfer` | source and destination are the same account |
"""


def topics_markdown() -> str:
    parts = [TOPICS_INTRO, "## Topics\n", "| topic | direction | key | partitions | purpose |", "|---|---|---|---|---|"]
    parts += [f"| `{t.name}` | {t.direction} | {t.key} | {t.partitions} | {t.doc} |" for t in ALL_TOPICS]
    for t in ALL_TOPICS:
        if not t.schema:
            continue
        schema = schema_for(t.name)
        required = set(schema.get("required", ()))
        parts += ["", f"## `{t.name}`", "", schema["description"], "",
                  "| field | required | type | notes |", "|---|---|---|---|"]
        for name, prop in schema["properties"].items():
            kind = prop.get("type") or " or ".join(o.get("type", "") for o in prop.get("oneOf", ()))
            if isinstance(kind, list):
                kind = " or ".join(kind)
            notes = prop.get("description", "")
            if "enum" in prop:
                notes = (notes + " " if notes else "") + "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
            parts.append(f"| `{name}` | {'yes' if name in required else 'no'} | {kind} | {notes} |")
        example = EXAMPLES.get(t.name)
        if example:
            parts += ["", "Example:", "", "```json", json.dumps(example, ensure_ascii=False), "```"]
    parts += ["", REJECTION_REASONS]
    return "\n".join(parts)


EXAMPLES = {
    "bank.transfers.v1": {"transfer_id": "KB-20261122-000123", "ts": "2026-11-22T14:03:11.250+07:00",
                          "src_bank": "KBANK", "src_account": "123-4-56789", "dst_bank": "SCB",
                          "dst_account": "987-6-54321", "amount": "45000.00", "channel": "mobile",
                          "src_device_id": "a1f3...", "src_msisdn": "0812345678"},
    "freeze.requests.v1": {"request_id": "3f2a9c0d5e7b41a8b6c2d9e0f1a2b3c4", "bank": "SCB", "account": "987-6-54321",
                           "action": "hold", "amount": "45000.00", "reason": "model", "score": 0.991,
                           "model_version": "m20261122-101500-ab12cd",
                           "top_reasons": ["THB received (24h): 45,000", "days since the account was opened: 3.00"],
                           "case_id": None, "hop": None, "trigger_event_id": "KB-20261122-000123",
                           "event_ts": "2026-11-22T14:03:11.250+07:00", "emitted_ts": "2026-11-22T14:03:11.412+07:00",
                           "legal_basis": "bank_suspicion_3d", "expires_ts": "2026-11-25T14:03:11.250+07:00"},
}


def features_markdown() -> str:
    return "\n".join([
        "# Features",
        "",
        f"Feature engine version `{ENGINE_VERSION}`. Every scored transfer gets one vector, for the",
        "account that sent or received it, computed at the transfer's event time from the past only",
        "(this event included). Missing values are NaN (LightGBM treats them as missing), so a data",
        "directory without telecom or registry topics yields missing, not zero, features.",
        "Generated from `features.engine.FEATURES` by `python -m topologies.docs`.",
        "",
        feature_table(),
        "",
        *FEATURES_NOTES,
    ])


FEATURES_NOTES = f"""## Late events (money features)

An account's *watermark* is the event time of the latest transfer it has applied. A transfer
at most `ALLOWED_LATENESS_MS` = {ALLOWED_LATENESS_MS // 3_600_000} h behind it is inserted where it belongs
and counted in every window that covers it; its own vector, and every vector computed at or after
`watermark - ALLOWED_LATENESS_MS`, equals a brute-force recount of all accepted transfers
(flows keep `7d + ALLOWED_LATENESS_MS` of events for that). A transfer further behind is **not
counted**: the account agent sends it to the dead-letter topic with reason `late_event` (and
`muleguard_events_rejected_total{{reason="late_event"}}`), where it stays visible and replayable.
Why not count it anyway: decisions were already taken on figures without it, and counting it
would make the state depend on delivery order in a way the offline replay (in event-time order)
cannot reproduce, so freeze decisions would stop being reproducible. The offline replay counts
such transfers in `Replayer.late`. Property tests (`tests/features/test_windows.py`) check both
sides against brute force over random out-of-order sequences.

Why {ALLOWED_LATENESS_MS // 3_600_000} hours: a worker working through a backlog (after an outage or a restart) applies an
account's own debits, one hop from ingest, before the credits other accounts send it, two hops,
queued behind the rest of the backlog; so credits reach it late by up to the backlog's span in
event time. The bound is the longest outage after which the workers lose no credit (it was 1 hour;
docs/reliability.md). Its cost: flows keep 7 days plus the bound of events (about 4% more than 7
days), and an accepted late transfer changes figures that later vectors see.

## State and its cost

State layout (`features/state.py`, `STATE_VERSION` {STATE_VERSION}): one `struct` header with
every integer and section length, one `int64` array per flow (times, amounts, counterparties),
`uint32` counterparty sets, then the trace memory (recent outgoing transfers, taints, reports)
as compact JSON parsed only when a signal touches it (and encoded again only then). New
rarely-read items go into the trace memory under a new key (no version bump).

`make bench` prints `features` (one input record per batch, no state cache: every keyed event
decodes and encodes its state, the worst case), `features_b100` (100 records per batch) and
`features_b100_cached` (the same with the worker's cache of decoded states, `DecodedStates`:
a key's state is reused from the previous batch while its stored bytes are unchanged).
`us_per_keyed_event` is CPU time per message consumed by the account and identity agents (a
transfer causes about three: debit at the payer, credit at the payee, identity links),
covering state load (a decode or a cache hit, once per key per batch), update, the vector
for scored events, state encode (once per key per batch) and routing between states; not JSON decoding, Kafka, RocksDB I/O or scoring. `us_per_record` is
the same work per input record. `load_avg_1m` is printed alongside: on a busy shared machine
the figures grow.

## Shared identity and taint: how they rise and fall

- Each identity (phone, device, national-ID hash) counts the accounts linked to it and the
  held ones, and tells every linked account when either changes. An account keeps the last
  counts of each of its current identities (its registry phone, device and national ID, and
  devices it transferred from): `accounts_per_phone` and `accounts_per_national_id` are its
  current phone's and ID's, `accounts_per_device` the largest over its devices,
  `held_identity_links` the largest number of *other* held accounts behind any of them.
- A registry record that moves an account to another phone, device or ID unlinks it from
  the old one: the old identity's accounts see their counts fall, and the moved account
  forgets the old identity's counts.
- A hold tells all the account's identities, devices seen only on its transfers included.
  When the account is cleared (an approved appeal, a bank answer that it released the hold or
  found nothing) and nothing else holds it, they stop counting it as held. A hold that ran
  its legal time, or whose money was paid back to victims, still counts: offline replay has
  no clock and no bank answers, so it keeps such an account counted, and live does the same.
- `taint_hops` lapses 7 days after the latest money (or hold) that brought it, and with it
  what a once-tainted payer's credits add to `tainted_in_thb_24h`; a hold released on appeal
  or found empty stops tainting the account's payees at once.

## Known limits (audit of 2026-11-24, open)

Found by reading the engine against this table, each shown with a script; not fixed yet:

- Flows keep at most 256 events: a burst of small credits pushes larger ones out, so 24 h
  and 48 h sums (and the model hold's 48 h inflow) undercount on such accounts.
- A transfer accepted late (within the lateness bound) gets `first_time_pair` and the
  means of the payer's earlier amounts from arrival order, not event time, and
  `sim_change_days` may see a SIM change after it.
- An exonerated account's taint lapses whole, including a taint it had from traced money
  before its hold.
""".splitlines()


GENERATED = {"topics.md": topics_markdown, "features.md": features_markdown}


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    for name, render in GENERATED.items():
        (DOCS / name).write_text(render())


if __name__ == "__main__":
    main()
