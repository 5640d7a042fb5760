"""Feature metadata: name, meaning, window and source topics, for docs generated from code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    name: str
    meaning: str
    window: str
    sources: str


def markdown_table(specs: tuple[FeatureSpec, ...]) -> str:
    """Examples:
    >>> print(markdown_table((FeatureSpec("a", "b", "c", "d"),)))
    | # | name | meaning | window | source topics |
    |---|---|---|---|---|
    | 0 | `a` | b | c | d |
    """
    rows = ["| # | name | meaning | window | source topics |", "|---|---|---|---|---|"]
    rows += [f"| {i} | `{s.name}` | {s.meaning} | {s.window} | {s.sources} |" for i, s in enumerate(specs)]
    return "\n".join(rows)
