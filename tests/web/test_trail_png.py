"""The money-trail picture: a real PNG, layered by hop, coloured by hold status, with amount labels."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from web_browser import need, ocr
from web_samples import TRAIL

from topologies.pages.trail_png import HOLD_COLOURS, draw_trail

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def pixels_of(image: Image.Image, colour: str) -> np.ndarray:
    """x of every pixel painted exactly this fill colour (box interiors are solid: the node area)."""
    exact = (np.asarray(image.convert("RGB")) == np.array(rgb(colour), dtype=np.uint8)).all(axis=2)
    return np.nonzero(exact)[1]


@pytest.fixture(scope="module")
def picture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trail") / "trail.png"
    draw_trail(TRAIL, path)
    return path


def test_is_a_png_of_sensible_size(picture: Path) -> None:
    assert picture.read_bytes()[:8] == PNG_MAGIC
    with Image.open(picture) as image:
        image.verify()
    with Image.open(picture) as image:
        width, height = image.size
    assert 800 <= width <= 6000 and 300 <= height <= 4000, (width, height)
    assert width > height  # four layers side by side, at most two accounts a layer


def test_nodes_are_coloured_by_hold_status_and_layered_by_hop(picture: Path) -> None:
    image = Image.open(picture)
    box_area = 200 * 70  # a node box is about 300 x 110 pixels
    centre_x = {}
    for status in ("held", "requested", "review"):
        painted = pixels_of(image, HOLD_COLOURS[status])
        assert len(painted) > box_area, f"no '{status}' node painted"
        centre_x[status] = float(painted.mean())
    for status in ("rejected", "released", "empty"):  # no such hold in this trail
        assert len(pixels_of(image, HOLD_COLOURS[status])) < box_area / 10
    # requested: hop 1 only; held: hops 1 and 2; review: hop 3.
    assert centre_x["requested"] < centre_x["held"] < centre_x["review"]


def test_amount_labels_are_readable(picture: Path) -> None:
    need("tesseract")
    text = ocr(picture)
    edge_only = ("18,500.00", "15,000.00")  # traced amounts that appear only as edge labels
    assert any(amount in text for amount in edge_only), text
    every = ("48,750.00", "28,750.00", "20,000.00", "18,500.00", "15,000.00", "33,500.00", "6,500.00", "12,000.00")
    assert sum(amount in text for amount in every) >= 4, text


def test_fan_in_from_unlisted_accounts_and_an_empty_trail_still_draw(picture: Path, tmp_path: Path) -> None:
    trail = copy.deepcopy(TRAIL)
    trail["nodes"] = [n for n in trail["nodes"] if n["id"] != "TTB:506-3-77120"]  # edge endpoints only
    draw_trail(trail, tmp_path / "partial.png")
    draw_trail({"case_id": "empty", "nodes": [], "edges": []}, tmp_path / "empty.png")
    for name in ("partial.png", "empty.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
    # The unlisted payee is drawn as a plain box (a colour no listed node has) in the column of
    # the hop its edges give it: left of hop 2's held account, not dropped with its edges.
    image = Image.open(tmp_path / "partial.png")
    bare = pixels_of(image, HOLD_COLOURS[None])
    assert len(bare) > 200 * 70, "the unlisted account was not drawn"
    assert not len(pixels_of(Image.open(picture), HOLD_COLOURS[None]))  # the whole trail
    assert bare.mean() < pixels_of(image, HOLD_COLOURS["held"]).mean() < pixels_of(image, HOLD_COLOURS["review"]).mean()
