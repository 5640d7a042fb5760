"""Headless Chromium and Tesseract as the tests use them: real binaries, installed by tools/ensure-chromium."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

PHONE = (390, 844)  # CSS pixels of a common phone viewport
TIMEOUT_S = 180  # generous: the machine is shared; this bounds a hang, it times nothing


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} not on PATH (run tools/ensure-chromium as root, or install the Debian package)")
    return path


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    cmd = [need("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--hide-scrollbars", "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, check=True)


def screenshot(html_path: Path, png_path: Path, size: tuple[int, int] = PHONE) -> Path:
    """What a phone shows on first load: the viewport only, at device scale 1."""
    return screenshot_url(html_path.as_uri(), png_path, size)


def screenshot_url(url: str, png_path: Path, size: tuple[int, int] = PHONE) -> Path:
    """The same for any URL, e.g. a page a running worker serves."""
    _chromium([f"--window-size={size[0]},{size[1]}", "--force-device-scale-factor=1",
               f"--screenshot={png_path}", url], png_path.parent / "profile-shot")
    assert png_path.exists(), f"chromium wrote no screenshot to {png_path}"
    return png_path


def dump_dom(html_path: Path) -> str:
    """The DOM as the browser parsed it (encoding, entities, structure), serialised back to HTML."""
    return _chromium(["--dump-dom", html_path.as_uri()], html_path.parent / "profile-dom").stdout.decode()


def ocr(png_path: Path, lang: str = "eng") -> str:
    out = subprocess.run([need("tesseract"), str(png_path), "-", "-l", lang], capture_output=True,
                         timeout=TIMEOUT_S, check=True)
    return out.stdout.decode()


def need_ocr_lang(lang: str) -> None:
    langs = subprocess.run([need("tesseract"), "--list-langs"], capture_output=True, text=True).stdout.split()
    if lang not in langs:
        pytest.skip(f"tesseract has no '{lang}' data (Debian package tesseract-ocr-{lang})")


def squash(text: str) -> str:
    """For comparing OCR with source text: NFKC (OCR splits Thai sara am) and no whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).split())
