"""Apply each input once, however often Kafka delivers it (at-least-once made idempotent).

Offsets are committed after a batch's state and sends are acknowledged, and only every
commit interval, so after a crash or a partition move a worker processes some input again:
the ingest agent re-sends the signals of re-read inputs, and the keyed agents re-read
signals they had already applied to state that is in the changelog. Applying them again
would count a transfer twice.

So every signal an agent sends carries the *origin* of the message it came from in a Kafka
header: a *slot* (which topic and partition the agent consumed) and a *sequence* (that
message's offset times ``PARTS`` plus the signal's index among its signals). One slot is
consumed by one agent instance, in offset order, which sends in order (idempotent producer,
one target partition per key), so a keyed state receives each slot's sequences in order,
except where a hole below processed offsets is read again from the committed offset
(``rewind_holes``, a rebalance's seek): its signals come after later ones, never applied.

A state therefore remembers the exact sequences it applied, at least the newest
``EXACT_LOW`` and at most ``EXACT_HIGH``; the older ones give way to a *floor* per slot
(every sequence at or below it counts as applied), the lowest sequences of the slot with
the most first. A redelivered signal is skipped and counted; a signal from a hole is
applied if at most ``EXACT_LOW`` later signals of its slot reached the same key before the
hole was read again (with more it may lie under the floor and be skipped, as a memory of
the newest sequence per slot skipped every one).

The memory is one sorted int64 array (``applied``): a ``_MAGIC`` marker, then keys packing
kind, slot and sequence (``_key``), exact sequences before floors, each slot's keys one
run. A lookup is a binary search and an eviction one slice, both in C: a loop over the keys
in Python would cost several times the rest of the check. Engine-4 states held (slot,
newest sequence) pairs: they read as floors.

Skipping is only safe if whatever applying the signal sent was delivered too: the keyed
agents therefore wait for their sends to be acknowledged before writing the batch's state
(``sender.DeliveredFirst``). A crash between the two re-applies the batch, and its re-sent
signals are recognised downstream. Timer signals (expiry checks) carry no origin: applying
them twice changes nothing.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right

from streams.topics import ACCOUNT_SIGNALS, BY_NAME, FREEZE_ACKS, HOLD_APPEALS, IDENTITY_SIGNALS, INPUT_TOPICS

ORIGIN_HEADER = "mg-origin"
PARTS = 64  # signals with an origin per consumed message; any beyond carry none (idempotent anyway)
# Topics whose messages give rise to signals, in a fixed order: the slot's topic part.
ORIGIN_TOPICS: tuple[str, ...] = tuple(t.name for t in (*INPUT_TOPICS, FREEZE_ACKS, HOLD_APPEALS,
                                                        ACCOUNT_SIGNALS, IDENTITY_SIGNALS))
PARTITIONS_PER_TOPIC = 1024
# Every slot a state can hear from: one per partition of each origin topic (32 at 4
# partitions). Fewer would forget a slot an account still hears from, and a redelivered
# signal of that slot would be applied twice; a state keeps only the slots it heard from.
MAX_SLOTS = sum(BY_NAME[name].partitions for name in ORIGIN_TOPICS)


def slot_of(topic: str, partition: int) -> int:
    """Examples:
    >>> slot_of("bank.transfers.v1", 3), slot_of("registry.accounts.v1", 0)
    (3, 2048)
    """
    return ORIGIN_TOPICS.index(topic) * PARTITIONS_PER_TOPIC + partition


def encode(slot: int, offset: int, part: int) -> bytes | None:
    """The header value of the ``part``-th signal derived from input ``offset`` of ``slot``.

    Examples:
        >>> encode(3, 10, 1), encode(3, 10, PARTS)
        (b'3:641', None)
    """
    if not 0 <= part < PARTS:
        return None
    return b"%d:%d" % (slot, offset * PARTS + part)


def origins_for(topic: str, partition: int, offset: int, count: int) -> list[bytes | None]:
    """Origin header values of the ``count`` signals one consumed message gives rise to."""
    slot = slot_of(topic, partition)
    return [encode(slot, offset, part) for part in range(count)]


def decode(value: bytes | None) -> tuple[int, int] | None:
    """(slot, sequence) from a header value; None when absent or unreadable.

    Examples:
        >>> decode(b"3:81"), decode(None), decode(b"junk")
        ((3, 81), None, None)
    """
    if not value:
        return None
    slot, sep, sequence = value.partition(b":")
    try:
        return int(slot), int(sequence)
    except ValueError:
        return None


# Keys: kind (1 bit) | slot (13 bits) | sequence (48 bits). Exact sequences sort before
# floors, and each slot's keys of a kind are one run.
_SEQUENCE_BITS = 48
_SEQUENCE = (1 << _SEQUENCE_BITS) - 1
_FLOOR = 1 << 61
_MAGIC = -2  # first element of a memory in this format
EXACT_HIGH = 16  # exact sequences a state may hold (8 bytes each) ...
EXACT_LOW = 8  # ... and keeps when it has too many


def already_applied(applied: array, slot: int, sequence: int) -> bool:
    """True if this state has applied ``sequence`` of ``slot``; otherwise record it as
    applied and return False.

    Examples:
        >>> seen = array("q")
        >>> already_applied(seen, 3, 80), already_applied(seen, 3, 81), already_applied(seen, 3, 80)
        (False, False, True)
        >>> already_applied(seen, 3, 70)  # a hole read again: never applied
        False
        >>> already_applied(seen, 7, 5), applied_count(seen)
        (False, 4)
    """
    if not applied or applied[0] != _MAGIC:
        _upgrade(applied)
    if sequence > _SEQUENCE:  # an offset past 2**42 (decades of a busy partition): not remembered
        return False
    key = slot << _SEQUENCE_BITS | sequence
    i = bisect_left(applied, key, 1)
    n = len(applied)
    if i < n and applied[i] == key:
        return True
    floor_key = _FLOOR | slot << _SEQUENCE_BITS
    f = bisect_left(applied, floor_key, i)
    if f < n and applied[f] >> _SEQUENCE_BITS == floor_key >> _SEQUENCE_BITS and sequence <= applied[f] & _SEQUENCE:
        return True
    applied.insert(i, key)
    if n > EXACT_HIGH and bisect_left(applied, _FLOOR) > EXACT_HIGH + 1:
        _forget_lowest(applied)
    return False


def _upgrade(applied: array) -> None:
    """An empty or engine-4 memory ((slot, newest sequence) pairs) in this format: floors."""
    floors = sorted(_FLOOR | applied[i] << _SEQUENCE_BITS | applied[i + 1] for i in range(0, len(applied) - 1, 2)
                    if 0 <= applied[i + 1] <= _SEQUENCE)
    applied[:] = array("q", [_MAGIC, *floors])


def _forget_lowest(applied: array) -> None:
    """Too many exact sequences: the lowest of the slot with the most become its floor until
    ``EXACT_LOW`` are left. The lowest, not the newest: a hole read again is applied from
    below, after the higher sequences that followed it, and must not be skipped on their
    account. Several at once, so that this runs once every few signals, not at each."""
    while (exact_end := bisect_left(applied, _FLOOR)) > EXACT_LOW + 1:
        longest, run_start = 0, 1
        start = 1
        while start < exact_end:  # one run per slot, found by binary search
            end = bisect_left(applied, ((applied[start] >> _SEQUENCE_BITS) + 1) << _SEQUENCE_BITS, start, exact_end)
            if end - start > longest:
                longest, run_start = end - start, start
            start = end
        last = run_start + min(longest, exact_end - 1 - EXACT_LOW) - 1
        _raise_floor(applied, applied[run_start] >> _SEQUENCE_BITS, applied[last] & _SEQUENCE)


def _raise_floor(applied: array, slot: int, floor: int) -> None:
    """Raise the slot's floor to ``floor``; its exact sequences at or below it go."""
    base = slot << _SEQUENCE_BITS
    f = bisect_left(applied, _FLOOR | base, 1)
    if f < len(applied) and applied[f] >> _SEQUENCE_BITS == (_FLOOR | base) >> _SEQUENCE_BITS:
        applied[f] = max(applied[f], _FLOOR | base | floor)
    else:
        applied.insert(f, _FLOOR | base | floor)
        if len(applied) - bisect_left(applied, _FLOOR) > MAX_SLOTS:
            del applied[bisect_left(applied, _FLOOR)]  # only after a repartition to fewer: forget a slot
    del applied[bisect_left(applied, base, 1):bisect_right(applied, base | floor, 1)]


def applied_count(applied: array) -> int:
    """How many exact sequences a memory holds (tests, inspection)."""
    return bisect_left(applied, _FLOOR) - 1 if applied and applied[0] == _MAGIC else 0
