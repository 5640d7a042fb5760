"""The case page a victim opens on a phone: where their money is, in Thai (default) or English.

One self-contained HTML document (inline CSS, no scripts, no external assets) rendered from
the Case status JSON. Everything from the status is HTML-escaped, and accounts are masked to
their last 4 digits: the page is reachable with a case token alone, and victims must not
learn full mule account numbers. See docs/web.md.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from topologies.pages.fmt import as_satang, bangkok_time, mask_account, thb

LANGS = ("th", "en")
# The victim's road; "released" is shown only when a hold was released.
# Hold statuses whose expiry still matters to the victim.
LIVE_HOLDS = frozenset({"requested", "held", "review"})
STEPS = ("received", "tracing", "holds_requested", "held", "refund_proposed", "refunded")

TEXT: dict[str, dict[str, str]] = {
    "th": {
        "title": "สถานะเรื่องที่แจ้ง",
        "case": "เลขที่เรื่อง",
        "reported_at": "แจ้งเมื่อ",
        "updated_at": "อัปเดตล่าสุด",
        "amounts": "ยอดเงิน",
        "reported": "ยอดที่แจ้งว่าถูกโกง",
        "traced": "ติดตามพบ",
        "requested": "ขอให้อายัด",
        "held": "ธนาคารอายัดไว้แล้ว",
        "released": "ปล่อยการอายัดแล้ว",
        "refund_proposed": "เสนอคืนเงิน",
        "refunded": "คืนเงินแล้ว",
        "progress": "ความคืบหน้า",
        "holds": "บัญชีที่รับเงินของคุณ",
        "hop": "ทอดที่",
        "hold_until": "อายัดถึง",
        "no_holds": "ยังไม่มีการอายัดบัญชี",
        "masked": "แสดงเฉพาะเลขบัญชี 4 ตัวท้าย",
        "overlap": "ธนาคารอาจอายัดเงินก้อนเดียวกันไว้หลายบัญชีตามเส้นทางที่เงินถูกโอนต่อ ยอดอายัดแต่ละบัญชีจึงซ้อนกัน "
                   "ยอดที่แสดงจึงไม่เกินยอดที่คุณแจ้งซึ่งยังไม่ได้รับคืน",
        "help": "สอบถามได้ที่สายด่วน 1441 (ศูนย์ AOC) โปรดแจ้งเลขที่เรื่องนี้",
        "switch": "English",
    },
    "en": {
        "title": "Case status",
        "case": "Case",
        "reported_at": "Reported",
        "updated_at": "Last update",
        "amounts": "Amounts",
        "reported": "Reported stolen",
        "traced": "Traced",
        "requested": "Hold requested",
        "held": "Held by banks",
        "released": "Released",
        "refund_proposed": "Refund proposed",
        "refunded": "Refunded",
        "progress": "Progress",
        "holds": "Accounts that received your money",
        "hop": "Hop",
        "hold_until": "Held until",
        "no_holds": "No account is held yet.",
        "masked": "Only the last 4 digits of each account are shown.",
        "overlap": "Banks can hold the same money at several accounts along the trail, so the holds overlap: "
                   "the amount shown is never more than what you reported and have not been refunded yet.",
        "help": "Questions? Call the AOC hotline 1441 and give this case number.",
        "switch": "ภาษาไทย",
    },
}

STATUS_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "th": {
        "received": ("รับเรื่องแล้ว", "เราได้รับแจ้งของคุณแล้ว และกำลังเริ่มติดตามเงิน"),
        "tracing": ("กำลังติดตามเงิน", "เรากำลังติดตามเงินของคุณจากบัญชีหนึ่งไปอีกบัญชีหนึ่ง"),
        "holds_requested": ("ขอให้ธนาคารอายัดแล้ว",
                            "เราขอให้ธนาคารอายัดเงินที่ติดตามพบแล้ว และกำลังรอธนาคารยืนยัน"),
        "held": ("ธนาคารอายัดเงินแล้ว", "ธนาคารกำลังอายัดเงินที่ติดตามพบจากการโอนของคุณ"),
        "released": ("ปล่อยการอายัดแล้ว",
                     "การอายัดบางส่วนสิ้นสุดแล้ว (ครบกำหนดหรือยกเลิกหลังการตรวจสอบ)"),
        "refund_proposed": ("เสนอคืนเงินแล้ว",
                            "มีการเสนอคืนเงินจากเงินที่อายัดไว้ ตามสัดส่วนเงินของคุณที่ติดตามพบ"),
        "refunded": ("คืนเงินแล้ว", "คืนเงินให้คุณเรียบร้อยแล้ว"),
    },
    "en": {
        "received": ("Report received", "We have your report and are starting to trace your money."),
        "tracing": ("Tracing your money", "We are following your money from account to account."),
        "holds_requested": ("Holds requested",
                            "We asked the banks to hold the money we traced and are waiting for them to confirm."),
        "held": ("Money held", "Banks are holding money traced from your transfer."),
        "released": ("Hold released", "Some holds have ended (they expired or were lifted after a review)."),
        "refund_proposed": ("Refund proposed",
                            "A refund from the held money was proposed to you, in proportion to your traced money."),
        "refunded": ("Refunded", "Your refund has been paid."),
    },
}

HOLD_TEXT: dict[str, dict[str, str]] = {
    "th": {"requested": "ขออายัดแล้ว", "held": "อายัดแล้ว", "rejected": "ธนาคารปฏิเสธ",
           "empty": "ไม่มีเงินเหลือในบัญชี", "released": "ปล่อยแล้ว", "review": "อยู่ระหว่างตรวจสอบ",
           "refunded": "คืนเงินแล้ว"},
    "en": {"requested": "Requested", "held": "Held", "rejected": "Bank declined",
           "empty": "Account already empty", "released": "Released", "review": "Under review",
           "refunded": "Refunded"},
}

BANK_NAMES: dict[str, dict[str, str]] = {
    "th": {"BBL": "กรุงเทพ", "KBANK": "กสิกรไทย", "KTB": "กรุงไทย", "SCB": "ไทยพาณิชย์",
           "BAY": "กรุงศรีอยุธยา", "TTB": "ทหารไทยธนชาต", "GSB": "ออมสิน", "BAAC": "ธ.ก.ส.",
           "GHB": "อาคารสงเคราะห์", "UOBT": "ยูโอบี", "CIMBT": "ซีไอเอ็มบี ไทย", "KKP": "เกียรตินาคินภัทร",
           "LHB": "แลนด์ แอนด์ เฮ้าส์", "TISCO": "ทิสโก้", "ICBCT": "ไอซีบีซี (ไทย)"},
    "en": {"BBL": "Bangkok Bank", "KBANK": "Kasikornbank", "KTB": "Krungthai", "SCB": "SCB",
           "BAY": "Krungsri", "TTB": "ttb", "GSB": "GSB", "BAAC": "BAAC", "GHB": "GH Bank", "UOBT": "UOB",
           "CIMBT": "CIMB Thai", "KKP": "KKP", "LHB": "LH Bank", "TISCO": "TISCO", "ICBCT": "ICBC (Thai)"},
}

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f5f8;color:#16202c;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Noto Sans Thai","Sarabun",Loma,Garuda,"DejaVu Sans",sans-serif}
main{max-width:480px;margin:0 auto;padding:12px}
header{display:flex;justify-content:space-between;align-items:baseline;gap:8px}
h1{font-size:20px;margin:4px 0}
h2{font-size:17px;margin:0 0 8px}
.lang{font-size:15px;color:#0b57d0;white-space:nowrap}
.meta{color:#4a5665;font-size:14px;margin:0}
.card{background:#fff;border-radius:12px;padding:14px;margin-top:12px;box-shadow:0 1px 3px #0002}
.status{border-left:6px solid #0b57d0}
.status .word{font-size:24px;font-weight:700;margin:0}
.status .why{margin:4px 0 0}
.status.released{border-color:#b26a00}
.status.refunded,.status.held{border-color:#137333}
.amounts{display:grid;grid-template-columns:1fr auto;gap:6px 12px;margin:0}
.amounts dt{color:#4a5665}
.amounts dd{margin:0;text-align:right;font-weight:600;font-variant-numeric:tabular-nums}
.amounts .key{font-size:20px;color:#137333}
.steps{list-style:none;margin:0;padding:0}
.steps li{position:relative;padding:0 0 12px 34px;color:#8a94a3}
.steps li::before{content:"";position:absolute;left:4px;top:4px;width:16px;height:16px;border-radius:50%;
border:2px solid #b8c0cc;background:#fff}
.steps li::after{content:"";position:absolute;left:12px;top:24px;bottom:0;width:2px;background:#d5dbe3}
.steps li:last-child::after{display:none}
.steps li.done{color:#16202c}
.steps li.done::before{background:#137333;border-color:#137333}
.steps li.now{color:#16202c;font-weight:700}
.steps li.now::before{background:#0b57d0;border-color:#0b57d0;box-shadow:0 0 0 4px #0b57d033}
.steps li.released::before{background:#b26a00;border-color:#b26a00}
.hold{border-top:1px solid #e3e7ed;padding:10px 0}
.hold:first-of-type{border-top:0}
.hold .acct{font-weight:600}
.hold .row{display:flex;justify-content:space-between;gap:8px}
.badge{display:inline-block;white-space:nowrap;align-self:flex-start;
font-size:13px;padding:1px 8px;border-radius:10px;background:#e8eaed}
.badge.held,.badge.refunded{background:#ceead6;color:#0d652d}
.badge.released,.badge.rejected,.badge.empty{background:#fce8b2;color:#7a4a00}
.note{font-size:13px;color:#4a5665;margin:8px 0 0}
footer{font-size:14px;color:#4a5665;margin:16px 0 24px}
"""


