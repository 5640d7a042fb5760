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
one target partition per key), so a keyed state receives each slot's sequences in order. It
keeps, per slot, the newest sequence it applied; a signal at or below it is a redelivery:
skipped, counted, not applied.

Skipping is only safe if whatever applying the signal sent was delivered too: the keyed
agents therefore wait for their sends to be acknowledged before writing the batch's state
(``sender.DeliveredFirst``). A crash between the two re-applies the batch, and its re-sent
signals are recognised downstream. Timer signals (expiry checks) carry no origin: applying
them twice changes nothing.
"""

from __future__ import annotations

from array import array

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


def already_applied(applied: array, slot: int, sequence: int) -> bool:
    """True if this state has applied ``sequence`` of ``slot`` (or a later one); otherwise
    record it as applied and return False. ``applied`` holds (slot, sequence) pairs.

    Examples:
        >>> seen = array("q")
        >>> already_applied(seen, 3, 80), already_applied(seen, 3, 81), already_applied(seen, 3, 80)
        (False, False, True)
        >>> already_applied(seen, 7, 5), list(seen)
        (False, [3, 81, 7, 5])
    """
    for i in range(0, len(applied), 2):
        if applied[i] == slot:
            if sequence <= applied[i + 1]:
                return True
            applied[i + 1] = sequence
            return False
    if len(applied) >= 2 * MAX_SLOTS:  # only after a repartition to fewer: forget the oldest slot
        del applied[0:2]
    applied.extend((slot, sequence))
    return False
