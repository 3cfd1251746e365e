"""Decisions: evaluate and log one request; read one logged decision; page through the log.

One decision reads top to bottom: token → schema → decision id → version in force at
``as_of`` → engine → masked log row → response. Nothing here knows how rules are evaluated
or how rows are stored.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request
from flask.views import MethodView
from marshmallow import ValidationError

from service.auth import DECIDERS, READERS, require
from service.decision_log import BadCursor
from service.decisions import DecidedRequest
from service.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    client_error,
    documented,
)
from service.extensions import Services, services
from service.fastload import FastLoader
from service.idempotency import HEADER, MAX_KEY_LENGTH, Claim, KeyTaken, Replay
from service.ids import new_decision_id
from service.masking import redact
from service.parsing import ApiBlueprint
from service.schemas import (
    BatchRequestSchema,
    BatchResponseSchema,
    DecisionListSchema,
    DecisionQuerySchema,
    DecisionRequestSchema,
    DecisionResponseSchema,
    LoggedDecisionSchema,
)

__all__ = ["MAX_BATCH", "REQUEST", "Decisions", "LoggedDecision", "batch", "blp"]

blp = ApiBlueprint("decisions", __name__, url_prefix="/v1/decisions",
                description="Evaluate facts against the policy in force, and the decision log")

# the request schema, and its compiled shortcut for plainly valid bodies (service/fastload.py)
REQUEST = FastLoader(DecisionRequestSchema())

# --- Idempotency-Key (service/idempotency.py) ----------------------------------------------

_KEY_DOC = {
    "parameters": [{
        "in": "header", "name": HEADER, "required": False,
        "description": "a key of the client's choosing (a UUID, say) that makes a retry "
                       "safe: the same key with the same body, within IDEMPOTENCY_SECONDS "
                       "(a day), is answered as the first time and logs nothing new "
                       "(`Idempotent-Replayed: true`); with another body it is a 409",
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
                   "pattern": "^[ -~]+$"}}],
}
_KEY_ERRORS = {409: "`idempotency_key_reused`: the `Idempotency-Key` was used with "
                    "another body"}


def _claim(svc: Services) -> tuple[Claim | None, Response | None]:
    """The request's claim of its Idempotency-Key (None without the header), and the answer
    an earlier request with the same key and body was given (None if there was none)."""
    key = request.headers.get(HEADER)
    if key is None:
        return None, None
    claim = svc.idempotency.claim(g.principal.token_id, key, request.get_data(cache=True))
    earlier = svc.idempotency.find(claim)
    return claim, None if earlier is None else _replayed(earlier)


def _replayed(replay: Replay) -> Response:
    return Response(replay.body, status=replay.status, mimetype="application/json",
                    headers={"Idempotent-Replayed": "true"})


def _logged_answer(svc: Services, decided: list[DecidedRequest], answer: Any,
                   claim: Claim | None) -> Response:
    """Log ``decided`` (with ``claim``'s row, if any), then answer.

    The answer is the engine's dicts as they are: they have the documented shape
    (tests/service/test_schemas.py keeps the document true), and a marshmallow dump would
    only copy them on the service's hottest path. A key that another request with the same
    key committed first is answered with what that request stored.
    """
    response = jsonify(answer)
    key = None if claim is None else svc.idempotency.row(
        claim, 200, response.get_data(), [d.entry.id for d in decided])
    try:
        svc.decisions.record(decided, key)
    except KeyTaken:
        assert claim is not None
        replay = svc.idempotency.find(claim)
        if replay is None:          # taken and expired at once: the client tries again
            raise
        return _replayed(replay)
    return response


@blp.route("")
class Decisions(MethodView):
    @require(*DECIDERS)
    @blp.arguments(REQUEST.schema, fast=REQUEST)
    @blp.response(200, DecisionResponseSchema)
    @blp.doc(**_KEY_DOC)
    @blp.doc(**documented({
        400: "`malformed_json`: the body is not JSON",
        404: "`unknown_policy`, `unknown_action`, `unknown_version` (a pinned `version`)",
        413: "`payload_too_large`: the body is over 1 MiB",
        422: "`invalid_request` (the body, or the `Idempotency-Key`), `invalid_facts` or "
             "`unknown_key` (the facts; `details.fields` names each, up to 50, and "
             "`details.more_fields` counts the rest), `no_version_in_force` (as_of is too "
             "early)",
        **_KEY_ERRORS,
    }))
    def post(self, body: dict[str, Any]):
        """Evaluate facts against the version in force at `as_of`, or against the pinned
        `version` whatever `as_of` says (the answer then says `pinned: true`); the answer is
        logged. With `Idempotency-Key`, a retry is answered the same and logged once."""
        svc = services()
        claim, earlier = _claim(svc)
        if earlier is not None:
            return earlier
        g.decision_id = new_decision_id()
        decided = svc.decisions.decide(svc.policies.current(), g.principal, body,
                                       g.decision_id)
        return _logged_answer(svc, [decided], decided.answer, claim)

    @require(*READERS)
    @blp.arguments(DecisionQuerySchema(), location="query", unknown="raise")
    @blp.response(200, DecisionListSchema)
    @blp.doc(**documented({
        422: "`invalid_request`: a bad filter, limit or cursor; `details.fields` names it"}))
    def get(self, query: dict[str, Any]):
        """The log, newest first; providers see only their own decisions."""
        principal = g.principal
        try:
            page = services().log.list(
                provider=principal.provider_id,
                restrict_provider=principal.role == "provider",
                **query,
            )
        except BadCursor as exc:
            raise InvalidRequest("invalid request: cursor",
                                 {"fields": {"cursor": [str(exc)]}}) from exc
        return {"decisions": page.items, "next_cursor": page.next_cursor}


# A decision id is a UUID: only one matches this rule, so /batch is never read as an id (its
# Allow header lists POST alone) and a path that is no id is a plain 404.
@blp.route("/<uuid:decision_id>")
class LoggedDecision(MethodView):
    @require(*READERS)
    @blp.response(200, LoggedDecisionSchema)
    @blp.doc(**documented({404: "`unknown_decision`"}))
    def get(self, decision_id: Any):
        """One logged decision; a provider may read only its own."""
        decision_id = str(decision_id)
        row = services().log.get(decision_id)
        if row is None:
            raise NotFound(f"no decision {decision_id!r}", code="unknown_decision")
        principal = g.principal
        if principal.role == "provider" and row["provider"] != principal.provider_id:
            raise Forbidden("this decision belongs to another provider")
        return row


MAX_BATCH = 1000


@blp.route("/batch", methods=["POST"])
@require(*DECIDERS)
@blp.arguments(BatchRequestSchema())
@blp.response(200, BatchResponseSchema)
@blp.doc(**_KEY_DOC)
@blp.doc(**documented({
    400: "`malformed_json`: the body is not JSON",
    413: f"`payload_too_large`: over {MAX_BATCH} decisions, or a body over 1 MiB",
    422: "`invalid_request`: `decisions` is not a list of objects, or a bad "
         "`Idempotency-Key`",
    **_KEY_ERRORS,
}))
def batch(body: dict[str, Any]):
    """Up to 1,000 decisions in one request (e.g. every rehabilitation day of a month before
    invoicing), answered in order. Each is evaluated and logged with its own decision id, all
    in one transaction; an invalid item gets its own `error` entry (with its HTTP `status`)
    and does not sink the others. The valid items are decided in one engine call
    (`engine.decide_many`), with the answers each would get alone."""
    items = body["decisions"]
    if len(items) > MAX_BATCH:
        raise PayloadTooLarge(f"{len(items)} decisions in one batch; at most {MAX_BATCH}",
                              {"decisions": len(items), "max": MAX_BATCH})
    svc = services()
    claim, earlier = _claim(svc)
    if earlier is not None:
        return earlier
    results: list[dict[str, Any] | None] = []
    valid: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(items):
        loaded, error = _loaded_item(item)
        if loaded is None:
            results.append({"index": i, **error})
        else:
            valid.append((i, loaded))
            results.append(None)
    decided: list[DecidedRequest] = []
    answers = svc.decisions.decide_many(svc.policies.current(), g.principal,
                                        [body for _, body in valid])
    for (i, _), one in zip(valid, answers, strict=True):
        if isinstance(one, DecidedRequest):
            decided.append(one)
            results[i] = {"index": i, "status": 200, "decision": one.answer}
        else:
            results[i] = {"index": i, **_item_error(one)}
    answer = {"results": results, "decided": len(decided),
              "failed": len(results) - len(decided)}
    return _logged_answer(svc, decided, answer, claim)


def _loaded_item(item: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """One batch item parsed, or its 422 ``{"status", "error"}`` as that item alone would
    have been answered."""
    try:
        return REQUEST.load(item), {}
    except ValidationError as exc:
        fields = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
        return None, {"status": 422, "error": redact({
            "code": "invalid_request",
            "message": f"invalid request: {', '.join(sorted(map(str, fields)))}",
            "details": {"fields": fields}})}
    except Exception as exc:
        return None, _item_error(exc)


def _item_error(exc: Exception) -> dict[str, Any]:
    """A refused item's ``{"status", "error"}`` as that item alone would have been answered;
    an error that is not the client's propagates (the batch is a 500)."""
    mapped = client_error(exc)
    if mapped is None:
        raise exc
    return {"status": mapped[0], "error": mapped[1]}