def render_case_page(status: dict, lang: str = "th", *, token: str | None = None) -> str:
    """The full HTML page for one Case status JSON (Thai unless ``lang == "en"``).

    ``token`` (the case token the page was opened with, if it came in the query) is carried
    into the language switch link so the other language opens without asking again.
    """
    lang = lang if lang in LANGS else "th"
    t = TEXT[lang]
    current = str(status.get("status") or "received")
    word, why = STATUS_TEXT[lang].get(current, (current, ""))
    case_id = str(status.get("case_id") or "")
    other = "th" if lang == "en" else "en"
    query = {"lang": other, **({"token": token} if token else {})}
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="robots" content="noindex">',
        f"<title>{escape(t['title'])} {escape(case_id)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f'<header><h1>{escape(t["title"])}</h1><a class="lang" href="?{escape(urlencode(query))}" '
        f'hreflang="{other}">{escape(t["switch"])}</a></header>',
        f'<p class="meta">{escape(t["case"])} <span class="case-id">{escape(case_id)}</span></p>',
        f'<p class="meta">{escape(t["reported_at"])} {escape(bangkok_time(status.get("reported_ts"), lang))}</p>',
        f'<section class="card status {escape(current)}" data-status="{escape(current)}">'
        f'<p class="word">{escape(word)}</p><p class="why">{escape(why)}</p></section>',
        _amounts(status, lang),
        _steps(status, current, lang),
        _holds(status.get("holds"), lang),
        f'<footer><p>{escape(t["updated_at"])} {escape(bangkok_time(status.get("updated_ts"), lang))}</p>'
        f'<p>{escape(t["help"])}</p></footer>',
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def held_for_victim(status: dict) -> int | None:
    """What the banks hold that can still come back to the victim: ``held_satang`` sums every
    hop's hold, and the same money held at two hops counts twice, so it is capped at what was
    reported and not yet refunded.

    Examples:
        >>> held_for_victim({"held_satang": 200, "reported_satang": 100}), held_for_victim({"held_satang": 60})
        (100, 60)
        >>> held_for_victim({"held_satang": 90, "reported_satang": 100, "refunded_satang": 30})
        70
    """
    held, reported = as_satang(status.get("held_satang")), as_satang(status.get("reported_satang"))
    if held is None or reported is None:
        return held
    return max(0, min(held, reported - (as_satang(status.get("refunded_satang")) or 0)))


