"""Every internal signal survives the wire: encode then decode gives the same signal."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from features import signals
from features.signals import SIGNAL_TYPES, decode_signal, encode_signal

SAMPLES = {int: 1_793_491_200_123, str: "KTB:123-4", bool: True, float: 1.25,
           "str | None": "ph_abc", "tuple[str, ...]": ("tx-1", "tx-2")}


def sample(cls: type) -> signals.Signal:
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        values[field.name] = SAMPLES.get(hint, SAMPLES.get(str(hint).replace("typing.", ""), "x"))
        if hint == tuple[str, ...]:
            values[field.name] = ("tx-1", "tx-2")
    return cls(**values)


@pytest.mark.parametrize("tag", sorted(SIGNAL_TYPES))
def test_signal_round_trips(tag: str) -> None:
    original = sample(SIGNAL_TYPES[tag])
    assert decode_signal(encode_signal(original)) == original


@pytest.mark.parametrize("raw", [b"[]", b'["?", 1]', b'{"a": 1}', b'["s", 1, 2]'])
def test_foreign_bytes_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_signal(raw)
