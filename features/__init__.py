"""The feature engine: per-account and per-identity state, rolling windows, vectors.

Pure Python and numpy, no Faust: the same code runs in the live workers and in replay.
"""

__all__ = ["engine", "identity", "replay", "routing", "signals", "state", "windows"]