def _overlaps(status: dict) -> bool:
    """Holds are on several hops (they may hold the same money) or add up to more than is owed."""
    holds = status.get("holds") if isinstance(status.get("holds"), list) else []
    hops = {h.get("hop") for h in holds if isinstance(h, dict) and h.get("status") == "held"}
    return len(hops) > 1 or held_for_victim(status) != as_satang(status.get("held_satang"))


def _amounts(status: dict, lang: str) -> str:
    t = TEXT[lang]
    note = f'<p class="note overlap">{escape(t["overlap"])}</p>' if _overlaps(status) else ""
    status = {**status, "held_satang": held_for_victim(status)}
    rows = [("reported", "reported_satang"), ("traced", "traced_satang"), ("held", "held_satang")]
    if as_satang(status.get("released_satang")):
        rows.append(("released", "released_satang"))
    rows.append(("refund_proposed", "refund_proposed_satang"))
    if as_satang(status.get("refunded_satang")):
        rows.append(("refunded", "refunded_satang"))
    items = []
    for label, field in rows:
        key = ' class="key"' if label == "held" else ""
        items.append(f'<dt>{escape(t[label])}</dt><dd{key} data-field="{field}">'
                     f"{escape(thb(status.get(field), lang))}</dd>")
    return (f'<section class="card"><h2>{escape(t["amounts"])}</h2>'
            f'<dl class="amounts">{"".join(items)}</dl>{note}</section>')


