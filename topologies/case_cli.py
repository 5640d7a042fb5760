"""``muleguard case trail CASE_ID --png FILE``: fetch a case's money trail from a worker and draw it.

Any worker answers ``GET /cases/{case_id}/trail``: the one that does not own the case routes
the request to the owner (Faust ``table_route``), by proxy or by redirect; redirects are
followed and keep the ``Authorization`` header. The token goes in that header, not the URL,
so it stays out of access logs. Full account numbers take the case's investigator token
(``--token-key`` derives it); the victim's case token gets the trail with accounts masked.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from topologies.cli import UserError

DEFAULT_URL = "http://127.0.0.1:6066"
ENV_URL = "MULEGUARD_URL"
TIMEOUT_S = 30.0


def trail_url(base_url: str, case_id: str) -> str:
    """Examples:
    >>> trail_url("http://w1:6066/", "rpt 1/2")
    'http://w1:6066/cases/rpt%201%2F2/trail'
    """
    return f"{base_url.rstrip('/')}/cases/{urllib.parse.quote(case_id, safe='')}/trail"


def fetch_trail(base_url: str, case_id: str, token: str | None, timeout_s: float = TIMEOUT_S) -> dict:
    """The Trail JSON of one case; a refused or failed request is a UserError saying why."""
    url = trail_url(base_url, case_id)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        hint = {401: "an investigator token is required (--token or --token-key)",
                403: "the token is wrong for this case",
                404: "no such case"}.get(exc.code, exc.reason)
        raise UserError(f"GET {url}: HTTP {exc.code}: {hint}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"GET {url}: cannot reach the worker ({reason}); is --url right?") from None
    try:
        trail = json.loads(body)
    except ValueError:
        raise UserError(f"GET {url}: the answer is not JSON") from None
    if not isinstance(trail, dict) or not isinstance(trail.get("nodes"), list) \
            or not isinstance(trail.get("edges"), list):
        raise UserError(f"GET {url}: the answer is not a trail (needs 'nodes' and 'edges' lists)")
    return trail


def investigator_token_from_env(case_id: str) -> str:
    """The case's investigator token (full accounts) derived from MULEGUARD_TOKEN_KEY, as the
    workers derive it (topologies.auth); the case token would get masked accounts."""
    try:
        from topologies.auth import investigator_token, token_key
    except ImportError:
        raise UserError("--token-key needs topologies.auth, which this build lacks; pass --token") from None
    return investigator_token(case_id, token_key())


def masked(trail: dict) -> bool:
    """The worker masked the accounts: the token was the victim's case token."""
    from topologies.pages.fmt import MASK

    return any(str(n.get("account", "")).startswith(MASK) for n in trail["nodes"] if isinstance(n, dict))


def cmd_case(args: argparse.Namespace) -> int:
    if not (args.png or args.json):
        raise UserError("give --png FILE, --json FILE or both")
    token = investigator_token_from_env(args.case_id) if args.token_key else args.token
    trail = fetch_trail(args.url or os.environ.get(ENV_URL) or DEFAULT_URL, args.case_id, token)
    summary = f"case {args.case_id}: {len(trail['nodes'])} accounts, {len(trail['edges'])} transfers"
    if masked(trail):
        summary += " (accounts masked: that was the case token; full ones take the investigator token)"
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(trail, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        summary += f" -> {args.json}"
    if args.png:
        from topologies.pages.trail_png import draw_trail

        Path(args.png).parent.mkdir(parents=True, exist_ok=True)
        draw_trail(trail, Path(args.png))
        summary += f" -> {args.png}"
    print(summary, flush=True)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``muleguard case ...`` on the top-level subcommands."""
    p = sub.add_parser("case", help="a case's data from a worker (money trail)")
    case = p.add_subparsers(dest="case_command", required=True)
    t = case.add_parser("trail", help="fetch GET /cases/{id}/trail and draw it (--png) or save it (--json)")
    t.add_argument("case_id")
    t.add_argument("--png", help="write the trail picture here")
    t.add_argument("--json", help="write the trail JSON here")
    t.add_argument("--url", help=f"any worker's web address (default ${ENV_URL} or {DEFAULT_URL})")
    who = t.add_mutually_exclusive_group()
    who.add_argument("--token", help="the case's investigator token (a case token gets masked accounts)")
    who.add_argument("--token-key", action="store_true",
                     help="derive the investigator token from MULEGUARD_TOKEN_KEY (investigators with the key)")
    t.set_defaults(func=cmd_case)
