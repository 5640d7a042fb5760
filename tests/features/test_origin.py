"""Redelivery memory: a redelivered signal is recognised, a signal from a hole read again is
not taken for one, and the memory stays small."""

from __future__ import annotations

from array import array

from features import origin
from features.state import AccountState
from streams.topics import BY_NAME

SLOT = origin.slot_of("bank.transfers.v1", 1)


def seq(offset: int) -> int:
    """The sequence of the first signal of input ``offset``."""
    return offset * origin.PARTS


def test_a_redelivery_is_recognised_after_hearing_from_every_partition_of_every_origin_topic() -> None:
    """A repartition (docs/operations.md) raises the slot count; the memory must follow it, or
    the first slots heard from are forgotten and their redelivered signals applied twice."""
    slots = [origin.slot_of(name, p) for name in origin.ORIGIN_TOPICS for p in range(BY_NAME[name].partitions)]
    applied = array("q")
    assert not any(origin.already_applied(applied, slot, 100) for slot in slots)
    assert all(origin.already_applied(applied, slot, 100) for slot in slots)
    assert len(applied) <= 1 + len(slots) + origin.EXACT_HIGH  # a floor per slot at most, and exact ones


def test_a_hole_read_again_is_applied_and_what_followed_it_is_not() -> None:
    """Inputs 30-49 were skipped (a hole) and 50-52 applied; reading again from the committed
    offset 30 brings 30-52: 30-49 were never applied, 50-52 were. A memory of the newest
    sequence per slot skipped all of them (docs/reliability.md)."""
    applied = array("q")
    for offset in (50, 51, 52):
        assert not origin.already_applied(applied, SLOT, seq(offset))
    again = [origin.already_applied(applied, SLOT, seq(offset)) for offset in range(30, 53)]
    assert again == [False] * 20 + [True] * 3


def test_a_hole_is_repaired_below_up_to_exact_low_later_signals() -> None:
    """The limit: the hole's signals stay above the floor while at most ``EXACT_LOW`` later
    signals of the slot were applied to the key; beyond that they are taken for redeliveries."""
    for later, repaired in ((origin.EXACT_LOW, True), (origin.EXACT_HIGH + 1, False)):
        applied = array("q")
        for offset in range(100, 100 + later):
            assert not origin.already_applied(applied, SLOT, seq(offset))
        assert (not origin.already_applied(applied, SLOT, seq(99))) is repaired


def test_the_memory_stays_small_and_recognises_every_sequence_it_applied() -> None:
    applied = array("q")
    other = origin.slot_of("telecom.events.v1", 0)
    for offset in range(1000):
        assert not origin.already_applied(applied, SLOT, seq(offset))
        assert not origin.already_applied(applied, other, seq(offset) + 1)
        assert origin.applied_count(applied) <= origin.EXACT_HIGH
    assert len(applied) <= 1 + 2 + origin.EXACT_HIGH  # the marker, two floors, exact sequences
    assert all(origin.already_applied(applied, SLOT, seq(offset)) for offset in range(1000))
    assert all(origin.already_applied(applied, other, seq(offset) + 1) for offset in range(1000))
    assert not origin.already_applied(applied, other, seq(999) + 2)


def test_the_lowest_of_the_busiest_slot_go_first() -> None:
    """A quiet slot's few sequences stay exact while a busy slot's oldest become its floor."""
    applied = array("q")
    quiet = origin.slot_of("bank.transfers.v1", 0)  # sorts before the busy slot
    assert not origin.already_applied(applied, quiet, seq(7))
    for offset in range(200):
        origin.already_applied(applied, SLOT, seq(offset))
    assert not origin.already_applied(applied, quiet, seq(6))  # below the quiet slot's sequence: no floor there


def test_an_engine_4_memory_reads_as_floors() -> None:
    """Engine-4 states hold (slot, newest sequence) pairs: those are floors now."""
    applied = array("q", [SLOT, seq(50)])
    assert origin.already_applied(applied, SLOT, seq(49))
    assert origin.already_applied(applied, SLOT, seq(50))
    assert not origin.already_applied(applied, SLOT, seq(51))


def test_the_memory_survives_the_state_encoding_whatever_its_length() -> None:
    """The state header counts 16-byte pairs; the memory is 8-byte keys, padded when odd."""
    for signals in range(4):
        state = AccountState()
        for offset in range(signals):
            origin.already_applied(state.applied, SLOT, seq(offset))
        again = AccountState.from_bytes(state.to_bytes())
        assert again.applied == state.applied
        assert all(origin.already_applied(again.applied, SLOT, seq(offset)) for offset in range(signals))
