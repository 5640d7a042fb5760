"""Case status, money trail and account views, served by the Faust web server.

``GET /cases/{case_id}`` (JSON, or the victim's page for browsers), ``GET
/cases/{case_id}/trail`` and ``GET /accounts/{bank}/{account}``. Any worker answers: the
request is routed to the worker owning the key (``table_route``), after the token was
checked, so a wrong token gets the same answer whether or not the key exists. The victim's
case token gets accounts masked as the victim's page shows them (``masked_status``,
``masked_trail``); full accounts take an investigator token (docs/tracing.md). The
formatting functions are pure (dict in, dict out) and shaped exactly as COMMON.md says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from faust.exceptions import SameNode
from faust.web import Request, Response, View

from features import cases as case_logic
from features.holds import Hold
from features.state import AccountState
from streams.timefmt import format_ts
from topologies import auth
from topologies.app import Pipeline
from topologies.pages.fmt import mask_account

log = logging.getLogger(__name__)

# Where several holds of a case sit on one account, the trail shows the one that matters most.
HOLD_PRIORITY = {"held": 0, "requested": 1, "review": 2, "refunded": 3, "released": 3, "empty": 4, "rejected": 4}


def _ts(ts_ms: int | None) -> str | None:
    return None if ts_ms is None or ts_ms < 0 else format_ts(ts_ms)


def _split(key: str) -> tuple[str, str]:
    bank, _, account = key.partition(":")
    return bank, account


def case_status(case: dict) -> dict:
    """The case as a victim follows it.

    ``traced_satang`` is the reported money found leaving the victim's account (hop 1);
    ``requested``/``held``/``released`` sum the case's holds, and ``held_satang`` counts only
    holds the banks confirmed (each hop's: the same money held at two hops counts twice).
    A hold ended because the bank paid the account out to victims is ``refunded`` (the account
    states say ``released``; the account tells the case which holds the payout ended), and its
    money is not counted as released: the victim was paid, nothing was let go.
    """
    holds = []
    for rid, h in case["holds"].items():
        bank, account = _split(h["account"])
        holds.append({
            "bank": bank, "account": account, "hop": h["hop"], "traced_satang": h["traced_satang"],
            "requested_satang": h["requested_satang"], "held_satang": h["held_satang"], "status": h["status"],
            "expires_ts": _ts(h["expires_ts_ms"]), "legal_basis": h["legal_basis"] or None, "request_id": rid})
    holds.sort(key=lambda h: (h["hop"], h["bank"], h["account"], h["request_id"]))
    real = [h for h in case["holds"].values() if h["status"] != "review"]
    return {
        "case_id": case["case_id"],
        "status": case["status"],
        "reported_ts": _ts(case["reported_ts_ms"]),
        "updated_ts": _ts(case["updated_ts_ms"]),
        "reported_satang": case["reported_satang"],
        "traced_satang": sum(e[5] for e in case["edges"] if e[6] == 1),
        "requested_satang": sum(h["requested_satang"] for h in real),
        "held_satang": sum(h["held_satang"] or 0 for h in real if h["status"] == "held"),
        "released_satang": sum(h["released_satang"] for h in case["holds"].values() if h["status"] == "released"),
        "refund_proposed_satang": sum(case["refunds"].values()),
        "refunded_satang": case.get("refunded_satang", 0),
        "max_hop": max((n["hop"] for n in case["nodes"].values()), default=0),
        "holds": holds,
        "history": [{"ts": _ts(ts), "status": status} for ts, status in case["history"]],
    }


def case_trail(case: dict) -> dict:
    """The money trail as a graph for police and AMLO: accounts, transfers, traced amounts.

    An account with several holds of the case shows the one that matters most
    (``HOLD_PRIORITY``): money held there is not hidden by a later hold that found it empty.
    """
    status_by_account: dict[str, str] = {}
    for h in case["holds"].values():
        rank = (HOLD_PRIORITY.get(h["status"], len(HOLD_PRIORITY)), h["status"])
        seen = status_by_account.get(h["account"])
        if seen is None or rank < (HOLD_PRIORITY.get(seen, len(HOLD_PRIORITY)), seen):
            status_by_account[h["account"]] = h["status"]
    nodes = []
    if case["victim"]:
        bank, account = _split(case["victim"])
        nodes.append({"id": case["victim"], "bank": bank, "account": account, "hop": 0, "role": "victim",
                      "hold_status": None, "traced_satang": case["reported_satang"]})
    for node_id, n in sorted(case["nodes"].items(), key=lambda kv: (kv[1]["hop"], kv[0])):
        bank, account = _split(node_id)
        nodes.append({"id": node_id, "bank": bank, "account": account, "hop": n["hop"], "role": n["role"],
                      "hold_status": status_by_account.get(node_id), "traced_satang": n["traced_satang"]})
    edges = [{"transfer_id": tid, "from": src, "to": dst, "ts": _ts(ts), "amount_satang": amount,
              "traced_satang": traced, "hop": hop}
             for tid, src, dst, ts, amount, traced, hop in sorted(case["edges"], key=lambda e: (e[6], e[3], e[0]))]
    return {"case_id": case["case_id"], "nodes": nodes, "edges": edges}


def masked_status(status: dict) -> dict:
    """What a case token opens: the case status with accounts masked as the victim's page shows them."""
    return {**status, "holds": [{**h, "account": mask_account(h["account"])} for h in status["holds"]]}


def masked_trail(trail: dict) -> dict:
    """What a case token opens: the trail with accounts masked as the victim's page shows them.

    Node ids become ``BANK:••••1234`` (``~2``, ``~3`` appended where two accounts mask alike),
    so the graph keeps its shape without naming any account.
    """
    ids: dict[str, str] = {}
    nodes = []
    for n in trail["nodes"]:
        masked = mask_account(n["account"])
        node_id = base = f"{n['bank']}:{masked}"
        same = 1
        while node_id in ids.values():
            same += 1
            node_id = f"{base}~{same}"
        ids[n["id"]] = node_id
        nodes.append({**n, "id": node_id, "account": masked})
    edges = [{**e, "from": ids.get(e["from"], e["from"]), "to": ids.get(e["to"], e["to"])} for e in trail["edges"]]
    return {**trail, "nodes": nodes, "edges": edges}


def case_json(case: dict, scope: str) -> dict:
    """``GET /cases/{id}`` as JSON: full accounts for an investigator's token, masked for any other."""
    status = case_status(case)
    return status if scope == auth.INVESTIGATOR else masked_status(status)


def trail_json(case: dict, scope: str) -> dict:
    """``GET /cases/{id}/trail``: full accounts for an investigator's token, masked for any other."""
    trail = case_trail(case)
    return trail if scope == auth.INVESTIGATOR else masked_trail(trail)


def account_view(key: str, state: AccountState) -> dict:
    """What bank staff see about one of their accounts: holds, traced money, score summary."""
    bank, account = _split(key)
    last, best, count, last_ts = state.score_summary
    holds = []
    for row in state.holds:
        h = Hold(*row).view()
        h.update(created_ts=_ts(h.pop("created_ts_ms")), expires_ts=_ts(h.pop("expires_ts_ms")),
                 case_id=h["case_id"] or None, held_satang=None if h["held_satang"] < 0 else h["held_satang"])
        holds.append(h)
    return {
        "bank": bank, "account": account,
        "held_until": _ts(state.held_until_ms),
        "taint_hops": None if state.taint_hops < 0 else state.taint_hops,
        "holds": holds,
        "taints": [{"case_id": c, "transfer_id": t, "hop": hop, "remaining_satang": left, "credit_ts": _ts(ts)}
                   for c, t, hop, left, ts, _, _ in state.taints],
        "scores": {"last": None if last < 0 else last / 1e6, "max": None if best < 0 else best / 1e6,
                   "count": count, "last_ts": _ts(last_ts)},
    }


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "application/json" not in accept.split(",")[0]


def _lang(request: Request) -> str:
    lang = request.query.get("lang") or request.headers.get("Accept-Language", "th")[:2]
    return "en" if lang.lower().startswith("en") else "th"


def _render_page(status: dict, request: Request) -> str:
    """The victim's page; a token that came in the link is kept in its language switch."""
    from topologies.pages.victim import render_case_page

    return render_case_page(status, _lang(request), token=request.query.get("token"))


def register(p: Pipeline) -> None:
    app, key = p.app, auth.token_key()

    def refused(view: View, status: int) -> Response:
        return view.json({"error": "token required" if status == 401 else "forbidden"}, status=status)

    def denied(view: View, request: Request, expected: str) -> Response | None:
        status = auth.check(auth.presented(request.query, request.headers), expected)
        return None if status is None else refused(view, status)

    def case_scope(request: Request, case_id: str) -> str | int:
        return auth.case_access(auth.presented(request.query, request.headers), case_id, key)

    def with_case(view: View, case_id: str, answer: Callable[[dict], Response]) -> Response:
        """``answer(case)`` for a case this worker owns, 404 if there is none."""
        raw = p.cases.get(case_id.encode())
        if not raw:
            return view.json({"error": "no such case"}, status=404)
        return answer(case_logic.from_bytes(raw, case_id, 0))

    @app.page("/cases/{case_id}")
    class CaseView(View):
        async def get(self, request: Request, case_id: str) -> Response:
            scope = case_scope(request, case_id)
            if isinstance(scope, int):
                return refused(self, scope)
            return await self.owned(request, case_id=case_id, scope=scope)

        @app.table_route(table=p.cases, match_info="case_id")
        async def owned(self, request: Request, case_id: str, scope: str = auth.CASE) -> Response:
            def answer(case: dict) -> Response:
                if _wants_html(request):
                    return self.html(_render_page(case_status(case), request))
                return self.json(case_json(case, scope))

            return with_case(self, case_id, answer)

    @app.page("/cases/{case_id}/trail")
    class TrailView(View):
        async def get(self, request: Request, case_id: str) -> Response:
            scope = case_scope(request, case_id)
            if isinstance(scope, int):
                return refused(self, scope)
            return await self.owned(request, case_id=case_id, scope=scope)

        @app.table_route(table=p.cases, match_info="case_id")
        async def owned(self, request: Request, case_id: str, scope: str = auth.CASE) -> Response:
            return with_case(self, case_id, lambda case: self.json(trail_json(case, scope)))

    @app.page("/accounts/{bank}/{account}")
    class AccountView(View):
        async def get(self, request: Request, bank: str, account: str) -> Response:
            refused = denied(self, request, auth.bank_token(bank, key))
            if refused is not None:
                return refused
            account_key = f"{bank}:{account}"
            try:  # what table_route does, for a key made of two path parts
                return await app.router.route_req(p.accounts.name, account_key.encode(), self.web, request)
            except SameNode:
                raw = p.accounts.get(account_key.encode())
            if not raw:
                return self.json({"error": "no such account"}, status=404)
            return self.json(account_view(account_key, AccountState.from_bytes(raw)))