def _steps(status: dict, current: str, lang: str) -> str:
    """Received -> ... -> refunded; the steps before the current one are done, none after it.

    The history can have passed a later step the case went back from (a withdrawn proposal),
    so it ticks steps only when the status is unknown. "Released" sits right after "held" once
    the case is released or beyond "held"; a hold released while the case is not that far yet
    happened all the same, so it goes just before the current step, done.
    """
    seen = {str(h.get("status")) for h in status.get("history") or [] if isinstance(h, dict)}
    released = current == "released" or "released" in seen or bool(as_satang(status.get("released_satang")))
    steps = list(STEPS)
    if released:
        later = current == "released" or current not in STEPS or STEPS.index(current) > STEPS.index("held")
        steps.insert(steps.index("held") + 1 if later else steps.index(current), "released")
    here = steps.index(current) if current in steps else -1
    items = []
    for i, step in enumerate(steps):
        done = i < here if here >= 0 else step in seen
        state = "now" if step == current else "done" if done else "todo"
        extra = " released" if step == "released" and state != "todo" else ""
        label = STATUS_TEXT[lang][step][0]
        items.append(f'<li class="{state}{extra}" data-step="{step}">{escape(label)}</li>')
    return (f'<section class="card"><h2>{escape(TEXT[lang]["progress"])}</h2>'
            f'<ol class="steps">{"".join(items)}</ol></section>')


def _holds(holds: object, lang: str) -> str:
    t = TEXT[lang]
    rows = [h for h in holds if isinstance(h, dict)] if isinstance(holds, list) else []
    if not rows:
        return f'<section class="card"><h2>{escape(t["holds"])}</h2><p>{escape(t["no_holds"])}</p></section>'
    rows.sort(key=lambda h: (h.get("hop") if isinstance(h.get("hop"), int) else 99, str(h.get("bank"))))
    items = []
    for hold in rows:
        bank = str(hold.get("bank") or "")
        name = BANK_NAMES[lang].get(bank, bank)
        hold_status = str(hold.get("status") or "")
        held = as_satang(hold.get("held_satang"))
        if hold_status == "review":  # no hold was asked for: what reached the account is what matters
            amount = f'{t["traced"]} {thb(hold.get("traced_satang"), lang)}'
        elif held is not None:
            amount = thb(held, lang)
        else:
            amount = f'{t["requested"]} {thb(hold.get("requested_satang"), lang)}'
        hop = hold.get("hop")
        hop_text = f'{t["hop"]} {hop}' if isinstance(hop, int) else ""
        expiry = ""
        if hold_status in LIVE_HOLDS and hold.get("expires_ts"):
            expiry = (f'<div class="meta">{escape(t["hold_until"])} '
                      f'{escape(bangkok_time(hold.get("expires_ts"), lang))}</div>')
        items.append(
            f'<div class="hold" data-status="{escape(hold_status)}">'
            f'<div class="row"><span class="acct">{escape(name)} {escape(mask_account(hold.get("account")))}</span>'
            f'<span class="badge {escape(hold_status)}">{escape(HOLD_TEXT[lang].get(hold_status, hold_status))}'
            f"</span></div>"
            f'<div class="row"><span>{escape(hop_text)}</span><span class="amt">{escape(amount)}</span></div>'
            f"{expiry}</div>")
    return (f'<section class="card"><h2>{escape(t["holds"])}</h2>{"".join(items)}'
            f'<p class="note">{escape(t["masked"])}</p></section>')
