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
# A key shorter than this is guessable along with the numbers, as an empty one (an unfilled
# Secret) would make every pseudonym: 16 bytes is 128 bits if random.
MIN_KEY_BYTES = 16
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{7,15}$")
_NOT_DIGITS = re.compile(r"[^0-9]")
_NATIONAL_ID = re.compile(r"[0-9][0-9 \-]{12,16}")  # the schema's pattern: ASCII digits only
_IMEI_SEPARATORS = re.compile(r"[\s\-/.]")


class PseudonymKeyError(RuntimeError):
    """``MULEGUARD_PSEUDONYM_KEY`` is unusable: a configuration error, never bad input, so the
    decoders let it through instead of dead-lettering every message."""


def pseudonym_key() -> bytes:
    """The active key, read from the environment when first needed (then kept: a worker
    hashes every identifier it reads, and an environment lookup cost more than the hash).
    A key change takes a restart, as rotation does anyway (docs/privacy.md)."""
    global _KEY  # noqa: PLW0603 - one process-wide value, set once
    if _KEY is None:
        key = os.environ.get("MULEGUARD_PSEUDONYM_KEY", DEV_KEY).encode()
        if len(key) < MIN_KEY_BYTES:
            raise PseudonymKeyError(f"MULEGUARD_PSEUDONYM_KEY is {len(key)} bytes, needs at least {MIN_KEY_BYTES}: "
                                    "a short key lets anyone reverse pseudonyms by enumerating numbers")
        _KEY = key
    return _KEY


_KEY: bytes | None = None


PLACEHOLDER_PREFIX = b"REPLACE-ME"  # deploy/k8s/secret.yaml's committed value: as public as DEV_KEY


def using_development_key() -> bool:
    """Whether pseudonyms are keyed with a public key (``DEV_KEY``, or the committed
    placeholder): anyone can reverse them, fine for the demo and tests, never for production."""
    key = pseudonym_key()
    return key == DEV_KEY.encode() or key.startswith(PLACEHOLDER_PREFIX)


def normalise_msisdn(raw: str) -> str | None:
    """Thai numbers in one spelling (66XXXXXXXXX), so every spelling of one number hashes alike.

    Examples:
        >>> normalise_msisdn("081-234-5678"), normalise_msisdn("+66812345678"), normalise_msisdn("812345678")
        ('66812345678', '66812345678', '66812345678')
        >>> normalise_msisdn("+66 081 234 5678"), normalise_msisdn("0066812345678")
        ('66812345678', '66812345678')
        >>> normalise_msisdn("not a phone") is None
        True
    """
    if not _PHONE.match(raw):
        return None
    digits = _NOT_DIGITS.sub("", raw)
    if digits.startswith("00"):  # the international call prefix, as "+"
        digits = digits[2:]
    elif digits.startswith("0"):  # the trunk prefix
        digits = "66" + digits[1:]
    elif len(digits) == 9 and not raw.startswith("+"):  # a Thai mobile number without its trunk 0
        digits = "66" + digits
    if digits.startswith("660"):  # the trunk 0 kept after the country code: +66 081...
        digits = "66" + digits[3:]
    return digits if 9 <= len(digits) <= 13 else None


def normalise_national_id(raw: str) -> str | None:
    """The 13 ASCII digits of a national ID as the schema allows it (dashes, spaces), else None.
    Thai or full-width digits are refused as the schema refuses them, rather than hashed as a
    different pseudonym of the same person.

    Examples:
        >>> normalise_national_id("1-1007-00123-45-6"), normalise_national_id("๑๑๐๐๗๐๐๑๒๓๔๕๖")
        ('1100700123456', None)
    """
    if not _NATIONAL_ID.fullmatch(raw):
        return None
    digits = _NOT_DIGITS.sub("", raw)
    return digits if len(digits) == 13 else None


def normalise_imei(raw: str) -> str:
    """An IMEI (14-16 digits, any digit script) as ASCII digits alone, however grouped, so all
    spellings of one handset hash alike; any other value only stripped.

    Examples:
        >>> normalise_imei("35-209900-176148-1"), normalise_imei(" 35 209900 176148 1 "), normalise_imei(" a1 ")
        ('352099001761481', '352099001761481', 'a1')
    """
    digits = _IMEI_SEPARATORS.sub("", raw)
    if digits.isdecimal() and 14 <= len(digits) <= 16:
        return digits if digits.isascii() else "".join(str(int(c)) for c in digits)
    return raw.strip()


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
