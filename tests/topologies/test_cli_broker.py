"""Commands that talk to a broker fail with one line and exit code 2 when it is not there (or
not theirs), instead of claiming success or ending in a Kafka traceback."""

from __future__ import annotations

import argparse
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from models.versions import Change
from streams.simulator import sink
from topologies import cli_models
from topologies.cli import main

DEAD = "kafka://127.0.0.1:1"  # nothing listens on port 1: connections are refused at once


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("muleguard: error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_simulate_into_a_dead_broker_fails_saying_how_many_were_lost(monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Delivery failures count: "sent N events" with exit 0 would hide a run that delivered nothing."""
    real = sink._make_producer
    monkeypatch.setattr(sink, "_make_producer",  # give up on an event after 1 s, not minutes
                        lambda bootstrap, config=None: real(bootstrap, {**(config or {}), "message.timeout.ms": 1000}))
    started = time.monotonic()
    assert main(["simulate", "--broker", DEAD, "--accounts", "500", "--days", "0.1"]) == 2
    assert time.monotonic() - started < 15
    err = _one_line_error(capsys)
    assert "not delivered" in err and DEAD in err, err
    assert "sent " not in capsys.readouterr().out


def test_broker_on_a_taken_port_is_refused(taken_port: int, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Tansu dies on a taken port, and waiting for the port would find the other listener."""
    monkeypatch.setattr("topologies.proc.exit_on_sigterm", lambda: None)  # leave pytest's SIGTERM alone
    assert main(["broker", "--port", str(taken_port)]) == 2
    captured = capsys.readouterr()
    assert "kafka://" not in captured.out
    assert f"port {taken_port}" in captured.err and "taken" in captured.err and captured.err.count("\n") == 1


def test_models_change_with_an_unreachable_broker_says_workers_were_not_told(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The registry has changed by then: say so, and how to tell the workers, in one line."""
    monkeypatch.setattr(cli_models, "ANNOUNCE_TIMEOUT_S", 1.0)
    registry = tmp_path / "registry"
    started = time.monotonic()
    assert main(["models", "shadow", "--off", "--registry", str(registry), "--broker", DEAD]) == 2
    assert time.monotonic() - started < 10
    err = _one_line_error(capsys)
    assert "registry updated" in err and "NOT told" in err, err
    assert f"muleguard models shadow --off --registry {registry} --broker {DEAD}" in err
    assert json.loads((registry / "state.json").read_text())["shadow"] is None


@pytest.mark.parametrize(("change", "command"), [
    (Change("promote", "m-b", "m-a", Path("m-b")), "muleguard models promote m-b --broker X"),
    # rolling back again would go one version further back: promoting the current one changes nothing
    (Change("rollback", "m-a", "m-b", Path("m-a")), "muleguard models promote m-a --broker X"),
    (Change("rollback", "m-a", "m-b", Path("m-a"), shadow_cleared="m-a"),
     "muleguard models promote m-a --broker X` then `muleguard models shadow --off --broker X"),
    (Change("shadow", "m-c", None, Path("m-c")), "muleguard models shadow m-c --broker X"),
])
def test_the_reannounce_command_leaves_the_registry_as_it_is(change: Change, command: str) -> None:
    assert cli_models._reannounce(argparse.Namespace(registry=None, broker="X"), change) == command


def test_a_cleared_shadow_is_announced_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers keep their shadow until told: a rollback onto it also sends ``shadow_off``."""
    import topologies.control

    sent: list[Change] = []

    def publish(_bootstrap: str, change: Change, _root: Path) -> Any:
        sent.append(change)
        return topologies.control.message_for(change, 0)

    monkeypatch.setattr(cli_models, "_reachable", lambda _bootstrap: None)
    monkeypatch.setattr(topologies.control, "publish", publish)
    args = argparse.Namespace(registry=None, broker="kafka://b:9092")
    cli_models._announce(args, Change("rollback", "m-a", "m-b", Path("m-a"), shadow_cleared="m-a"))
    assert [(c.action, c.version, c.previous) for c in sent] == [("rollback", "m-a", "m-b"),
                                                                 ("shadow_off", None, "m-a")]
