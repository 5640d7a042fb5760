"""Fault injection for tests/reliability/test_crash.py: a worker started with this directory
on PYTHONPATH has its accounts agent fail once, outside the per-event handling, when it
encodes an account's state (per batch, after the batch's signals were applied and queued):
what an encoding bug would do mid-list. The fault is armed when the file
``MULEGUARD_FAULT_ARM_FILE`` appears and strikes ``MULEGUARD_FAULT_AFTER_ENCODINGS``
encodings later."""

from __future__ import annotations

import os

from features.state import AccountState

ARM_FILE = os.environ.get("MULEGUARD_FAULT_ARM_FILE", "")
AFTER = int(os.environ.get("MULEGUARD_FAULT_AFTER_ENCODINGS", "0"))
_encode = AccountState.to_bytes
_armed_encodings = 0


def _failing_to_bytes(self: AccountState) -> bytes:
    global _armed_encodings
    if _armed_encodings or os.path.exists(ARM_FILE):
        _armed_encodings += 1
        if _armed_encodings == AFTER:
            raise RuntimeError(f"injected fault: encoding number {AFTER} since armed")
    return _encode(self)


if ARM_FILE and AFTER > 0:
    AccountState.to_bytes = _failing_to_bytes  # type: ignore[method-assign]
