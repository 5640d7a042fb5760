"""Topic contracts, codecs and validation, the dead-letter path, and the world simulator."""

from streams.contracts import (
    DeadLetter,
    FreezeRequest,
    RegistryLink,
    Rejection,
    TelecomEvent,
    Transfer,
    VictimReport,
    account_key,
)

__all__ = [
    "DeadLetter", "FreezeRequest", "RegistryLink", "Rejection", "TelecomEvent", "Transfer",
    "VictimReport", "account_key",
]
