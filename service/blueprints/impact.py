"""The impact of a draft before it goes live: ``POST /v1/policies/{policy}/impact``.

A planner sends the draft's version files; they are laid over the running set's files,
validated whole (a broken draft is 422 with every ``file:line`` problem, like publishing),
loaded into a store of their own and used to decide the logged decisions of the policy once
more (:mod:`service.replay`). Nothing is stored or activated, and the running set is never
touched. One call replays at most ``IMPACT_MAX_ROWS`` decisions: more is 422
``too_many_decisions`` with the count, so the planner narrows the window.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask.views import MethodView

from service.auth import require
from service.errors import InvalidRequest, documented
from service.extensions import services
from service.masking import get_logger
from service.parsing import ApiBlueprint
from service.replay import draft_files, draft_store, run_impact
from service.schemas import ImpactRequestSchema, ImpactSchema

__all__ = ["PolicyImpact", "blp"]

blp = ApiBlueprint("impact", __name__, url_prefix="/v1/policies",
                   description="The impact of a draft on logged decisions")
_log = get_logger("service.impact")


@blp.route("/<string:policy>/impact")
class PolicyImpact(MethodView):
    @require("planner")
    @blp.arguments(ImpactRequestSchema())
    @blp.response(200, ImpactSchema)
    @blp.doc(**documented({
        400: "`malformed_json`: the body is not JSON",
        404: "`unknown_policy` (not in the draft)",
        413: "`payload_too_large`: the body (the draft's files) is over 1 MiB",
        422: "`invalid_policy`: `details.problems` lists every file:line problem of the "
             "draft, nothing is replayed; `too_many_decisions`: more than `IMPACT_MAX_ROWS` "
             "match, narrow since/until or action, or pass limit; `invalid_request`",
    }))
    def post(self, body: dict[str, Any], policy: str):
        """Replay the logged decisions of `policy` under a draft (`files` laid over the running
        set's), by date or pinned to `version`: how many are unchanged, allow→deny,
        deny→allow or otherwise changed, per rule, with examples; those the draft cannot
        judge are listed with the reason. Nothing is published."""
        svc = services()
        running = svc.policies.current().current.files
        files = draft_files(running, body["files"])
        window = {k: body.get(k) for k in ("since", "until", "action")}
        most = int(current_app.config["IMPACT_MAX_ROWS"])
        count = svc.log.count(policy=policy, **window)
        rows = min(count, body["limit"]) if body.get("limit") else count
        if rows > most:
            raise InvalidRequest(
                f"{count} logged decisions of {policy} match; one call replays at most {most}: "
                "narrow since/until or action, or pass limit",
                {"decisions": count, "max_rows": most,
                 "fields": {"limit": [f"at most {most} per call"]}},
                code="too_many_decisions")
        store = draft_store(files, policy)
        try:
            report = run_impact(svc.log, store, policy, version=body.get("version"),
                                limit=body.get("limit"), examples=body["examples"],
                                lang=body.get("lang"), **window)
        finally:
            store.close()
        report["draft"] = {"digest": files.digest, "files": sorted(body["files"])}
        _log.info("impact of a draft on %s by token %s: %d read, %d changed", policy,
                 g.principal.token_id, report["read"], report["changed"]["total"])
        return report
