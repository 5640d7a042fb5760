"""What each token opens of a case (docs/tracing.md, "Web views and tokens"), from real cases."""

from __future__ import annotations

import json
import re

from web_samples import VICTIM, hold, hop, real_case, reported

from topologies import auth
from topologies.case_views import case_json, case_trail, masked_trail, trail_json

KEY = "test-token-key"
M1, M2, M3 = "KBANK:204-8-31597", "SCB:771-2-60418", "KTB:915-0-21597"  # M3 masks like M1 at another bank
CASE = real_case(reported(100_000_00), hop(M1, 1, 100_000_00, "t1", "r1"),
                 hop(M2, 2, 60_000_00, "t2", "r2", src=M1), hop(M3, 2, 40_000_00, "t3", "r3", src=M1),
                 hold(M1, "r1", "held", 100_000_00))
FULL = [a.partition(":")[2] for a in (VICTIM, M1, M2, M3)]


def opened_with(token: str | None, what: str = "status") -> dict | int:
    """What ``GET /cases/rpt-1`` (or ``/trail``) answers for ``token``: the views' own steps."""
    scope = auth.case_access(token, "rpt-1", KEY)
    if isinstance(scope, int):
        return scope
    return case_json(CASE, scope) if what == "status" else trail_json(CASE, scope)


def digits_of(answer: object) -> str:
    return re.sub(r"\D", "", json.dumps(answer, ensure_ascii=False))


def test_the_case_token_opens_case_json_and_trail_with_masked_accounts_only() -> None:
    victim_link = auth.case_token("rpt-1", KEY)
    for what in ("status", "trail"):
        answer = opened_with(victim_link, what)
        assert isinstance(answer, dict)
        for account in FULL:
            assert re.sub(r"\D", "", account) not in digits_of(answer), f"{account} leaks in the {what}"
    status = opened_with(victim_link)
    assert [h["account"] for h in status["holds"]] == ["••••1597", "••••1597", "••••0418"]  # type: ignore[index]
    trail = opened_with(victim_link, "trail")
    ids = [n["id"] for n in trail["nodes"]]  # type: ignore[index]
    assert ids == ["GSB:••••4417", "KBANK:••••1597", "KTB:••••1597", "SCB:••••0418"]
    assert {(e["from"], e["to"]) for e in trail["edges"]} == {  # type: ignore[index]
        ("GSB:••••4417", "KBANK:••••1597"), ("KBANK:••••1597", "SCB:••••0418"), ("KBANK:••••1597", "KTB:••••1597")}


def test_the_investigator_token_opens_full_accounts() -> None:
    token = auth.investigator_token("rpt-1", KEY)
    assert token != auth.case_token("rpt-1", KEY)
    assert opened_with(token, "trail") == case_trail(CASE)
    assert {h["account"] for h in opened_with(token)["holds"]} == {"204-8-31597", "771-2-60418", "915-0-21597"}  # type: ignore[index]
    # no token, another case's investigator token, a bank token: refused before any table is read
    assert opened_with(None) == 401
    assert opened_with(auth.investigator_token("rpt-2", KEY)) == opened_with(auth.bank_token("KBANK", KEY)) == 403


def test_masked_trail_keeps_accounts_that_mask_alike_apart() -> None:
    trail = {"case_id": "c", "nodes": [
        {"id": "SCB:111-1-11234", "bank": "SCB", "account": "111-1-11234", "hop": 1},
        {"id": "SCB:222-2-21234", "bank": "SCB", "account": "222-2-21234", "hop": 2},
        {"id": "SCB:333-3-31234", "bank": "SCB", "account": "333-3-31234", "hop": 3}],
        "edges": [{"from": "SCB:111-1-11234", "to": "SCB:222-2-21234"},
                  {"from": "SCB:222-2-21234", "to": "SCB:333-3-31234"}]}
    masked = masked_trail(trail)
    assert [n["id"] for n in masked["nodes"]] == ["SCB:••••1234", "SCB:••••1234~2", "SCB:••••1234~3"]
    assert [(e["from"], e["to"]) for e in masked["edges"]] == [
        ("SCB:••••1234", "SCB:••••1234~2"), ("SCB:••••1234~2", "SCB:••••1234~3")]


def test_trail_shows_the_hold_that_matters_most_on_an_account() -> None:
    """Held > requested > review > released > empty/rejected, whatever order the holds came in."""
    two_credits = [reported(150_000_00), hop(M1, 1, 100_000_00, "t1", "r1"), hop(M1, 1, 50_000_00, "t2", "r2")]
    cases = {
        "held": real_case(*two_credits, hold(M1, "r1", "held", 100_000_00), hold(M1, "r2", "empty", 0)),
        "requested": real_case(*two_credits, hold(M1, "r1", "rejected", 0)),
        "released": real_case(*two_credits, hold(M1, "r2", "released", -1, 50_000_00), hold(M1, "r1", "empty", 0)),
    }
    for expected, case in cases.items():
        [node] = [n for n in case_trail(case)["nodes"] if n["id"] == M1]
        assert node["hold_status"] == expected, case["holds"]
    review_first = real_case(reported(1_000_00), hop(M2, 1, 500_00, "t9", "v9", action="review"),
                             hop(M2, 1, 500_00, "t8", "r8"), hold(M2, "r8", "empty", 0))
    assert [n["hold_status"] for n in case_trail(review_first)["nodes"] if n["id"] == M2] == ["review"]
