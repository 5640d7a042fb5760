"""Tokens for the case and account views: HMAC-SHA256 of what they open, under one key.

A victim's token opens one case with mule accounts masked (victims must not learn them); an
investigator's token opens the same case with full accounts (police, AMLO); a bank's token
opens that bank's accounts. Tokens are
derived, not stored, so any worker can check any token, and rotating ``MULEGUARD_TOKEN_KEY``
revokes them all. A missing token is 401 and a wrong one 403, decided before the table is
read, so the answer never tells whether a case or account exists.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

ENV_TOKEN_KEY = "MULEGUARD_TOKEN_KEY"
DEV_TOKEN_KEY = "muleguard-dev-token-key"  # noqa: S105 - a development default, warned about
PLACEHOLDER_PREFIX = "REPLACE-ME"  # deploy/k8s/secret.yaml's committed value is as public as the default
TOKEN_CHARS = 32
CASE, INVESTIGATOR = "case", "investigator"

log = logging.getLogger(__name__)


def token_key() -> str:
    key = os.environ.get(ENV_TOKEN_KEY)
    if key:
        return key
    log.warning("%s is not set: using the development token key; set it in production", ENV_TOKEN_KEY)
    return DEV_TOKEN_KEY


def using_development_key() -> bool:
    """True when tokens are signed with a key anyone can read (the default, or the committed
    placeholder): anyone could mint any token. ``muleguard_development_keys_in_use`` says so."""
    key = os.environ.get(ENV_TOKEN_KEY) or DEV_TOKEN_KEY
    return key == DEV_TOKEN_KEY or key.startswith(PLACEHOLDER_PREFIX)


def _token(scope: str, value: str, key: str) -> str:
    return hmac.new(key.encode(), f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()[:TOKEN_CHARS]


def case_token(case_id: str, key: str) -> str:
    """Examples:
    >>> len(case_token("c1", "k")), case_token("c1", "k") == case_token("c1", "k") != case_token("c2", "k")
    (32, True)
    """
    return _token(CASE, case_id, key)


def investigator_token(case_id: str, key: str) -> str:
    """Opens one case with full account numbers: one per case, so a leaked one exposes one trail.

    Examples:
        >>> investigator_token("c1", "k") != case_token("c1", "k")
        True
    """
    return _token(INVESTIGATOR, case_id, key)


def bank_token(bank: str, key: str) -> str:
    """Examples:
    >>> bank_token("SCB", "k") != case_token("SCB", "k")
    True
    """
    return _token("bank", bank, key)


def presented(query: dict, headers: dict) -> str | None:
    """The token from ``?token=`` or ``Authorization: Bearer``.

    Examples:
        >>> presented({}, {"Authorization": "Bearer abc"}), presented({"token": "x"}, {}), presented({}, {})
        ('abc', 'x', None)
    """
    token = query.get("token")
    if token:
        return token
    auth = headers.get("Authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return None


def check(given: str | None, expected: str) -> int | None:
    """None when allowed, else the HTTP status: 401 without a token, 403 with a wrong one.

    Examples:
        >>> check(None, "a"), check("b", "a"), check("a", "a")
        (401, 403, None)
    """
    if not given:
        return 401
    return None if hmac.compare_digest(given.encode(), expected.encode()) else 403


def case_access(given: str | None, case_id: str, key: str) -> str | int:
    """``INVESTIGATOR`` or ``CASE`` for what the token opens, else the HTTP status (401, 403).

    Examples:
        >>> case_access(investigator_token("c1", "k"), "c1", "k"), case_access(case_token("c1", "k"), "c1", "k")
        ('investigator', 'case')
        >>> case_access(None, "c1", "k"), case_access(investigator_token("c2", "k"), "c1", "k")
        (401, 403)
    """
    if check(given, investigator_token(case_id, key)) is None:
        return INVESTIGATOR
    status = check(given, case_token(case_id, key))
    return CASE if status is None else status
