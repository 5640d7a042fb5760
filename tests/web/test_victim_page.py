"""The victim page as HTML: amounts, masking, escaping, the stepper and the language switch."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from web_samples import CASE_STATUS, case_status, hold, hop, real_case, refund, reported

from topologies.case_views import case_status as status_of_case
from topologies.pages.victim import render_case_page

FULL_ACCOUNTS = [h["account"] for h in CASE_STATUS["holds"]]


class Steps(HTMLParser):
    """The stepper as (step, class) pairs, in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "li" and a.get("data-step"):
            self.steps.append((a["data-step"], a.get("class") or ""))


def steps_of(page: str) -> list[tuple[str, str]]:
    parser = Steps()
    parser.feed(page)
    return parser.steps


def amounts_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'<dd[^>]*data-field="(\w+)">([^<]*)</dd>', page))


M1, M2 = "KBANK:204-8-31597", "SCB:771-2-60418"
X = 100_000_00


def test_amounts_in_thai_and_english() -> None:
    th = render_case_page(CASE_STATUS)
    en = render_case_page(CASE_STATUS, "en")
    for text in ("48,750.00 บาท", "46,123.00 บาท", "39,612.50 บาท", "0.00 บาท"):
        assert text in th
    for text in ("THB 48,750.00", "THB 46,123.00", "THB 39,612.50"):
        assert text in en
    assert '<html lang="th">' in th and '<html lang="en">' in en
    assert "ธนาคารอายัดเงินแล้ว" in th and "Money held" in en
    assert 'name="viewport"' in th


def test_accounts_show_only_last_four_digits() -> None:
    for lang in ("th", "en"):
        page = render_case_page(CASE_STATUS, lang)
        digits_in_page = re.sub(r"\D", "", page)
        for account in FULL_ACCOUNTS:
            digits = re.sub(r"\D", "", account)
            assert account not in page
            assert digits not in digits_in_page, f"full account {account} leaks in the {lang} page"
            assert f"••••{digits[-4:]}" in page


def test_hold_rows_carry_amount_hop_status_and_bangkok_expiry() -> None:
    en = render_case_page(CASE_STATUS, "en")
    assert en.count('class="hold"') == len(CASE_STATUS["holds"])
    assert "THB 6,612.50" in en  # KTB held less than requested: the held amount is what counts
    assert "Hold requested THB 6,500.00" in en and "Account already empty" in en  # empty: nothing held
    assert "Held until 25 Nov 2026, 10:05 Bangkok time" in en
    th = render_case_page(CASE_STATUS)
    assert "อายัดถึง 25 พ.ย. 2569 10:05 น." in th
    utc = case_status(holds=[dict(CASE_STATUS["holds"][0], expires_ts="2026-11-25T03:05:01+00:00")])
    assert "Held until 25 Nov 2026, 10:05 Bangkok time" in render_case_page(utc, "en")


def test_everything_from_the_status_is_escaped() -> None:
    evil = "<script>alert(1)</script>"
    status = case_status(case_id=f'x"{evil}', status=evil,
                         holds=[dict(CASE_STATUS["holds"][0], bank=evil, status='"><img src=x onerror=alert(1)>')])
    page = render_case_page(status, "en", token='"><b>')
    assert "<script>" not in page and "<img" not in page and '"><b>' not in page
    assert "&lt;script&gt;" in page


def test_language_link_keeps_the_token() -> None:
    th = render_case_page(CASE_STATUS, token="0f3a9c&x=1")
    assert 'href="?lang=en&amp;token=0f3a9c%26x%3D1"' in th
    assert 'href="?lang=th"' in render_case_page(CASE_STATUS, "en")
    assert render_case_page(CASE_STATUS, "fr") == render_case_page(CASE_STATUS, "th")


def test_stepper_follows_the_status() -> None:
    assert steps_of(render_case_page(CASE_STATUS)) == [
        ("received", "done"), ("tracing", "done"), ("holds_requested", "done"), ("held", "now"),
        ("refund_proposed", "todo"), ("refunded", "todo")]
    early = case_status(status="tracing", history=CASE_STATUS["history"][:2], held_satang=0)
    assert [c for _, c in steps_of(render_case_page(early))] == ["done", "now", "todo", "todo", "todo", "todo"]


def test_released_step_appears_only_when_something_was_released() -> None:
    assert "released" not in dict(steps_of(render_case_page(CASE_STATUS)))
    released = case_status(status="released", released_satang=650_000)
    steps = steps_of(render_case_page(released, "en"))
    assert [s for s, _ in steps][3:5] == ["held", "released"]
    assert dict(steps)["released"] == "now released" and dict(steps)["held"] == "done"
    page = render_case_page(released, "en")
    assert "Hold released" in page
    # The released amount gets its own row (an amount no hold row shows, so only that row has it).
    odd = render_case_page(case_status(status="released", released_satang=123_400), "en")
    assert 'data-field="released_satang">THB 1,234.00<' in odd
    assert 'data-field="released_satang"' not in render_case_page(CASE_STATUS, "en")
    later = case_status(status="refund_proposed", released_satang=650_000, refund_proposed_satang=3_961_250)
    assert dict(steps_of(render_case_page(later)))["released"] == "done released"


def test_missing_or_malformed_fields_do_not_break_the_page() -> None:
    page = render_case_page({"case_id": "c1", "status": "received", "held_satang": "lots", "holds": None}, "en")
    assert "Report received" in page and "No account is held yet." in page
    assert "Held by banks</dt><dd class=\"key\" data-field=\"held_satang\">—" in page


