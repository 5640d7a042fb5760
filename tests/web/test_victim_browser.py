"""The victim page in a real browser: headless Chromium screenshots at a phone viewport, read back by OCR.

The screenshot must show the case's status and amounts on the first screen; if the renderer
drops them (or the Thai font is missing and Thai renders as boxes), these tests fail.
Needs Debian's chromium, fonts-thai-tlwg and tesseract-ocr(-tha): tools/ensure-chromium.
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image
from web_browser import PHONE, dump_dom, need_ocr_lang, ocr, screenshot, squash
from web_samples import CASE_STATUS, case_status

from topologies.pages.victim import render_case_page

HELD, REPORTED, TRACED = "39,612.50", "48,750.00", "46,123.00"


def shoot(tmp_path: Path, status: dict, lang: str, name: str) -> Path:
    html = tmp_path / f"{name}.html"
    html.write_text(render_case_page(status, lang, token="t0ken"), encoding="utf-8")
    return screenshot(html, tmp_path / f"{name}.png")


def test_english_screenshot_shows_status_and_amounts(tmp_path: Path) -> None:
    png = shoot(tmp_path, CASE_STATUS, "en", "en")
    assert Image.open(png).size == PHONE
    text = ocr(png)
    for amount in (HELD, REPORTED, TRACED):
        assert amount in text, f"{amount} not on the first phone screen; OCR read:\n{text}"
    assert "Money held" in text
    assert re.search(r"Held by banks\s+THB 39,612\.50", text), text


def test_ocr_check_fails_when_the_page_lacks_the_amounts(tmp_path: Path) -> None:
    """Control: the same check on a page without those amounts does not find them."""
    other = case_status(status="tracing", reported_satang=100_000, traced_satang=0, requested_satang=0,
                        held_satang=0, holds=[], history=CASE_STATUS["history"][:2])
    text = ocr(shoot(tmp_path, other, "en", "other"))
    assert "1,000.00" in text and "Tracing your money" in text
    assert HELD not in text and REPORTED not in text and "Money held" not in squash(text)


def test_thai_screenshot_renders_thai_glyphs(tmp_path: Path) -> None:
    need_ocr_lang("tha")
    png = shoot(tmp_path, CASE_STATUS, "th", "th")
    image = Image.open(png).convert("L")
    dark = sum(1 for v in image.getdata() if v < 128)
    assert dark > 0.01 * image.width * image.height, "the Thai page screenshot is (nearly) blank"
    text = squash(ocr(png, "tha+eng"))
    # Thai OCR can only read these back if a Thai font drew real glyphs (not boxes).
    assert squash("ธนาคารอายัดเงินแล้ว") in text, text
    assert squash(f"{HELD} บาท") in text and squash(f"{REPORTED} บาท") in text, text


def test_thai_dom_as_parsed_by_chromium(tmp_path: Path) -> None:
    html = tmp_path / "th.html"
    html.write_text(render_case_page(CASE_STATUS, "th", token="t0ken"), encoding="utf-8")
    dom = dump_dom(html)
    assert '<html lang="th">' in dom
    status = re.search(r'<section class="card status held" data-status="held">(.*?)</section>', dom)
    assert status and "ธนาคารอายัดเงินแล้ว" in status.group(1), dom[:2000]
    assert "39,612.50 บาท" in dom and '?lang=en&amp;token=t0ken' in dom
    assert "204-8-31597" not in dom and "••••1597" in dom
