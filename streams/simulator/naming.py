"""Wire spellings of simulated identifiers: account numbers, phones, national IDs, devices, ids.

Every identifier is a bijective scramble of an internal index salted by the seed. Indices
are allocated in role order (rings and scam SIMs last), so a plain counter would leak the
label into the id; a scramble keeps ids unique without carrying any order.
"""

from __future__ import annotations

import numpy as np

MASK48 = (1 << 48) - 1
_M1 = 0x9E3779B97F4B  # odd: multiplication mod 2**48 is a bijection
_M2 = 0xBF58476D1CE5
_ACCOUNT_MOD = 10**10
_PHONE_MOD = 10**8
_NID_MOD = 10**11
_PHONE_PREFIXES = np.array([6, 8, 9], dtype=np.int64)  # Thai mobile ranges 06x, 08x, 09x


def scramble48(x: int, salt: int) -> int:
    """A salted bijection of 48-bit integers (splitmix-style), for ids that look random.

    Examples:
        >>> one = int(scramble48_many(np.array([1]), 5)[0])
        >>> scramble48(1, 5) != scramble48(2, 5), scramble48(1, 5) == one
        (True, True)
    """
    x = (x + salt) & MASK48
    x ^= x >> 24
    x = (x * _M1) & MASK48
    x ^= x >> 21
    x = (x * _M2) & MASK48
    return x ^ (x >> 24)


def scramble48_many(x: np.ndarray, salt: int) -> np.ndarray:
    """``scramble48`` over an integer array (uint64 arithmetic wraps, then we mask to 48 bits)."""
    m = np.uint64(MASK48)
    v = (x.astype(np.uint64) + np.uint64(salt & MASK48)) & m
    v ^= v >> np.uint64(24)
    v = (v * np.uint64(_M1)) & m
    v ^= v >> np.uint64(21)
    v = (v * np.uint64(_M2)) & m
    return v ^ (v >> np.uint64(24))


def account_numbers(count: int, salt: int) -> list[str]:
    """Unique 10-digit Thai-style account numbers ``ddd-d-ddddd-d``, one per index.

    ``i * A + B mod 10**10`` with ``A`` coprime to 10 is a bijection, so numbers never repeat.

    Examples:
        >>> nums = account_numbers(1000, 3)
        >>> len(set(nums)), nums[0].count("-"), len(nums[0])
        (1000, 3, 13)
    """
    a = 7_919_000_003 + 20 * (salt % 1_000_000)  # ends in 3: coprime to 10
    b = (salt * 104_729) % _ACCOUNT_MOD
    nums = (np.arange(count, dtype=np.int64) * (a % _ACCOUNT_MOD) + b) % _ACCOUNT_MOD
    out = []
    for n in nums.tolist():
        s = f"{n:010d}"
        out.append(f"{s[:3]}-{s[3]}-{s[4:9]}-{s[9]}")
    return out


def phone_numbers(idx: np.ndarray, salt: int) -> np.ndarray:
    """Ten-digit Thai mobile numbers (without the leading 0) for msisdn indices, as int64.

    Unique for indices below 10**8: the 8 low digits are a bijection of the index.

    Examples:
        >>> n = phone_numbers(np.arange(3), 1)
        >>> all(len("0" + str(v)) == 10 for v in n.tolist())
        True
    """
    idx = idx.astype(np.int64)
    low = (idx * 48_271_003 + salt * 7_777) % _PHONE_MOD
    prefix = _PHONE_PREFIXES[(scramble48_many(idx, salt) % np.uint64(3)).astype(np.int64)]
    return prefix * _PHONE_MOD + low


def national_ids(idx: np.ndarray, salt: int) -> np.ndarray:
    """Thirteen-digit Thai national IDs with a valid check digit, as int64.

    Examples:
        >>> nid = str(national_ids(np.array([5]), 2)[0])
        >>> digits = [int(c) for c in nid]
        >>> weighted = sum(d * (13 - i) for i, d in enumerate(digits[:12]))
        >>> len(nid), (11 - weighted % 11) % 10 == digits[12]
        (13, True)
    """
    idx = idx.astype(np.int64)
    first = 1 + (scramble48_many(idx, salt + 1) % np.uint64(8)).astype(np.int64)
    body = first * _NID_MOD + (idx * 6_700_417 + salt * 31) % _NID_MOD  # 12 digits
    weights = np.arange(13, 1, -1, dtype=np.int64)
    digits = (body[:, None] // (10 ** np.arange(11, -1, -1, dtype=np.int64))) % 10
    check = (11 - (digits * weights).sum(axis=1) % 11) % 10
    return body * 10 + check


# Salts per kind of identifier, so the same internal index never spells the same id twice.
SALT_TRANSFER, SALT_EVENT, SALT_REPORT, SALT_DEVICE, SALT_IMEI = 11, 23, 37, 41, 53


def transfer_id(seq: int, salt: int) -> str:
    """The wire ``transfer_id`` of the ``seq``-th transfer.

    Examples:
        >>> tid = transfer_id(0, 1)
        >>> tid == transfer_ids(np.array([0]), 1)[0], tid.startswith("tx-")
        (True, True)
    """
    return f"tx-{scramble48(seq, salt + SALT_TRANSFER):012x}"


_HEX = np.frombuffer(b"0123456789abcdef", dtype="S1")
_SHIFTS = np.arange(44, -1, -4, dtype=np.uint64)


def hex_strings(values: np.ndarray, prefix: str) -> list[str]:
    """``f"{prefix}{v:012x}"`` for 48-bit values, formatted in numpy (5x faster than f-strings).

    Examples:
        >>> hex_strings(np.array([255, 2**48 - 1], dtype=np.uint64), "tx-")
        ['tx-0000000000ff', 'tx-ffffffffffff']
        >>> hex_strings(np.array([], dtype=np.uint64), "tx-")
        []
    """
    if not len(values):
        return []
    digits = _HEX[((values.astype(np.uint64)[:, None] >> _SHIFTS) & np.uint64(15)).astype(np.intp)]
    head = np.full((len(values), 1), prefix.encode(), dtype=f"S{len(prefix)}").view("S1")
    text = np.concatenate([head.reshape(len(values), -1), digits], axis=1)
    return text.view(f"S{len(prefix) + 12}").ravel().astype(f"U{len(prefix) + 12}").tolist()


def transfer_ids(seq: np.ndarray, salt: int) -> list[str]:
    return hex_strings(scramble48_many(seq, salt + SALT_TRANSFER), "tx-")


def event_ids(seq: np.ndarray, salt: int) -> list[str]:
    return hex_strings(scramble48_many(seq, salt + SALT_EVENT), "ev-")


def report_id(seq: int, salt: int) -> str:
    return f"rp-{scramble48(seq, salt + SALT_REPORT):012x}"


def device_codes(device: np.ndarray, salt: int) -> np.ndarray:
    """Scrambled device numbers (format ``dv-%012x`` at emission); -1 stays -1."""
    codes = scramble48_many(np.maximum(device, 0), salt + SALT_DEVICE).astype(np.int64)
    return np.where(device >= 0, codes, -1)


def imei_numbers(device: np.ndarray, salt: int) -> np.ndarray:
    """Fifteen-digit IMEIs (TAC-like ``35`` prefix) for device indices; -1 stays -1."""
    codes = (scramble48_many(np.maximum(device, 0), salt + SALT_IMEI) % np.uint64(10**13)).astype(
        np.int64
    )
    return np.where(device >= 0, 35 * 10**13 + codes, -1)
