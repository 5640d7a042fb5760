"""Ground-truth labels: which accounts are mules, and since when."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from streams.contracts import account_key
from streams.timefmt import parse_ts


@dataclass(frozen=True, slots=True)
class Label:
    is_mule: bool
    mule_since_ms: int | None
    kind: str


def read_labels(path: str | Path) -> dict[str, Label]:
    """``bank,account,is_mule[,mule_since][,kind]`` CSV to labels by account key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labels file {path} does not exist")
    labels: dict[str, Label] = {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"bank", "account", "is_mule"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: header lacks {', '.join(sorted(missing))}")
        for row in reader:
            since_raw = (row.get("mule_since") or "").strip()
            since = None
            if since_raw:
                since = int(since_raw) if since_raw.lstrip("-").isdigit() else parse_ts(since_raw)
            labels[account_key(row["bank"], row["account"])] = Label(
                is_mule=row["is_mule"].strip() in ("1", "true", "True"),
                mule_since_ms=since,
                kind=(row.get("kind") or "").strip() or ("mule" if row["is_mule"].strip() == "1" else "normal"),
            )
    return labels


def is_mule_at(labels: dict[str, Label], key: str, ts_ms: int) -> bool:
    """Point-in-time label: a mule only from ``mule_since`` on, when it is known.

    Examples:
        >>> labels = {"KTB:1": Label(True, 100, "mule")}
        >>> is_mule_at(labels, "KTB:1", 99), is_mule_at(labels, "KTB:1", 100), is_mule_at(labels, "X:2", 5)
        (False, True, False)
    """
    label = labels.get(key)
    if label is None or not label.is_mule:
        return False
    return label.mule_since_ms is None or ts_ms >= label.mule_since_ms
