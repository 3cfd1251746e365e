"""``POST /v1/admin/reload``: swap in the policies on disk, or refuse with every problem."""

from __future__ import annotations

from flask import g

from engine import PolicyError
from service.auth import require
from service.blueprints.policies import policy_summaries
from service.errors import documented
from service.extensions import services
from service.masking import get_logger
from service.parsing import ApiBlueprint
from service.schemas import ReloadSchema

__all__ = ["blp"]

blp = ApiBlueprint("admin", __name__, url_prefix="/v1/admin", description="Administration")
log = get_logger("service.admin")


@blp.route("/reload", methods=["POST"])
@require("planner")
@blp.response(200, ReloadSchema)
@blp.doc(**documented({422: "`invalid_policy`: `details.problems` lists every file:line "
                            "problem; the running set keeps serving"}))
def reload():
    """Reload policies from disk atomically; a broken set is refused (422, every problem)
    and the running set keeps serving. Every worker of this host follows."""
    svc = services()
    try:
        store = svc.policies.reload()
    except PolicyError as exc:
        svc.metrics.count_reload("refused")
        log.warning("reload by token %s refused: %d problem(s); the running set stays",
                    g.principal.token_id, len(exc.problems))
        raise
    svc.metrics.count_reload("reloaded")
    log.info("policies reloaded by token %s", g.principal.token_id)
    return {"status": "reloaded", "policies": policy_summaries(store)}
