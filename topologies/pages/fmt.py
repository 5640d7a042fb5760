"""Money, account and time formatting shared by the victim page and the trail picture."""

from __future__ import annotations

from datetime import datetime

from streams.timefmt import BANGKOK, parse_ts

MASK = "••••"
THAI_MONTHS = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
               "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def as_satang(value: object) -> int | None:
    """An integer satang amount, or None for anything else (bools, floats, strings, missing)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def baht(satang: int) -> str:
    """Satang as baht with thousands separators and two decimals, exactly (no float rounding).

    Examples:
        >>> baht(1234500)
        '12,345.00'
        >>> baht(5)
        '0.05'
        >>> baht(-150)
        '-1.50'
    """
    sign = "-" if satang < 0 else ""
    whole, fraction = divmod(abs(satang), 100)
    return f"{sign}{whole:,}.{fraction:02d}"


def thb(satang: object, lang: str = "th") -> str:
    """An amount the way a Thai (``12,345.00 บาท``) or English (``THB 12,345.00``) reader expects it.

    Examples:
        >>> thb(1234500)
        '12,345.00 บาท'
        >>> thb(1234500, "en")
        'THB 12,345.00'
        >>> thb(None, "en")
        '—'
    """
    amount = as_satang(satang)
    if amount is None:
        return "—"
    return f"THB {baht(amount)}" if lang == "en" else f"{baht(amount)} บาท"


def mask_account(account: object) -> str:
    """Only the last 4 digits (and never more than half of them): victims must not learn mule accounts.

    Examples:
        >>> mask_account("123-4-56789")
        '••••6789'
        >>> mask_account("12345")
        '••••45'
        >>> mask_account(None)
        '••••'
    """
    digits = "".join(ch for ch in str(account or "") if ch.isdigit())
    shown = min(4, len(digits) // 2)
    return MASK + (digits[-shown:] if shown else "")


def bangkok_time(ts: object, lang: str = "th") -> str:
    """An ISO-8601 time (or epoch ms) as Bangkok wall time; Thai dates use the Buddhist era.

    Examples:
        >>> bangkok_time("2026-11-22T03:00:00+00:00")
        '22 พ.ย. 2569 10:00 น.'
        >>> bangkok_time("2026-11-22T10:00:00.000+07:00", "en")
        '22 Nov 2026, 10:00 Bangkok time'
        >>> bangkok_time("not a time"), bangkok_time(10**17)
        ('—', '—')
    """
    ts_ms = parse_ts(ts)
    if ts_ms is None:
        return "—"
    try:
        dt = datetime.fromtimestamp(ts_ms / 1000, BANGKOK)
    except (ValueError, OverflowError, OSError):  # epoch ms outside the years a datetime holds
        return "—"
    if lang == "en":
        return f"{dt.day} {EN_MONTHS[dt.month - 1]} {dt.year}, {dt:%H:%M} Bangkok time"
    return f"{dt.day} {THAI_MONTHS[dt.month - 1]} {dt.year + 543} {dt:%H:%M} น."
