"""Decisions: evaluate and log one request; read one logged decision; page through the log.

One decision reads top to bottom: token → schema → decision id → version in force at
``as_of`` → engine → masked log row → response. Nothing here knows how rules are evaluated
or how rows are stored.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from flask import g, jsonify
from flask.views import MethodView

from engine import Decision, decide
from engine.replay import hetu_checks
from service.auth import DECIDERS, READERS, require
from service.decision_log import BadCursor, LogEntry
from service.errors import Forbidden, InvalidRequest, NotFound, documented
from service.extensions import services
from service.ids import new_decision_id
from service.masking import get_logger
from service.parsing import ApiBlueprint
from service.schemas import (
    DecisionListSchema,
    DecisionQuerySchema,
    DecisionRequestSchema,
    DecisionResponseSchema,
    LoggedDecisionSchema,
)

__all__ = ["blp"]

blp = ApiBlueprint("decisions", __name__, url_prefix="/v1/decisions",
                description="Evaluate facts against the policy in force, and the decision log")
log = get_logger("service.decisions")


@blp.route("")
class Decisions(MethodView):
    @require(*DECIDERS)
    @blp.arguments(DecisionRequestSchema())
    @blp.response(200, DecisionResponseSchema)
    @blp.doc(**documented({
        400: "`malformed_json`: the body is not JSON",
        404: "`unknown_policy`, `unknown_action`, `unknown_version` (a pinned `version`)",
        413: "`payload_too_large`: the body is over 1 MiB",
        422: "`invalid_request` (the body), `invalid_facts` or `unknown_key` (the facts; "
             "`details.fields` names each, up to 50, and `details.more_fields` counts the "
             "rest), `no_version_in_force` (as_of is too early)",
    }))
    def post(self, body: dict[str, Any]):
        """Evaluate facts against the version in force at `as_of`, or against the pinned
        `version` whatever `as_of` says (the answer then says `pinned: true`); the answer is
        logged."""
        started = time.perf_counter()
        g.decision_id = new_decision_id()
        svc = services()
        store = svc.policies.current()
        decision = decide(store, policy=body["policy"], action=body["action"],
                          as_of=body["as_of"], facts=body["facts"], lang=body["lang"],
                          explain=body["explain"], version=body.get("version"))
        answer = {"decision_id": g.decision_id, **decision.to_dict()}
        latency_ms = (time.perf_counter() - started) * 1000
        _record(decision, answer, body["facts"], decision.personal_facts, latency_ms)
        svc.metrics.count_decision(decision.policy, decision.action, decision.outcome,
                                   time.perf_counter() - started)
        # The engine's dict already has the documented shape (a test keeps the schema equal
        # to it); a marshmallow dump would only copy it on the hottest path of the service.
        return jsonify(answer)

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


@blp.route("/<string:decision_id>")
class LoggedDecision(MethodView):
    @require(*READERS)
    @blp.response(200, LoggedDecisionSchema)
    @blp.doc(**documented({404: "`unknown_decision`"}))
    def get(self, decision_id: str):
        """One logged decision; a provider may read only its own."""
        row = services().log.get(decision_id)
        if row is None:
            raise NotFound(f"no decision {decision_id!r}", code="unknown_decision")
        principal = g.principal
        if principal.role == "provider" and row["provider"] != principal.provider_id:
            raise Forbidden("this decision belongs to another provider")
        return row


def _record(decision: Decision, answer: dict[str, Any], facts: dict[str, Any],
            personal: set[str], latency_ms: float) -> None:
    """Write the log row, with personal identity codes hashed, and one log line."""
    svc = services()
    principal = g.principal
    known = svc.masker.personal_values(facts, personal)
    findings = {k: answer[k] for k in ("violations", "warnings", "notices", "obligations")}
    svc.log.record(LogEntry(
        id=g.decision_id,
        time=dt.datetime.now(dt.UTC),
        provider=principal.provider_id,
        token_id=principal.token_id,
        policy=decision.policy,
        version=decision.version,
        digest=decision.digest,
        action=decision.action,
        as_of=decision.as_of,
        lang=answer["lang"],
        facts=svc.masker.mask_facts(facts, personal),
        outcome=decision.outcome,
        fired=list(decision.fired),
        results=svc.masker.scrub_value(answer["results"], known),
        findings=svc.masker.scrub_value(findings, known),
        latency_ms=round(latency_ms, 3),
        bundle_id=decision.bundle,
        pinned=decision.pinned,
        hetu_checks=hetu_checks(facts, personal),
    ))
    log.info("decision %s %s/%s@%s%s %s by %s in %.2f ms", g.decision_id, decision.policy,
             decision.action, decision.version, " (pinned)" if decision.pinned else "",
             decision.outcome, principal.token_id, latency_ms)
