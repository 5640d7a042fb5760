"""Keyed pseudonymisation of personal identifiers (phone numbers, national IDs, IMEIs).

A keyed hash (HMAC-SHA256) rather than a plain hash: Thai phone numbers and national IDs
are short enough to enumerate, so an unkeyed hash would be reversible by brute force.
The key comes from ``MULEGUARD_PSEUDONYM_KEY``; rotation is described in docs/privacy.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from functools import lru_cache

DEV_KEY = "muleguard-development-key-not-for-production"
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{7,15}$")
_NOT_DIGITS = re.compile(r"[^0-9]")


def pseudonym_key() -> bytes:
    """The active key, read from the environment when first needed (then kept: a worker
    hashes every identifier it reads, and an environment lookup cost more than the hash).
    A key change takes a restart, as rotation does anyway (docs/privacy.md)."""
    global _KEY  # noqa: PLW0603 - one process-wide value, set once
    if _KEY is None:
        _KEY = os.environ.get("MULEGUARD_PSEUDONYM_KEY", DEV_KEY).encode()
    return _KEY


_KEY: bytes | None = None


def normalise_msisdn(raw: str) -> str | None:
    """Thai numbers in one spelling (66XXXXXXXXX), so 081-... and +6681... hash alike.

    Examples:
        >>> normalise_msisdn("081-234-5678")
        '66812345678'
        >>> normalise_msisdn("+66812345678")
        '66812345678'
        >>> normalise_msisdn("not a phone") is None
        True
    """
    if not _PHONE.match(raw):
        return None
    digits = _NOT_DIGITS.sub("", raw)
    if digits.startswith("0"):
        digits = "66" + digits[1:]
    return digits if 9 <= len(digits) <= 13 else None


@lru_cache(maxsize=65536)
def _digest(kind: str, value: str, key: bytes) -> str:
    mac = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}_{mac[:20]}"


def pseudonymise(kind: str, value: str) -> str:
    """``kind_<80-bit keyed hash>``: stable for one key, meaningless without it.

    Examples:
        >>> a = pseudonymise("ph", "66812345678")
        >>> a.startswith("ph_") and len(a) == 23 and "66812345678" not in a
        True
        >>> a == pseudonymise("ph", "66812345678")
        True
    """
    return _digest(kind, value, pseudonym_key())
