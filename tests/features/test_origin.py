"""Redelivery memory: a state recognises a redelivered signal from every slot it can hear from."""

from __future__ import annotations

from array import array

from features import origin
from streams.topics import BY_NAME


def test_a_redelivery_is_recognised_after_hearing_from_every_partition_of_every_origin_topic() -> None:
    """A repartition (docs/operations.md) raises the slot count; the memory must follow it, or
    the first slots heard from are forgotten and their redelivered signals applied twice."""
    slots = [origin.slot_of(name, p) for name in origin.ORIGIN_TOPICS for p in range(BY_NAME[name].partitions)]
    applied = array("q")
    assert not any(origin.already_applied(applied, slot, 100) for slot in slots)
    assert all(origin.already_applied(applied, slot, 100) for slot in slots)
    assert len(applied) == 2 * len(slots)
