"""`muleguard case trail` against real HTTP servers: a worker that redirects, the owner that checks the token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from web_samples import TRAIL

CASE_ID = TRAIL["case_id"]
MULEGUARD = Path(sys.executable).parent / "muleguard"
TOKEN = "5be0c3a1d2f4e6a8b0c2d4e6f8a0b2c4"


@dataclass
class Workers:
    """Two local web servers standing in for two workers: ``front`` redirects, ``owner`` answers."""

    front: str
    owner: str
    token: str = TOKEN
    body: bytes = field(default_factory=lambda: json.dumps(TRAIL).encode())
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # (server, path, Authorization)


def _server(workers: Workers, role: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            workers.seen.append((role, self.path, self.headers.get("Authorization")))
            if role == "front":  # not the owner of the case: send the client to the worker that is
                self.send_response(307)
                self.send_header("Location", workers.owner + self.path)
                self.end_headers()
                return
            if self.path != f"/cases/{CASE_ID}/trail":
                return self._answer(404, b'{"error": "not found"}')
            auth = self.headers.get("Authorization")
            if not auth:
                return self._answer(401, b'{"error": "token required"}')
            if auth != f"Bearer {workers.token}":
                return self._answer(403, b'{"error": "forbidden"}')
            self._answer(200, workers.body)

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def workers() -> Iterator[Workers]:
    w = Workers(front="", owner="")
    servers = {role: _server(w, role) for role in ("front", "owner")}
    w.front, w.owner = (f"http://127.0.0.1:{servers[r].server_address[1]}" for r in ("front", "owner"))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers.values()]
    for thread in threads:
        thread.start()
    yield w
    for server in servers.values():
        server.shutdown()
        server.server_close()


def muleguard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    return subprocess.run([str(MULEGUARD), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_fetches_through_a_redirect_and_writes_png_and_json(workers: Workers, tmp_path: Path) -> None:
    png, out = tmp_path / "out" / "trail.png", tmp_path / "trail.json"
    done = muleguard("case", "trail", CASE_ID, "--url", workers.front, "--token", TOKEN,
                     "--png", str(png), "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text(encoding="utf-8")) == TRAIL
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert f"{len(TRAIL['nodes'])} accounts, {len(TRAIL['edges'])} transfers" in done.stdout
    path = f"/cases/{CASE_ID}/trail"
    # Redirected to the owner, token in the header both times, never in the URL.
    assert workers.seen == [("front", path, f"Bearer {TOKEN}"), ("owner", path, f"Bearer {TOKEN}")]


@pytest.mark.parametrize(("token", "status"), [(None, "401"), ("0" * 32, "403")])
def test_missing_or_wrong_token_is_one_line_exit_2(workers: Workers, tmp_path: Path, token: str | None,
                                                    status: str) -> None:
    args = ["case", "trail", CASE_ID, "--url", workers.owner, "--png", str(tmp_path / "t.png")]
    done = muleguard(*args, *(["--token", token] if token else []))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and f"HTTP {status}" in done.stderr
    assert not (tmp_path / "t.png").exists()


def test_an_answer_that_is_not_a_trail_is_refused(workers: Workers, tmp_path: Path) -> None:
    workers.body = json.dumps({"case_id": CASE_ID, "status": "held"}).encode()
    done = muleguard("case", "trail", CASE_ID, "--url", workers.owner, "--token", TOKEN,
                     "--json", str(tmp_path / "t.json"))
    assert done.returncode == 2 and "not a trail" in done.stderr
    assert not (tmp_path / "t.json").exists()


def test_token_key_sends_the_investigator_token(workers: Workers, tmp_path: Path) -> None:
    """Police and AMLO get the full trail: the worker masks accounts for the victim's case token."""
    from topologies import auth

    workers.token = auth.investigator_token(CASE_ID, "investigator-key")
    done = muleguard("case", "trail", CASE_ID, "--url", workers.front, "--token-key",
                     "--json", str(tmp_path / "t.json"), env={"MULEGUARD_TOKEN_KEY": "investigator-key"})
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))["case_id"] == CASE_ID
    assert "masked" not in done.stdout


def test_a_masked_trail_is_drawn_and_said_to_be_masked(workers: Workers, tmp_path: Path) -> None:
    from topologies.case_views import masked_trail

    workers.body = json.dumps(masked_trail(TRAIL)).encode()
    done = muleguard("case", "trail", CASE_ID, "--url", workers.owner, "--token", TOKEN,
                     "--png", str(tmp_path / "t.png"))
    assert done.returncode == 0, done.stderr
    assert "accounts masked" in done.stdout and (tmp_path / "t.png").stat().st_size > 10_000
