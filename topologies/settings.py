"""Worker settings, read from arguments and the environment when the app is built."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ENV_BROKER = "MULEGUARD_BROKER"


@dataclass(frozen=True)
class WorkerSettings:
    broker: str
    model_dir: Path
    data_dir: Path = Path("var/worker")
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    app_id: str = "muleguard"
    partitions: int = 4
    store: str = "rocksdb://"
    endpoints_path: Path | None = None
    clock_path: Path | None = None  # tests: a file holding the worker clock (epoch ms)
    expiry_check_s: float = 30.0  # how often due holds are looked for
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> WorkerSettings:
        values: dict[str, object] = {
            "broker": os.environ.get(ENV_BROKER, ""),
            "model_dir": Path(os.environ.get("MULEGUARD_MODEL", "var/model")),
            "data_dir": Path(os.environ.get("MULEGUARD_DATA_DIR", "var/worker")),
            "web_port": int(os.environ.get("MULEGUARD_WEB_PORT", "6066")),
            "web_host": os.environ.get("MULEGUARD_WEB_HOST", "127.0.0.1"),
            "app_id": os.environ.get("MULEGUARD_APP_ID", "muleguard"),
            "endpoints_path": Path(endpoints) if (endpoints := os.environ.get("MULEGUARD_ENDPOINTS")) else None,
            "clock_path": Path(clock) if (clock := os.environ.get("MULEGUARD_CLOCK_FILE")) else None,
            "expiry_check_s": float(os.environ.get("MULEGUARD_EXPIRY_CHECK_S", "30")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
