"""The examples in the web helpers' docstrings are tests too (testpaths holds only tests/)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ("topologies.pages.fmt", "topologies.case_cli", "topologies.bench_trace")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
