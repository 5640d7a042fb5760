"""Worker settings, read from arguments and the environment when the app is built."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_BROKER = "MULEGUARD_BROKER"
ENV_COMMIT_INTERVAL = "MULEGUARD_COMMIT_INTERVAL_S"  # Faust's default is 2.8 s
ENV_PREFIX = "MULEGUARD_KAFKA_"

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaSecurity:
    """How every Kafka client of muleguard authenticates: Faust's (aiokafka) and librdkafka's.

    One source for both, so the worker's consumer, its changelog producer, its librdkafka
    sender, topic creation and the simulator's producer can never disagree. From
    ``MULEGUARD_KAFKA_*`` variables (docs/reliability.md lists them); the password is never
    in ``repr`` and can come from a file (a mounted Kubernetes Secret).
    """

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None  # client certificate: mutual TLS
    ssl_keyfile: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        problems = []
        if self.protocol not in PROTOCOLS:
            problems.append(f"{ENV_PREFIX}SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}")
        sasl = self.protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism not in SASL_MECHANISMS:
            problems.append(f"{ENV_PREFIX}SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}")
        if sasl and not (self.sasl_username and self.sasl_password):
            problems.append(f"{ENV_PREFIX}SASL_USERNAME and {ENV_PREFIX}SASL_PASSWORD are required for SASL")
        if not sasl and (self.sasl_mechanism or self.sasl_username or self.sasl_password):
            problems.append(f"SASL settings are set but {ENV_PREFIX}SECURITY_PROTOCOL={self.protocol} ignores them")
        if not self.protocol.endswith("SSL") and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            problems.append(f"TLS files are set but {ENV_PREFIX}SECURITY_PROTOCOL={self.protocol} ignores them")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            problems.append(f"{ENV_PREFIX}SSL_CERTFILE and {ENV_PREFIX}SSL_KEYFILE go together (mutual TLS)")
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                problems.append(f"{ENV_PREFIX}{name.upper()} {path} is not a file")
        if problems:  # a half-configured secure client would silently fall back or hang
            raise ValueError("; ".join(problems))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KafkaSecurity:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name, "").strip()
            if not value and (path := env.get(f"{ENV_PREFIX}{name}_FILE", "").strip()):
                value = Path(path).read_text().strip()
            return value or None

        return cls(
            protocol=(get("SECURITY_PROTOCOL") or "PLAINTEXT").upper(),
            sasl_mechanism=(m.upper() if (m := get("SASL_MECHANISM")) else None),
            sasl_username=get("SASL_USERNAME"),
            sasl_password=get("SASL_PASSWORD"),
            ssl_cafile=get("SSL_CAFILE"),
            ssl_certfile=get("SSL_CERTFILE"),
            ssl_keyfile=get("SSL_KEYFILE"),
            ssl_key_password=get("SSL_KEY_PASSWORD"),
        )

    @property
    def enabled(self) -> bool:
        return self.protocol != "PLAINTEXT"

    def librdkafka(self) -> dict[str, str]:
        """Settings for confluent-kafka clients (the sender, admin, producers of tools and tests)."""
        conf = {"security.protocol": self.protocol}
        if self.protocol.startswith("SASL_"):
            conf |= {"sasl.mechanism": self.sasl_mechanism or "", "sasl.username": self.sasl_username or "",
                     "sasl.password": self.sasl_password or ""}
        optional = {"ssl.ca.location": self.ssl_cafile, "ssl.certificate.location": self.ssl_certfile,
                    "ssl.key.location": self.ssl_keyfile, "ssl.key.password": self.ssl_key_password}
        return conf | {k: v for k, v in optional.items() if v}

    def ssl_context(self) -> Any:  # ssl.SSLContext | None
        """TLS for aiokafka: verify the broker against the CA file (or system CAs); mutual TLS with a cert."""
        if not self.protocol.endswith("SSL"):
            return None
        import ssl

        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile, self.ssl_key_password)
        return context

    def faust_credentials(self) -> Any:  # faust credentials | None
        """``broker_credentials`` for the Faust app (its consumer, producer and table changelogs)."""
        if not self.enabled:
            return None
        import faust

        if self.protocol.startswith("SASL_"):
            return faust.SASLCredentials(username=self.sasl_username, password=self.sasl_password,
                                         mechanism=self.sasl_mechanism, ssl_context=self.ssl_context())
        return faust.SSLCredentials(self.ssl_context())


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
    feature_log: bool = False  # send every scored event's vector to muleguard.feature-log.v1
    state_cache: int = 20_000  # decoded states kept between batches, per table (features/state.py DecodedStates)
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> WorkerSettings:
        security = overrides.pop("security", None) or KafkaSecurity.from_env()
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
            "feature_log": os.environ.get("MULEGUARD_FEATURE_LOG", "") not in ("", "0", "false"),
            "state_cache": int(os.environ.get("MULEGUARD_STATE_CACHE", "20000")),
            "security": security,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        extra = dict(values.get("extra") or {})  # type: ignore[call-overload]
        if commit_s := os.environ.get(ENV_COMMIT_INTERVAL):
            # How much processed input a crash can make the worker process again (docs/reliability.md).
            extra.setdefault("broker_commit_interval", float(commit_s))
        if security.enabled:  # app.create_app passes ``extra`` to faust.App
            extra.setdefault("broker_credentials", security.faust_credentials())
        values["extra"] = extra
        return cls(**values)  # type: ignore[arg-type]