def test_held_is_what_can_come_back_and_the_page_says_holds_overlap() -> None:
    """100,000 traced victim -> M1 -> M2, both banks hold 100,000: the victim is owed 100,000, not 200,000."""
    both = real_case(reported(X), hop(M1, 1, X, "t1", "r1"), hop(M2, 2, X, "t2", "r2", src=M1),
                     hold(M1, "r1", "held", X), hold(M2, "r2", "held", X))
    status = status_of_case(both)
    assert status["held_satang"] == 2 * X  # the JSON sums each hop's hold, as documented
    en = render_case_page(status, "en")
    assert amounts_of(en)["held_satang"] == "THB 100,000.00"
    assert "the holds overlap" in en and "ยอดอายัดแต่ละบัญชีจึงซ้อนกัน" in render_case_page(status)
    paid = render_case_page(dict(status, refunded_satang=30_000_00), "en")
    assert amounts_of(paid)["held_satang"] == "THB 70,000.00"  # what is not refunded yet
    one = real_case(reported(X), hop(M1, 1, 60_000_00, "t1", "r1"), hold(M1, "r1", "held", 60_000_00))
    alone = render_case_page(status_of_case(one), "en")
    assert amounts_of(alone)["held_satang"] == "THB 60,000.00" and "overlap" not in alone


def test_a_paid_refund_is_refunded_not_released() -> None:
    """The bank paid M1 out (its hold ends "released" on the account, and the account tells the
    case it was refunded); M2's hold expired."""
    case = real_case(reported(X), hop(M1, 1, 70_000_00, "t1", "r1"), hop(M2, 1, 30_000_00, "t2", "r2"),
                     hold(M1, "r1", "held", 70_000_00), refund(M1, "p1", 70_000_00),
                     refund(M1, "p1", 70_000_00, paid=True), hold(M1, "r1", "refunded", -1, 70_000_00),
                     hold(M2, "r2", "held", 30_000_00), hold(M2, "r2", "released", -1, 30_000_00))
    status = status_of_case(case)
    assert status["status"] == "refunded" and status["refunded_satang"] == 70_000_00
    assert status["released_satang"] == 30_000_00  # only what was let go
    assert {h["account"]: h["status"] for h in status["holds"]} == {
        "204-8-31597": "refunded", "771-2-60418": "released"}
    en = render_case_page(status, "en")
    assert amounts_of(en)["released_satang"] == "THB 30,000.00" and amounts_of(en)["refunded_satang"] == "THB 70,000.00"
    assert re.findall(r'class="badge [^"]*">([^<]*)<', en) == ["Refunded", "Released"]
    only_paid = real_case(reported(X), hop(M1, 1, X, "t1", "r1"), hold(M1, "r1", "held", X), refund(M1, "p1", X),
                          refund(M1, "p1", X, paid=True), hold(M1, "r1", "refunded", -1, X))
    page = render_case_page(status_of_case(only_paid), "en")
    assert "released_satang" not in amounts_of(page) and "Released" not in page
    assert "released" not in dict(steps_of(page)) and dict(steps_of(page))["refunded"] == "now"


def test_a_release_already_happened_is_ticked_and_nothing_after_the_current_step() -> None:
    # One hold released while another is still held: "Hold released" is done, before "held" (now).
    case = real_case(reported(X), hop(M1, 1, 60_000_00, "t1", "r1"), hop(M2, 1, 40_000_00, "t2", "r2"),
                     hold(M1, "r1", "held", 60_000_00), hold(M2, "r2", "held", 40_000_00),
                     hold(M2, "r2", "released", -1, 40_000_00))
    assert steps_of(render_case_page(status_of_case(case))) == [
        ("received", "done"), ("tracing", "done"), ("holds_requested", "done"), ("released", "done released"),
        ("held", "now"), ("refund_proposed", "todo"), ("refunded", "todo")]
    # A proposal withdrawn (its hold released on appeal), a new hold requested: the history passed
    # "held" and "refund proposed", the case is back at "holds requested", so they are not ticked.
    back = real_case(reported(X), hop(M1, 1, X, "t1", "r1"), hold(M1, "r1", "held", X), refund(M1, "p1", X),
                     hop(M2, 1, 1_000_00, "t9", "r9"), hold(M1, "r1", "released", -1, X), refund(M1, "p1w", 0))
    status = status_of_case(back)
    assert status["status"] == "holds_requested" and "refund_proposed" in [h["status"] for h in status["history"]]
    steps = steps_of(render_case_page(status))
    here = [s for s, _ in steps].index("holds_requested")
    assert steps[here] == ("holds_requested", "now") and all(c == "todo" for _, c in steps[here + 1:]), steps
    assert dict(steps)["released"] == "done released"


def test_a_review_row_shows_the_traced_money_not_a_hold_request() -> None:
    case = real_case(reported(X), hop(M1, 1, X, "t1", "r1"), hop(M2, 2, 40_000_00, "t2", "v1", src=M1, action="review"))
    en = render_case_page(status_of_case(case), "en")
    [row] = re.findall(r'<div class="hold" data-status="review">.*?</div></div>', en)
    assert "Traced THB 40,000.00" in row and "Hold requested" not in row


def test_times_a_datetime_cannot_hold_show_a_dash() -> None:
    for ts in (10**17, -(10**17)):
        page = render_case_page({"case_id": "c1", "status": "received", "reported_ts": ts, "updated_ts": ts}, "en")
        assert "Reported —" in page and "Last update —" in page
