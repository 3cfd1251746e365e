"""Administration: publish and activate policy bundles, and reload = publish the folder.

Every route needs a planner token. Whatever is published is validated whole first; a set
with any problem is 422 with every ``file:line`` problem and nothing changes. Activating a
bundle switches every worker on every host to it within ``BUNDLE_CHECK_SECONDS``.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from engine import PolicyError
from service.auth import require
from service.blueprints.policies import policy_summaries
from service.bundles import MAX_ID, Bundle, files_from
from service.errors import documented
from service.extensions import services
from service.masking import get_logger
from service.parsing import ApiBlueprint
from service.schemas import (
    ActivationSchema,
    BundleListSchema,
    BundleSchema,
    PublishResultSchema,
    PublishSchema,
    ReloadSchema,
)

__all__ = ["Bundles", "activate", "blp", "bundle", "reload"]

blp = ApiBlueprint("admin", __name__, url_prefix="/v1/admin", description="Administration")
_log = get_logger("service.admin")

_REFUSED = {422: "`invalid_policy`: `details.problems` lists every file:line problem; "
                 "nothing is published and the running bundle keeps serving"}


def _actor() -> str:
    return f"token:{g.principal.token_id}"


def _public(bundle: Bundle) -> dict[str, Any]:
    active = services().bundles.active()
    return {**bundle.to_dict(), "active": active is not None and active.bundle_id == bundle.id}


@blp.route("/reload", methods=["POST"])
@require("planner")
@blp.response(200, ReloadSchema)
@blp.doc(**documented(_REFUSED))
def reload():
    """Validate the policy folder on the server (`POLICIES_DIR`), publish it as a bundle and
    activate it; every worker on every host follows. A broken or empty folder is refused
    (422, every problem) and the running bundle keeps serving."""
    svc = services()
    try:
        store = svc.policies.reload(by=_actor())
    except PolicyError as exc:
        svc.metrics.count_reload("refused")
        _log.warning("reload by token %s refused: %d problem(s); the running set stays",
                    g.principal.token_id, len(exc.problems))
        raise
    svc.metrics.count_reload("reloaded")
    _log.info("policies reloaded by token %s: bundle %s", g.principal.token_id,
             svc.policies.serving)
    return {"status": "reloaded", "policies": policy_summaries(store),
            "bundle": svc.policies.status()}


@blp.route("/bundles")
class Bundles(MethodView):
    @require("planner")
    @blp.response(200, BundleListSchema)
    def get(self):
        """Published bundles, newest first, and which bundle was live when."""
        svc = services()
        return {"bundles": [_public(b) for b in svc.bundles.list()],
                "activations": [a.to_dict() for a in svc.bundles.activations()]}

    @require("planner")
    @blp.arguments(PublishSchema())
    @blp.response(201, PublishResultSchema)
    @blp.doc(**documented(_REFUSED))
    def post(self, body: dict[str, Any]):
        """Publish a policy set sent as files (`{"<policy>/<version>.yaml": text}`): validated
        whole, stored as an immutable bundle and, unless `activate` is false, made live."""
        svc = services()
        files, problems = files_from(body["files"], "bundle")
        if problems:
            raise PolicyError(problems)
        bundle, created = svc.bundles.publish(files, by=_actor(), note=body.get("note"),
                                              activate=body["activate"], source="api")
        if body["activate"]:
            svc.policies.follow(force=True)
        _log.info("bundle %s published by token %s", bundle.id, g.principal.token_id)
        return {"bundle": _public(bundle), "created": created,
                "serving": svc.policies.status()}


# ids past the INTEGER column's range match no route: 404, never a number the database refuses
_BUNDLE_ID = f"<int(min=1, max={MAX_ID}):bundle_id>"


@blp.route(f"/bundles/{_BUNDLE_ID}")
@require("planner")
@blp.response(200, BundleSchema)
@blp.doc(**documented({404: "`unknown_bundle`"}))
def bundle(bundle_id: int):
    """One bundle: digest, who published it and when, its note and its files."""
    return _public(services().bundles.get(bundle_id))


@blp.route(f"/bundles/{_BUNDLE_ID}/activate", methods=["POST"])
@require("planner")
@blp.response(200, ActivationSchema)
@blp.doc(**documented({404: "`unknown_bundle`"}))
def activate(bundle_id: int):
    """Make this bundle the live one everywhere: roll back to an older bundle or forward."""
    svc = services()
    activation = svc.bundles.activate(bundle_id, by=_actor())
    svc.policies.follow(force=True)
    _log.info("bundle %s activated by token %s", bundle_id, g.principal.token_id)
    return activation.to_dict()
