"""Generated docs are current: rerun `python -m topologies.docs` after changing contracts or features."""

from __future__ import annotations

import pytest

from topologies import docs


@pytest.mark.parametrize("name", sorted(docs.GENERATED))
def test_generated_doc_is_current(name: str) -> None:
    assert (docs.DOCS / name).read_text() == docs.GENERATED[name]()
