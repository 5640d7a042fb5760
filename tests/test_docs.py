"""Generated docs are current: rerun `python -m topologies.docs` after changing contracts or features."""

from __future__ import annotations

import pytest

from topologies import docs


@pytest.mark.parametrize("name", sorted(docs.GENERATED))
def test_generated_doc_is_current(name: str) -> None:
    assert (docs.DOCS / name).read_text() == docs.GENERATED[name]()


def test_every_rejection_reason_is_explained_to_producers() -> None:
    """A producer reading a dead letter finds its ``reason`` in docs/topics.md."""
    from streams.codec import REJECTION_REASONS

    assert sorted(r for r in REJECTION_REASONS if f"`{r}`" not in docs.topics_markdown()) == []
