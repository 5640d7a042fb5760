"""Every internal signal survives the wire: encode then decode gives the same signal."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from features import signals
from features.signals import SIGNAL_TYPES, decode_signal, encode_signal


def sample(cls: type) -> signals.Signal:
    """A signal whose fields of one type all differ, so fields swapped on the wire are noticed."""
    hints = typing.get_type_hints(cls)
    values: dict[str, object] = {}
    for i, field in enumerate(dataclasses.fields(cls)):
        hint = str(hints[field.name]).replace("typing.", "")
        values[field.name] = {
            "<class 'int'>": 1_793_491_200_000 + i, "<class 'float'>": 1.25 + i, "<class 'bool'>": i % 2 == 0,
            "tuple[str, ...]": (f"tx-{i}", f"tx-{i + 1}"),
        }.get(hint, f"{field.name}-{i}")  # str and str | None
    return cls(**values)


@pytest.mark.parametrize("tag", sorted(SIGNAL_TYPES))
def test_signal_round_trips(tag: str) -> None:
    original = sample(SIGNAL_TYPES[tag])
    assert decode_signal(encode_signal(original)) == original


@pytest.mark.parametrize("raw", [b"[]", b'["?", 1]', b'{"a": 1}', b'["s", 1, 2]'])
def test_foreign_bytes_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_signal(raw)
