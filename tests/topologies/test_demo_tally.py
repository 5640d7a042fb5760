"""The demo's count of who was held: innocents split by why (the model, or traced money only)."""

from __future__ import annotations

from streams.codec import decode_freeze_request, encode_freeze_request
from streams.contracts import FreezeRequest
from topologies.demo import Tally, _outcome, _tally


def _request(account: str, reason: str, action: str = "hold") -> FreezeRequest:
    return FreezeRequest(
        request_id=f"r-{account}-{reason}-{action}", bank="KTB", account=account, action=action,  # type: ignore[arg-type]
        amount_satang=10_000, reason=reason, score=0.9 if reason == "model" else None,  # type: ignore[arg-type]
        model_version="m1" if reason == "model" else None, top_reasons=("why",),
        case_id="rp-1" if reason == "trace" else None, hop=3 if reason == "trace" else None,
        trigger_event_id="tx-1", event_ts_ms=1_700_000_000_000, emitted_ts_ms=1_700_000_000_100,
        legal_basis="bank_suspicion_3d", expires_ts_ms=1_700_259_200_000)


def _seen(tally: Tally, request: FreezeRequest) -> None:
    raw = encode_freeze_request(request)
    _tally(tally, decode_freeze_request(raw), raw)  # as the demo's consumer thread does


def test_innocents_are_counted_by_why_they_were_held() -> None:
    tally = Tally()
    for account, reason in (("mule", "model"), ("mule", "trace"), ("shop", "trace"), ("neighbour", "trace"),
                            ("neighbour", "model"), ("night-owl", "model"), ("quiet-mule", "trace")):
        _seen(tally, _request(account, reason))
    _seen(tally, _request("saver", "trace", action="release"))  # a release is not a freeze
    active = {"KTB:mule", "KTB:other-mule", "KTB:shop", "KTB:neighbour", "KTB:night-owl", "KTB:saver"}
    # quiet-mule received traced money but sent nothing in the run: not counted, and no innocent
    outcome = _outcome(tally, {"KTB:mule": 1, "KTB:other-mule": 1, "KTB:quiet-mule": 1}, active)
    assert (outcome.mules, outcome.mules_frozen) == (2, 1)
    # held by the model at least once (with or without traced money), and traced money only
    assert (outcome.innocents_by_model, outcome.innocents_traced_only) == (2, 1)
